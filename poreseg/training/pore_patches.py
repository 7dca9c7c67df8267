"""Build the PS-Net training cache ``cache/pores/`` (gitignored) from the training pore sources.

    python -m poreseg.training.pore_patches --data ../shared/data [--out cache/pores]

For every training photo: face parsing, portrait and pore region (``analysis.find_face``, as the app) -> pore
scale (mm per pixel from the eye distance, else estimated from the skin itself) -> DoGPore -> coarse labels,
with the parsed parts that hold no pores (brows, eyes and lashes, lips, mouth, hair, occluders) as confident negatives. One ``KEY.npz`` per
photo holds the bounding box of the region (RGB, coarse labels, region) and the expected pore diameter in
pixels; training cuts random patches out of it on the fly. Photos already in the cache are skipped, so an
interrupted run resumes, unless the code or weights that made their labels have changed since (the
``labeller`` fingerprint stored with each entry).
"""
from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from poreseg import analysis as analysis_module
from poreseg import face as face_module
from poreseg import inference as inference_module
from poreseg import parsing as parsing_module
from poreseg import portrait as portrait_module
from poreseg import skin as skin_module
from poreseg import zones as zones_module
from poreseg.analysis import AnalysisError, find_face
from poreseg.classes import BROW, EYE, HAIR, LIPS, MOUTH, OCCLUDER, STRUCTURE
from poreseg.pores import dog, scale
from poreseg.pores.dog import coarse_labels, disc, dog_pores
from poreseg.training import datasets
from poreseg.weights import WEIGHTS_DIR

DEFAULT_CACHE = Path("cache/pores")
# What makes the cached regions, scales and coarse labels: the analysis's first stages (analysis.find_face:
# the face parser and the portrait network, their code and the graphs the runtime runs, the face's
# geometry), DoGPore and this file. A change to any other file (PS-Net's inference, say) leaves the cache
# valid.
LABELLER_FILES = (Path(__file__), Path(analysis_module.__file__), Path(inference_module.__file__),
                  Path(parsing_module.__file__), WEIGHTS_DIR / "face_parser.onnx", Path(portrait_module.__file__),
                  WEIGHTS_DIR / "portrait.onnx", Path(face_module.__file__), Path(skin_module.__file__),
                  Path(zones_module.__file__), Path(scale.__file__), Path(dog.__file__))


def labeller_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in LABELLER_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# Parsed parts no person would call a pore: brow hairs, the eyes and their lashes, lips, the inside of the
# mouth, head and facial hair, occluders (glasses frames, hands). The pore region keeps skin.MARGIN_MM from
# them, so without these labels PS-Net never saw a hair as anything but unlabelled, and it found brows,
# lashes and stray hairs at 70% of its rate on skin (structures benchmark).
NEVER_PORE_PARTS = (BROW, EYE, LIPS, MOUTH, HAIR, OCCLUDER)
# Lashes reach past the parsed eye by about this much (the rest of the margin band stays unlabelled).
LASH_REACH_MM = 1.5


@dataclass(frozen=True)
class FaceSkin:
    """Where and at what scale the pores of a photo are analysed, as the app does it (``analysis.find_face``)."""

    region: np.ndarray  # HxW bool
    pore_px: float
    mm_per_px: float | None
    parts: np.ndarray  # HxW uint8: the face parser's classes (poreseg.classes)


def face_skin(rgb: np.ndarray) -> FaceSkin | None:
    """The pore region and scale of the photo's largest face, as ``analyze`` finds them (``find_face``);
    None without a face or a region."""
    try:
        parsing, _, face = find_face(rgb)
    except AnalysisError:
        return None
    if not face.region.any():
        return None
    return FaceSkin(face.region, face.pore_px, face.mm_per_px, parsing.labels)


def never_pore_parts(parts: np.ndarray, region: np.ndarray, mm_per_px: float) -> np.ndarray:
    """HxW bool: the pixels of NEVER_PORE_PARTS outside the pore region, the eyes grown by LASH_REACH_MM."""
    never = np.isin(parts, NEVER_PORE_PARTS)
    eyes = cv2.dilate((parts == EYE).astype(np.uint8), disc(2 * LASH_REACH_MM / mm_per_px + 1)).astype(bool)
    return (never | eyes) & ~region


@dataclass(frozen=True)
class PorePhoto:
    """A training photo cut to the bounding box of its pore region."""

    key: str
    rgb: np.ndarray  # HxWx3 uint8
    labels: np.ndarray  # HxW uint8: 1 pore, 0 skin without pore, FAINT, STRUCTURE, IGNORE (poreseg.classes)
    region: np.ndarray  # HxW bool
    pore_px: float


def cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.npz"


def save_photo(path: Path, photo: PorePhoto) -> None:
    """Stores ``photo`` as made by the current labeller."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".tmp"), "wb") as f:  # np.savez would append .npz to a .tmp name
        np.savez_compressed(f, key=photo.key, rgb=photo.rgb, labels=photo.labels, region=photo.region,
                            pore_px=photo.pore_px, labeller=labeller_fingerprint())
    path.with_suffix(".tmp").replace(path)


def is_current(path: Path) -> bool:
    """Whether the cache entry exists and was made by the current labeller."""
    if not path.exists():
        return False
    with np.load(path) as data:
        return "labeller" in data.files and str(data["labeller"]) == labeller_fingerprint()


def load_photo(path: Path) -> PorePhoto:
    with np.load(path) as data:
        return PorePhoto(str(data["key"]), data["rgb"], data["labels"], data["region"], float(data["pore_px"]))


def load_cache(cache_dir: Path) -> list[PorePhoto]:
    """Every photo of the cache; an entry made by other labelling code or weights is refused."""
    paths = sorted(cache_dir.rglob("*.npz"))
    stale = [path for path in paths if not is_current(path)]
    if stale:
        raise SystemExit(f"{len(stale)} photos of {cache_dir} were labelled by other code or weights "
                         f"(e.g. {stale[0]}); run python -m poreseg.training.pore_patches again")
    return [load_photo(path) for path in paths]


def bounding_box(region: np.ndarray, pad: int) -> tuple[slice, slice]:
    ys, xs = np.nonzero(region)
    h, w = region.shape
    return (slice(max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)),
            slice(max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)))


def build_photo(source: datasets.PoreSource) -> PorePhoto | None:
    """The cache entry of one photo, or None without a face, a pore region or an eye pair. Coarse labels
    are only as good as their scale: the estimate from the skin is for close-ups without a face, and on
    faces turned too far to show both eyes it is not reliable enough to learn from."""
    rgb = datasets.read_rgb(source.image)
    skin = face_skin(rgb)
    if skin is None or skin.mm_per_px is None:
        return None
    result = dog_pores(rgb, skin.region, skin.pore_px)
    labels = coarse_labels(result, skin.region)
    labels[never_pore_parts(skin.parts, skin.region, skin.mm_per_px)] = STRUCTURE
    # A margin of context keeps the patches at the region's edge from running into the border.
    box = bounding_box(skin.region, pad=int(np.ceil(2 * skin.pore_px)))
    return PorePhoto(source.key, np.ascontiguousarray(rgb[box]), np.ascontiguousarray(labels[box]),
                     np.ascontiguousarray(skin.region[box]), skin.pore_px)


def build_cache(data_dir: Path, cache_dir: Path) -> None:
    sources = datasets.pore_sources(data_dir, "train")
    started = time.time()
    for i, source in enumerate(sources, 1):
        path = cache_path(cache_dir, source.key)
        if is_current(path):
            continue
        photo = build_photo(source)
        if photo is None:
            path.unlink(missing_ok=True)  # an older labeller may have found what this one does not
            print(f"[{i}/{len(sources)}] {source.key}: no face, pore region or eye pair, skipped", flush=True)
            continue
        save_photo(path, photo)
        labelled = photo.labels != 255
        print(f"[{i}/{len(sources)}] {source.key}: region {photo.region.sum() / 1e6:.2f} Mpx, pore "
              f"{photo.pore_px:.1f} px, {labelled.mean():.0%} labelled, {(photo.labels == 1).sum() / max(labelled.sum(), 1):.1%}"
              f" of them pore, {time.time() - started:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg.training.pore_patches", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    build_cache(args.data, args.out)


if __name__ == "__main__":
    main()
