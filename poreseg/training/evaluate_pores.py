"""Pore evaluation without human labels: a synthetic benchmark, stability and the real-photo checks.

    python -m poreseg eval psnet [--data DIR]

Synthetic benchmark: 256 px skin patches of the held-out mste photos (``pore_sources(..., "test")``) whose
scale comes from the eye distance, at their native scale, their own pores removed
(``synth.pore_free_base``) and realistic pores rendered in with a fixed seed (``synth.render_pores``),
so the ground truth is complete and exact. Every method is
scored on the same patches by pixel Dice and object-level precision, recall and F1, summed over all
patches (``pore_scoring``).

Stability: on every held-out photo each method segments the parsed pore region of the photo and of its
horizontally flipped (then flipped back), 20% brighter, 20% darker and JPEG-70 copies, with the region and
the pore scale of the original; the table gives the Dice between the original's mask and each copy's,
averaged per Monk skin-tone level and over all photos.

Real-photo checks (``pore_checks``): false detections on structures that are not pores, pore density
across the ``cc0_lisa/zoom`` distances, agreement of the two methods' scores, resolution survival; and a
sheet of 1:1 crops with both methods' pores (``test-output/pore_checks_sheet.png``).
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

from poreseg.pores.dog import band_maps, equivalent_diameter
from poreseg.pores.synth import SynthSample, jpeg_copy
from poreseg.training import datasets, pore_checks
from poreseg.training.pore_patches import FaceSkin, face_skin
from poreseg.training.pore_scoring import (PLAIN_DOG_LABEL, REAL_PORE_FACTS, SYNTH_PATCH_PX, SYNTH_PATCHES, SYNTH_SEED,
                                           DetectionScore, PoreMethod, dog_method, mask_dice, net_method,
                                           plain_dog_method, synthetic_benchmark, synthetic_samples)
from poreseg.training.pore_variants import DOG_LABEL, PSNET_LABEL, VARIANTS, trained_nets

SHIPPED_LABELS = (DOG_LABEL, PSNET_LABEL)  # their stability per Monk level in full, and the real-photo checks
BRIGHTNESS_CHANGE = 0.2
STABILITY_JPEG_QUALITY = 70


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


def _brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


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

    def level_means(self) -> dict[str, float]:
        """Mean Dice per known Monk level ("Monk N")."""
        return {name: row["mean"] for name, row in self.rows().items() if name.startswith("Monk")}

    def worst_level_gap(self) -> float:
        """How far the worst known Monk level's mean Dice lies below the best one's."""
        means = self.level_means().values()
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


@dataclass(frozen=True)
class BenchmarkFacts:
    """The rendered ground truth measured as the hand-marked real pores were (REAL_PORE_FACTS)."""

    median_diameter: float  # equivalent diameter over the expected one
    diameter_range: tuple[float, float]  # its 10th and 90th percentiles
    skin_per_pore: float  # patch area per pore, in median diameters squared (density, scale-free)
    pore_share: float  # share of the patches' pixels in a pore
    reaching_z3: float
    darker_4pc: float
    unmarked_z99: float

    def rows(self) -> list[tuple[str, str, str]]:
        measured = {"median diameter / expected": f"{self.median_diameter:.2f}",
                    "10th-90th percentile diameter / expected": "{:.2f}-{:.2f}".format(*self.diameter_range),
                    "skin per pore / median diameter squared": f"{self.skin_per_pore:.2f}",
                    "pore share of the skin": f"{self.pore_share:.3f}",
                    "share reaching z >= 3": f"{self.reaching_z3:.2f}",
                    "share 4% darker than the skin": f"{self.darker_4pc:.2f}",
                    "unmarked skin, 99th percentile z": f"{self.unmarked_z99:.2f}"}
        real = {name: ("{:.2f}-{:.2f}".format(*value) if isinstance(value, tuple) else f"{value:.3f}" if value < 0.1 else f"{value:.2f}")
                for name, value in REAL_PORE_FACTS.items()}
        return [(name, measured[name], real[name]) for name in REAL_PORE_FACTS]


def benchmark_facts(samples: list[SynthSample]) -> BenchmarkFacts:
    """The rendered ground truth's measures (BenchmarkFacts), each pore measured as DoGPore's maps see it."""
    per_pore: dict[str, list[np.ndarray]] = {"diameter_px": [], "diameter": [], "z_peak": [], "darkest": []}
    unmarked = []  # z of skin well away from every rendered pore
    for sample in samples:
        count, components = cv2.connectedComponents(sample.mask.astype(np.uint8), connectivity=8)
        if count <= 1:
            continue
        maps = band_maps(sample.rgb, np.ones(sample.mask.shape, bool), sample.pore_px)
        ids = components[sample.mask]
        diameter_px = equivalent_diameter(np.bincount(ids, minlength=count)[1:])
        per_pore["diameter_px"].append(diameter_px)
        per_pore["diameter"].append(diameter_px / sample.pore_px)
        for values, name in ((maps.z, "z_peak"), (maps.darkening, "darkest")):
            peak = np.full(count, -np.inf)
            np.maximum.at(peak, ids, values[sample.mask])
            per_pore[name].append(peak[1:])
        far = ~cv2.dilate(sample.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        unmarked.append(maps.z[far])
    pores = {name: np.concatenate(values) for name, values in per_pore.items()}
    pixels = sum(sample.mask.size for sample in samples)
    pore_pixels = sum(int(sample.mask.sum()) for sample in samples)
    return BenchmarkFacts(float(np.median(pores["diameter"])),
                          tuple(float(v) for v in np.percentile(pores["diameter"], (10, 90))),
                          float(pixels / len(pores["diameter_px"]) / np.median(pores["diameter_px"]) ** 2),
                          pore_pixels / pixels, float(np.mean(pores["z_peak"] >= 3)),
                          float(np.mean(pores["darkest"] >= 0.04)), float(np.percentile(np.concatenate(unmarked), 99)))


@dataclass
class PoreEvaluation:
    synthetic: dict[str, DetectionScore]  # by method label
    stability: dict[str, StabilityTable]  # by method label: DoGPore and every network
    patches: int
    patch_photos: int  # held-out photos the synthetic patches come from
    facts: BenchmarkFacts
    real_checks: pore_checks.RealChecks  # the label-free checks on real photos

    def markdown(self) -> str:
        lines = [f"Synthetic benchmark: {self.patches} patches of {SYNTH_PATCH_PX} px from {self.patch_photos} "
                 f"held-out mste photos, pores rendered with seed {SYNTH_SEED}. Its ground truth against the "
                 "hand-marked pores of a real close-up:", "| measure | rendered | hand-marked |", "|---|---|---|"]
        lines += [f"| {name} | {rendered} | {real} |" for name, rendered, real in self.facts.rows()]
        lines += ["", "| method | pixel Dice | object precision | object recall | object F1 |", "|---|---|---|---|---|"]
        for name, score in self.synthetic.items():
            lines.append(f"| {name} | {score.dice:.3f} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} |")
        lines += ["", "Stability on real photos of every method (ablations included): mean Dice against the original",
                  "| method | overall | worst Monk level | best minus worst level |", "|---|---|---|---|"]
        for name, table in self.stability.items():
            levels = table.level_means()
            worst = min(levels, key=levels.get)
            lines.append(f"| {name} | {table.overall():.3f} | {worst} ({levels[worst]:.3f}) | "
                         f"{table.worst_level_gap():.3f} |")
        for name, table in self.stability.items():
            if name not in SHIPPED_LABELS:
                continue
            copies = [copy for copy, *_ in PHOTO_COPIES]
            lines += ["", f"Stability on real photos, {name}: Dice of the pore mask against the original's",
                      "| Monk level | photos | " + " | ".join(copies) + " | mean |",
                      "|---" * (len(copies) + 3) + "|"]
            for level, row in table.rows().items():
                lines.append(f"| {level} | {int(row['photos'])} | "
                             + " | ".join(f"{row[c]:.3f}" for c in copies) + f" | {row['mean']:.3f} |")
        return "\n".join(lines) + "\n\n" + self.real_checks.markdown()


def evaluate(data_dir: Path, nets: dict[str, torch.nn.Module] | None = None, patches: int = SYNTH_PATCHES,
             log: Callable[[str], None] = lambda message: None) -> PoreEvaluation:
    """``nets`` by variant name (default: the trained weights that exist). Stability is measured for
    DoGPore and every network; the checks of pore_checks for DoGPore and the full PS-Net only."""
    nets = trained_nets() if nets is None else nets
    labels = {variant.name: variant.label for variant in VARIANTS}
    methods: dict[str, PoreMethod] = {PLAIN_DOG_LABEL: plain_dog_method, DOG_LABEL: dog_method}
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
    shipped = {name: methods[name] for name in SHIPPED_LABELS if name in methods}
    # Every network, so that each of PS-Net's ideas is measured on real photos too, not on rendered pores alone.
    tables = {name: stability(photos, method) for name, method in methods.items() if name != PLAIN_DOG_LABEL}
    log("stability done")
    real_checks = pore_checks.report(data_dir, shipped, log)
    return PoreEvaluation(synthetic, tables, len(samples), len(skins), benchmark_facts(samples), real_checks)


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
    nets = trained_nets(paths)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    print(evaluate(args.data, nets, log=log).markdown())
    if "psnet" in nets:
        sheet = {DOG_LABEL: dog_method, PSNET_LABEL: net_method(nets["psnet"])}
        log(f"crop sheet: {pore_checks.write_crop_sheet(args.data, sheet, pore_checks.DEFAULT_SHEET)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
