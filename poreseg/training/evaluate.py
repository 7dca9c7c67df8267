"""Evaluation tables for the parser and the portrait segmenter on the held-out data.

    python -m poreseg eval parser [--data DIR]
    python -m poreseg eval portrait [--data DIR]
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from poreseg.classes import OCCLUDER, SKIN
from poreseg.training import datasets
from poreseg.training.crop_lists import StructureCrop, load_crops
from poreseg.training.segmentation_metrics import dataset_iou, facemask_table, fasseg_table, person_iou

# The glasses set, by coordinates: frames on 6 mste photos (a centre line placed by eye; the frame's pixels within
# 20-45 px of it, found as thin dark structure, or dark and bright for metal, by a morphological black-hat /
# top-hat and an Otsu threshold, checked on an overlay; rim parts that do not stand out are left out, so that
# every listed pixel is frame), and sunglasses lenses on 3 celeb1k test photos (polygons drawn by eye inside
# each lens).
GLASSES_CSV = Path(__file__).with_name("glasses.csv")
GLASSES_SKIN_FLOOR, GLASSES_SKIN_GOAL = 0.10, 0.03  # issue 14: share of glasses pixels called skin


def glasses_table(parse: Callable[[np.ndarray], np.ndarray], data_dir: Path, crops: list[StructureCrop]
                  ) -> dict[str, dict[str, float]]:
    """Per structure type of ``crops`` (glasses frames, sunglasses lenses) and over all: the share of its
    pixels the parser calls skin and the share it calls occluder. Each photo is parsed whole, once, as
    the app parses it."""
    counts: dict[str, np.ndarray] = {}  # structure -> (pixels, called skin, called occluder)
    for image in dict.fromkeys(crop.image for crop in crops):
        labels = parse(datasets.read_rgb(data_dir / image))
        for crop in (c for c in crops if c.image == image):
            structure = crop.structure_mask()
            seen = crop.cut(labels)[structure]
            row = np.array([seen.size, np.count_nonzero(seen == SKIN), np.count_nonzero(seen == OCCLUDER)])
            counts[crop.structure] = counts.get(crop.structure, 0) + row
    counts["all"] = sum(counts.values())
    return {name: {"pixels called skin": c[1] / max(c[0], 1), "called occluder": c[2] / max(c[0], 1)}
            for name, c in counts.items()}


def teacher_person(sample: datasets.Sample, teacher_dir: Path, size_hw: tuple[int, int]) -> np.ndarray:
    """The MediaPipe selfie teacher's person mask (probability >= 0.5) of ``sample``, at ``size_hw``."""
    path = teacher_dir / f"{sample.key}.npz"
    if not path.exists():
        raise FileNotFoundError(f"teacher masks missing: {path} (run poreseg.training.teacher, see README Training)")
    with np.load(path) as teacher:
        person = teacher["person"]
    return cv2.resize(person, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR) >= 128


def teacher_iou(segment: Callable[[np.ndarray], np.ndarray], samples: list[datasets.Sample], teacher_dir: Path
                ) -> float:
    """Dataset-level IoU of ``segment`` (rgb -> probability) thresholded at 0.5 against the teacher's masks."""
    def pairs():
        for sample in samples:
            rgb = datasets.read_rgb(sample.image)
            yield teacher_person(sample, teacher_dir, rgb.shape[:2]), segment(rgb) >= 0.5
    return dataset_iou(pairs())


def teacher_human_seg_iou(data_dir: Path, teacher_dir: Path) -> float:
    """The teacher's own person IoU on the human_seg dev test split: the bar the issue sets."""
    def pairs():
        for sample in datasets.human_seg(data_dir, "test"):
            truth = datasets.read_label(sample.person_mask, datasets.image_size(sample.image)) > 0
            yield truth, teacher_person(sample, teacher_dir, truth.shape)
    return dataset_iou(pairs())


def format_table(title: str, rows: dict[str, dict[str, float]]) -> str:
    columns = list(next(iter(rows.values())).keys())
    lines = [title, "| set | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
    return "\n".join(lines)


def parser_report(parse: Callable[[np.ndarray], np.ndarray], data_dir: Path) -> str:
    rows = {"fasseg v2_test": fasseg_table(parse, datasets.fasseg(data_dir, "v2_test")),
            "fasseg v3 held-out subject": fasseg_table(parse, datasets.fasseg(data_dir, "v3_held_out"))}
    text = format_table("Face parser, FASSEG classes (IoU)", rows)
    masks = facemask_table(parse, datasets.maskedface(data_dir, "test"))
    text += "\n\n" + format_table("Face parser, MaskedFace test face masks", {"maskedface test": masks})
    crops = load_crops(GLASSES_CSV)
    rows = glasses_table(parse, data_dir, crops)
    title = (f"Face parser, glasses set ({len(crops)} crops of {len(set(c.image for c in crops))} photos): "
             f"glasses-frame pixels called skin, floor <= {GLASSES_SKIN_FLOOR:.0%}, goal <= {GLASSES_SKIN_GOAL:.0%}")
    return text + "\n\n" + format_table(title, rows)


def portrait_scores(segment: Callable[[np.ndarray], np.ndarray], data_dir: Path, teacher_dir: Path
                    ) -> dict[str, float]:
    """The portrait segmenter's IoUs: human masks of the human_seg dev test split, the teacher's masks of
    the held-out mste portraits (the same photos the pore evaluation holds out), and the teacher's own
    human_seg IoU beside them."""
    return {"human_seg": person_iou(segment, datasets.human_seg(data_dir, "test")),
            "mste": teacher_iou(segment, datasets.mste_portraits(data_dir, "test"), teacher_dir),
            "teacher human_seg": teacher_human_seg_iou(data_dir, teacher_dir)}


def portrait_report(scores: dict[str, float], data_dir: Path) -> str:
    n_mste = len(datasets.mste_portraits(data_dir, "test"))
    rows = {f"human_seg dev test (ids >= {datasets.HUMAN_SEG_FIRST_TEST_ID}), human masks": {"IoU": scores["human_seg"]},
            f"mste held-out portraits ({n_mste}), teacher selfie masks": {"IoU": scores["mste"]}}
    teacher = {"human_seg dev test, human masks": {"IoU": scores["teacher human_seg"]}}
    return (format_table("Portrait segmenter, person IoU", rows) + "\n\n"
            + format_table("MediaPipe selfie teacher (reference), person IoU", teacher))
