"""Pore evaluation without human labels: a synthetic benchmark and stability on real photos.

    python -m poreseg eval psnet [--data DIR]

Synthetic benchmark: 256 px skin patches of the held-out mste photos (``pore_sources(..., "test")``) whose
scale comes from the eye distance, at their native scale, their own pores removed
(``synth.pore_free_base``) and realistic pores rendered in with a fixed seed (``synth.render_pores``),
so the ground truth is complete and exact. Every method is
scored on the same patches by pixel Dice and object-level precision, recall and F1, summed over all
patches. Object matching: each predicted connected component (8-connected) is reduced to its centroid;
centroids and ground-truth pore centres are paired one to one, nearest pairs first, when they are at
most ``max(2 px, 0.75 x the patch's pore diameter)`` apart. A matched ground-truth pore is found (a true
positive), an unmatched one is missed, an unmatched component is a false detection.

Stability: on every held-out photo each method segments the parsed pore region of the photo and of its
horizontally flipped (then flipped back), 20% brighter, 20% darker and JPEG-70 copies, with the region and
the pore scale of the original; the table gives the Dice between the original's mask and each copy's,
averaged per Monk skin-tone level and over all photos.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from poreseg.models.psnet_net import PlainUNet, PSNet
from poreseg.pores.dog import dog_pores
from poreseg.pores.segment import PoreSegmenter
from poreseg.pores.synth import SynthSample, pore_free_base, render_pores
from poreseg.training import datasets
from poreseg.training.pore_patches import FaceSkin, face_skin
from poreseg.weights import load_state

SYNTH_PATCHES = 200
SYNTH_PATCH_PX = 256
SYNTH_MIN_REGION_COVER = 0.9
SYNTH_SEED = 200
MATCH_RADIUS_PORES = 0.75  # of the pore diameter
MATCH_RADIUS_MIN_PX = 2.0
BRIGHTNESS_CHANGE = 0.2
STABILITY_JPEG_QUALITY = 70


@dataclass(frozen=True)
class Variant:
    """A trained network of the ablation study."""

    name: str
    label: str  # row name in the evaluation tables
    arch: str  # "psnet" or "unet"
    high_frequency_attention: bool = True
    bayesian: bool = True
    progressive: bool = True
    # "coarse": DoGPore's coarse labels (``train psnet``); "synthetic": the renderer's exact masks
    # (``synthetic_ceiling``), an upper bound for the benchmark, never shipped.
    labels: str = "coarse"

    @property
    def default_out(self) -> Path:
        return Path("weights/psnet.pt") if self.name == "psnet" else Path(f"checkpoints/psnet_{self.name}.pt")

    @property
    def default_checkpoint(self) -> Path:
        return Path("checkpoints/psnet.ckpt") if self.name == "psnet" else Path(f"checkpoints/psnet_{self.name}.ckpt")


VARIANTS = (
    Variant("unet", "plain U-Net", "unet", progressive=False),
    Variant("psnet", "PS-Net", "psnet"),
    Variant("no_hfa", "PS-Net w/o high-frequency attention", "psnet", high_frequency_attention=False),
    Variant("no_bayes", "PS-Net w/o Bayesian module", "psnet", bayesian=False),
    Variant("no_progressive", "PS-Net w/o progressive labels", "psnet", progressive=False),
    Variant("synthetic", "PS-Net on exact synthetic labels (upper bound)", "psnet", progressive=False,
            labels="synthetic"),
)
DOG_LABEL = "DoGPore"
PSNET_LABEL = next(variant.label for variant in VARIANTS if variant.name == "psnet")


def build_net(variant: Variant) -> torch.nn.Module:
    if variant.arch == "unet":
        return PlainUNet()
    return PSNet(high_frequency_attention=variant.high_frequency_attention, bayesian=variant.bayesian)


# A method segments the pores of ``rgb`` inside ``region`` given the expected pore diameter in pixels.
PoreMethod = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class DetectionScore:
    dice: float
    precision: float
    recall: float
    f1: float


@dataclass
class DetectionCounts:
    """Pixel and object counts summed over patches."""

    overlap_px: int = 0
    predicted_px: int = 0
    true_px: int = 0
    found: int = 0  # ground-truth pores matched by a predicted component
    predicted_objects: int = 0
    true_objects: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray, centres: np.ndarray, pore_px: float) -> None:
        self.overlap_px += int((predicted & truth).sum())
        self.predicted_px += int(predicted.sum())
        self.true_px += int(truth.sum())
        centroids = component_centroids(predicted)
        self.found += matched_pairs(centroids, centres, match_radius(pore_px))
        self.predicted_objects += len(centroids)
        self.true_objects += len(centres)

    def score(self) -> DetectionScore:
        precision = self.found / max(self.predicted_objects, 1)
        recall = self.found / max(self.true_objects, 1)
        return DetectionScore(dice=2 * self.overlap_px / max(self.predicted_px + self.true_px, 1),
                              precision=precision, recall=recall,
                              f1=2 * precision * recall / max(precision + recall, 1e-12))


def match_radius(pore_px: float) -> float:
    return max(MATCH_RADIUS_MIN_PX, MATCH_RADIUS_PORES * pore_px)


def component_centroids(mask: np.ndarray) -> np.ndarray:
    """(K, 2) float x, y centroids of the 8-connected components of a boolean mask."""
    count, _, _, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return centroids[1:count].astype(np.float64)


def matched_pairs(predicted: np.ndarray, truth: np.ndarray, radius: float) -> int:
    """One-to-one pairs of points (x, y rows) within ``radius``, taken nearest first."""
    if len(predicted) == 0 or len(truth) == 0:
        return 0
    distance = np.linalg.norm(predicted[:, None, :] - np.asarray(truth, np.float64)[None, :, :], axis=-1)
    candidates = np.argwhere(distance <= radius)
    order = np.argsort(distance[candidates[:, 0], candidates[:, 1]], kind="stable")
    used_predicted, used_truth = set(), set()
    for p, t in candidates[order]:
        if p not in used_predicted and t not in used_truth:
            used_predicted.add(p)
            used_truth.add(t)
    return len(used_truth)


def mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks; 1 when both are empty (they agree)."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2 * int((a & b).sum()) / total


@dataclass(frozen=True)
class HeldOutPhoto:
    source: datasets.PoreSource
    rgb: np.ndarray
    skin: FaceSkin


def held_out_photos(data_dir: Path) -> list[HeldOutPhoto]:
    """The held-out photos in which a face and a pore region were found."""
    photos = []
    for source in datasets.pore_sources(data_dir, "test"):
        rgb = datasets.read_rgb(source.image)
        skin = face_skin(rgb)
        if skin is not None:
            photos.append(HeldOutPhoto(source, rgb, skin))
    return photos


def synthetic_samples(skins: list[tuple[np.ndarray, np.ndarray, float]], count: int = SYNTH_PATCHES,
                      size: int = SYNTH_PATCH_PX, seed: int = SYNTH_SEED) -> list[SynthSample]:
    """``count`` rendered patches, spread evenly over ``skins`` (rgb, region, pore_px), from windows (on a
    quarter-patch grid) that lie at least ``SYNTH_MIN_REGION_COVER`` inside the region."""
    rng = np.random.default_rng(seed)
    per_photo = -(-count // max(len(skins), 1))
    samples = []
    for rgb, region, pore_px in skins:
        cover = cv2.boxFilter(region.astype(np.float32), -1, (size, size), borderType=cv2.BORDER_CONSTANT)
        half, step = size // 2, size // 4
        grid = cover[half:region.shape[0] - half + 1:step, half:region.shape[1] - half + 1:step]
        ys, xs = np.nonzero(grid >= SYNTH_MIN_REGION_COVER)
        for i in rng.permutation(len(ys))[:per_photo]:
            y0, x0 = ys[i] * step, xs[i] * step
            samples.append(render_pores(pore_free_base(rgb[y0:y0 + size, x0:x0 + size], pore_px), rng, pore_px))
    return samples[:count]


def synthetic_benchmark(samples: list[SynthSample], methods: dict[str, PoreMethod]) -> dict[str, DetectionScore]:
    scores = {}
    for name, method in methods.items():
        counts = DetectionCounts()
        for sample in samples:
            whole = np.ones(sample.mask.shape, bool)
            counts.add(method(sample.rgb, whole, sample.pore_px), sample.mask, sample.centres, sample.pore_px)
        scores[name] = counts.score()
    return scores


def _brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def jpeg_copy(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` (uint8 RGB) after a JPEG round trip at ``quality``."""
    _, encoded = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])


# Photo copies: (name, rgb change, region change = mask back-transform), all their own inverses.
PHOTO_COPIES: tuple[tuple[str, Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]], ...] = (
    ("flip", lambda rgb: np.ascontiguousarray(rgb[:, ::-1]), lambda mask: np.ascontiguousarray(mask[:, ::-1])),
    ("+20% light", lambda rgb: _brightness(rgb, 1 + BRIGHTNESS_CHANGE), lambda mask: mask),
    ("-20% light", lambda rgb: _brightness(rgb, 1 - BRIGHTNESS_CHANGE), lambda mask: mask),
    (f"JPEG {STABILITY_JPEG_QUALITY}", lambda rgb: jpeg_copy(rgb, STABILITY_JPEG_QUALITY), lambda mask: mask),
)


@dataclass
class StabilityTable:
    """Per photo: Monk level and the Dice of each copy against the original."""

    levels: list[int | None] = field(default_factory=list)
    dice: list[dict[str, float]] = field(default_factory=list)

    def rows(self) -> dict[str, dict[str, float]]:
        """Mean Dice per copy and over copies, per Monk level (ascending, unknown last) and overall."""
        groups: dict[int | None, list[int]] = {}
        for i, level in enumerate(self.levels):
            groups.setdefault(level, []).append(i)
        rows = {("unknown" if level is None else f"Monk {level}"): self._mean(groups[level])
                for level in sorted(groups, key=lambda level: (level is None, level or 0))}
        rows["overall"] = self._mean(list(range(len(self.dice))))
        return rows

    def _mean(self, indices: list[int]) -> dict[str, float]:
        row = {"photos": float(len(indices))}
        for name, *_ in PHOTO_COPIES:
            row[name] = float(np.mean([self.dice[i][name] for i in indices]))
        row["mean"] = float(np.mean([row[name] for name, *_ in PHOTO_COPIES]))
        return row

    def overall(self) -> float:
        return self.rows()["overall"]["mean"]

    def worst_level_gap(self) -> float:
        """How far the worst known Monk level's mean Dice lies below the best one's."""
        means = [row["mean"] for name, row in self.rows().items() if name.startswith("Monk")]
        return max(means) - min(means) if means else 0.0


def stability(photos: list[HeldOutPhoto], method: PoreMethod) -> StabilityTable:
    table = StabilityTable()
    for photo in photos:
        region, pore_px = photo.skin.region, photo.skin.pore_px
        original = method(photo.rgb, region, pore_px)
        dice = {}
        for name, change, restore in PHOTO_COPIES:
            copy_mask = restore(method(change(photo.rgb), restore(region), pore_px))
            dice[name] = mask_dice(original & region, copy_mask & region)
        table.levels.append(photo.source.monk_skin_tone)
        table.dice.append(dice)
    return table


def dog_method(rgb: np.ndarray, region: np.ndarray, pore_px: float) -> np.ndarray:
    return dog_pores(rgb, region, pore_px).mask


def net_method(net: torch.nn.Module) -> PoreMethod:
    segmenter = PoreSegmenter.from_net(net)
    return lambda rgb, region, pore_px: segmenter(rgb, region, pore_px).mask


def trained_nets(paths: dict[str, Path] | None = None, exclude: tuple[str, ...] = ()) -> dict[str, torch.nn.Module]:
    """The networks of ``VARIANTS`` but ``exclude`` (variant names) whose weights exist, from their
    default paths or ``paths`` by variant name."""
    nets = {}
    for variant in VARIANTS:
        path = (paths or {}).get(variant.name, variant.default_out)
        if variant.name not in exclude and path.exists():
            net = build_net(variant)
            net.load_state_dict(load_state("psnet", path))
            nets[variant.name] = net.eval()
    return nets


@dataclass
class PoreEvaluation:
    synthetic: dict[str, DetectionScore]  # by method label
    stability: dict[str, StabilityTable]  # by method label
    patches: int
    patch_photos: int  # held-out photos the synthetic patches come from

    def markdown(self) -> str:
        lines = [f"Synthetic benchmark: {self.patches} patches of {SYNTH_PATCH_PX} px from {self.patch_photos} "
                 f"held-out mste photos, pores rendered with seed {SYNTH_SEED}",
                 "| method | pixel Dice | object precision | object recall | object F1 |", "|---|---|---|---|---|"]
        for name, score in self.synthetic.items():
            lines.append(f"| {name} | {score.dice:.3f} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} |")
        for name, table in self.stability.items():
            copies = [copy for copy, *_ in PHOTO_COPIES]
            lines += ["", f"Stability on real photos, {name}: Dice of the pore mask against the original's",
                      "| Monk level | photos | " + " | ".join(copies) + " | mean |",
                      "|---" * (len(copies) + 3) + "|"]
            for level, row in table.rows().items():
                lines.append(f"| {level} | {int(row['photos'])} | "
                             + " | ".join(f"{row[c]:.3f}" for c in copies) + f" | {row['mean']:.3f} |")
        return "\n".join(lines)


def evaluate(data_dir: Path, nets: dict[str, torch.nn.Module] | None = None, patches: int = SYNTH_PATCHES,
             log: Callable[[str], None] = lambda message: None) -> PoreEvaluation:
    """``nets`` by variant name (default: the trained weights that exist). Stability is measured for
    DoGPore and the full PS-Net only."""
    nets = trained_nets() if nets is None else nets
    labels = {variant.name: variant.label for variant in VARIANTS}
    methods: dict[str, PoreMethod] = {DOG_LABEL: dog_method}
    methods.update({labels[name]: net_method(net) for name, net in nets.items()})
    photos = held_out_photos(data_dir)
    log(f"{len(photos)} held-out photos parsed")
    # Only faces whose scale comes from the eye distance: an estimated scale would render pores of a size
    # the photo's own texture does not have.
    skins = [(p.rgb, p.skin.region, p.skin.pore_px) for p in photos if p.skin.mm_per_px is not None]
    samples = synthetic_samples(skins, patches)
    log(f"{len(samples)} synthetic patches rendered")
    synthetic = synthetic_benchmark(samples, methods)
    log("synthetic benchmark done")
    stable_methods = [name for name in (DOG_LABEL, PSNET_LABEL) if name in methods]
    tables = {name: stability(photos, methods[name]) for name in stable_methods}
    return PoreEvaluation(synthetic, tables, len(samples), len(skins))


def report(data_dir: Path, nets: dict[str, torch.nn.Module] | None = None) -> str:
    """Markdown tables of ``python -m poreseg eval psnet``."""
    return evaluate(data_dir, nets).markdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m poreseg.training.evaluate_pores", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--threads", type=int, default=2)
    for variant in VARIANTS:
        parser.add_argument(f"--{variant.name.replace('_', '-')}", type=Path, default=variant.default_out,
                            dest=variant.name, help=f"weights of {variant.label} (default {variant.default_out})")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = {variant.name: getattr(args, variant.name) for variant in VARIANTS}
    print(evaluate(args.data, trained_nets(paths), log=lambda m: print(m, file=sys.stderr, flush=True)).markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
