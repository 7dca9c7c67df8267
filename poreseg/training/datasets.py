"""Catalogue of the face data in ``../shared/data`` that training and evaluation read.

Only paths and human labels live here; nothing is copied out of the data folder. This module
imports nothing beyond the standard library, numpy and Pillow so that the MediaPipe teacher
environment (numpy<2, no torch) can use it too.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_DATA_DIR = Path(os.environ.get("PORESEG_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))

# FASSEG v3 subjects whose every pose is kept out of training and reported separately.
FASSEG_V3_HELD_OUT_SUBJECTS = ("personne07",)
HUMAN_SEG_FIRST_TEST_ID = 233
# Share of each Monk skin-tone level of mste held out for the pore evaluation (at least one image a level).
MSTE_TEST_SHARE = 0.2


@dataclass(frozen=True)
class Sample:
    """One image of the data folder and where its human labels are, if any."""

    key: str  # unique, filesystem-safe id, e.g. "fasseg_v2_train/1"
    image: Path
    fasseg_labels: Path | None = None  # FASSEG class ids (0 bg, 1 skin, 2 hair+brows, 3 eyes, 4 nose, 5 mouth)
    hair_mask: Path | None = None  # 255 = hair (Celeb1k)
    facemask_labels: Path | None = None  # 0 bg, 1 face, 2 surgical mask (MaskedFace)
    person_mask: Path | None = None  # nonzero = person (human_seg)

    @property
    def has_human_labels(self) -> bool:
        return any(p is not None for p in (self.fasseg_labels, self.hair_mask, self.facemask_labels, self.person_mask))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def fasseg(data_dir: Path, split: str) -> list[Sample]:
    """``split``: "v2_train", "v2_test", "v3_train" (all subjects), "v3_fit" or "v3_held_out"."""
    folder = "v3_train" if split.startswith("v3") else split
    root = data_dir / "fasseg" / folder
    samples = []
    for image in sorted((root / "images").rglob("*.jpg")):
        rel = image.relative_to(root / "images")
        held_out = image.stem.startswith(FASSEG_V3_HELD_OUT_SUBJECTS)
        if (split == "v3_fit" and held_out) or (split == "v3_held_out" and not held_out):
            continue
        labels = root / "labels" / rel.with_suffix(".png")
        key = f"fasseg_{folder}/" + str(rel.with_suffix("")).replace("/", "_").replace("+", "p")
        samples.append(Sample(key, image, fasseg_labels=labels))
    return samples


def celeb1k(data_dir: Path, split: str) -> list[Sample]:
    root = data_dir / "celeb1k_hair" / split
    return [Sample(f"celeb1k_{split}/{p.stem}", p, hair_mask=root / "hair_masks" / f"{p.stem}.png")
            for p in _images(root / "images")]


def maskedface(data_dir: Path, split: str) -> list[Sample]:
    root = data_dir / "maskedface" / split
    return [Sample(f"maskedface_{split}/{p.stem}", p, facemask_labels=root / "labels" / f"{p.stem}.png")
            for p in _images(root / "images")]


def human_seg(data_dir: Path, split: str) -> list[Sample]:
    """``split``: "train" (ids below 233), "test" (the suggested dev test split) or "all"."""
    root = data_dir / "human_seg"
    samples = []
    for p in sorted(_images(root / "images"), key=lambda p: int(p.stem)):
        is_test = int(p.stem) >= HUMAN_SEG_FIRST_TEST_ID
        if split == "all" or (split == "test") == is_test:
            samples.append(Sample(f"human_seg/{p.stem}", p, person_mask=root / "masks" / f"{p.stem}.png"))
    return samples


def unlabelled(data_dir: Path) -> list[Sample]:
    """Portraits with no human segmentation labels: the teacher labels them alone."""
    samples = []
    for folder in ("london/neutral_front", "london/smiling_front", "cc0_lisa/lisa", "mste/images"):
        for p in _images(data_dir / folder):
            samples.append(Sample(folder.replace("/", "_") + "/" + p.stem, p))
    return samples


@dataclass(frozen=True)
class PoreSource:
    """A photo with real skin texture for the pore work."""

    key: str
    image: Path
    monk_skin_tone: int | None  # Monk level 1-10 from mste/index.csv; None where unknown or not mste


def _mste_test_files(rows: list[dict[str, str]]) -> set[str]:
    """The held-out mste files: per Monk level (unknown is a level of its own), the first ``MSTE_TEST_SHARE``
    in the order of their names' sha1, which is fixed and unrelated to content. Photos in which the data
    preparation found no face are never held out: the evaluation needs a parsed face."""
    levels: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        levels.setdefault(row["monk_skin_tone"], []).append(row)
    held_out = set()
    for level_rows in levels.values():
        ranked = sorted(level_rows, key=lambda row: hashlib.sha1(row["file"].encode()).hexdigest())
        with_face = [row["file"] for row in ranked if row["face_found"] == "True"]
        held_out.update(with_face[:max(1, round(MSTE_TEST_SHARE * len(level_rows)))])
    return held_out


def pore_sources(data_dir: Path, split: str) -> list[PoreSource]:
    """``split``: "train" (mste minus the held-out test photos, plus the cc0_lisa close-ups), "test" (the
    held-out mste photos, stratified over Monk levels) or "all". Celeb1k is never a source: its skin
    texture is super-resolved, not real."""
    with open(data_dir / "mste" / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    test_files = _mste_test_files(rows)
    sources = []
    for row in sorted(rows, key=lambda r: r["file"]):
        is_test = row["file"] in test_files
        if split == "all" or (split == "test") == is_test:
            tone = int(row["monk_skin_tone"]) if row["monk_skin_tone"] else None
            sources.append(PoreSource("mste/" + Path(row["file"]).stem, data_dir / "mste" / row["file"], tone))
    if split != "test":
        sources += [PoreSource(f"cc0_lisa_zoom/{p.stem}", p, None) for p in _images(data_dir / "cc0_lisa" / "zoom")]
    return sources


def parser_training_samples(data_dir: Path) -> list[Sample]:
    return (fasseg(data_dir, "v2_train") + fasseg(data_dir, "v3_fit") + celeb1k(data_dir, "train")
            + celeb1k(data_dir, "val") + maskedface(data_dir, "train") + human_seg(data_dir, "train")
            + unlabelled(data_dir))


def closeups(data_dir: Path) -> list[Sample]:
    """The cc0_lisa close-ups (one face at 15 to 60 cm): a person filling the frame, no labels."""
    return [Sample(f"cc0_lisa_zoom/{p.stem}", p) for p in _images(data_dir / "cc0_lisa" / "zoom")]


def mste_portraits(data_dir: Path, split: str) -> list[Sample]:
    """The mste portraits as unlabelled samples; ``split`` as in ``pore_sources`` ("train", "test", "all"),
    so the portrait evaluation holds out the same photos as the pore evaluation."""
    stems = {source.image.stem for source in pore_sources(data_dir, split) if source.key.startswith("mste/")}
    return [s for s in unlabelled(data_dir) if s.key.startswith("mste_images/") and s.image.stem in stems]


def portrait_training_samples(data_dir: Path) -> list[Sample]:
    """Every person photo the portrait segmenter trains on: the parser's training images without the held-out
    mste portraits, plus the close-ups."""
    held_out = {s.key for s in mste_portraits(data_dir, "test")}
    return [s for s in parser_training_samples(data_dir) if s.key not in held_out] + closeups(data_dir)


def all_samples(data_dir: Path) -> list[Sample]:
    """Every image the teacher is run on (training images plus the evaluation sets)."""
    keyed = {s.key: s for s in parser_training_samples(data_dir) + closeups(data_dir) + fasseg(data_dir, "v2_test")
             + fasseg(data_dir, "v3_held_out") + celeb1k(data_dir, "test") + maskedface(data_dir, "test")
             + human_seg(data_dir, "test")}
    return list(keyed.values())


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image, without decoding it."""
    with Image.open(path) as im:
        return im.height, im.width


def read_label(path: Path, size_hw: tuple[int, int]) -> np.ndarray:
    """A label image resized (nearest neighbour) to ``size_hw`` when it is smaller than its image."""
    with Image.open(path) as im:
        im = im.convert("L") if im.mode not in ("L", "P") else im
        if im.size != (size_hw[1], size_hw[0]):
            im = im.resize((size_hw[1], size_hw[0]), Image.NEAREST)
        return np.asarray(im)
