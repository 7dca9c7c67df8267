"""Crops of real photos listed by coordinates (``structures.csv``, ``glasses.csv``): a crop box of a photo in
the data folder and a structure inside it as polygons or thick polylines, chosen and drawn by eye. Only
coordinates are kept in the project, never pixels.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class StructureCrop:
    """One row of a crop list: a crop box of a photo and the structure in it (crop coordinates)."""

    image: str  # relative to the data folder
    x: int
    y: int
    width: int
    height: int
    structure: str
    # The structure's parts: outlines, or centre lines when ``line_width`` > 0; none: the whole crop.
    parts: tuple[tuple[tuple[int, int], ...], ...]
    line_width: int  # 0: each part is a filled polygon; else a polyline drawn this many pixels wide
    split: str  # "test" (a held-out photo) or "train"
    monk: str
    note: str

    def structure_mask(self) -> np.ndarray:
        """HxW bool of the structure's pixels inside the crop; the whole crop when it has no parts."""
        if not self.parts:
            return np.ones((self.height, self.width), bool)
        mask = np.zeros((self.height, self.width), np.uint8)
        parts = [np.array(part, np.int32).reshape(-1, 1, 2) for part in self.parts]
        if self.line_width > 0:
            cv2.polylines(mask, parts, False, 1, thickness=self.line_width)
        else:
            cv2.fillPoly(mask, parts, 1)
        return mask.astype(bool)

    def cut(self, rgb: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(rgb[self.y:self.y + self.height, self.x:self.x + self.width])


def parse_parts(text: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    """"x y; x y | x y; x y" -> (((x, y), (x, y)), ((x, y), (x, y))); "" -> ()."""
    return tuple(tuple(tuple(int(v) for v in pair.split()) for pair in part.split(";"))
                 for part in text.split("|") if part.strip())


def load_crops(path: Path) -> list[StructureCrop]:
    with open(path, newline="") as f:
        return [StructureCrop(row["image"], int(row["x"]), int(row["y"]), int(row["width"]), int(row["height"]),
                              row["structure"], parse_parts(row["points"]), int(row["line_width"] or 0),
                              row["split"], row["monk"], row["note"])
                for row in csv.DictReader(f)]
