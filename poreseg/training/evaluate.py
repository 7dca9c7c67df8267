"""Evaluation tables for the parser and the portrait segmenter on the held-out data.

    python -m poreseg eval parser [--data DIR]
    python -m poreseg eval portrait [--data DIR]
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from poreseg.training import datasets
from poreseg.training.segmentation_metrics import dataset_iou, facemask_table, fasseg_table, person_iou

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
    return text + "\n\n" + format_table("Face parser, MaskedFace test face masks", {"maskedface test": masks})


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
