"""Training views for the face parser: the crops the two inference passes see, augmented and occluded."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from poreseg.classes import BACKGROUND, CLASSES, HAIR, SKIN
from poreseg.parsing import INPUT_SIZE, EYE_VIEW_ZOOM, eye_crop, face_crop, normalise, square_crop_matrix, warp_view
from poreseg.training.augment import photometric
from poreseg.training.labels import feature_box
from poreseg.training.occlusion import Occluder

FIND_VIEW_SHARE = 0.2  # the rest are crop-pass views
EYE_VIEW_SHARE = 0.25  # of the crop-pass views: the eye pass's closer look at the eyes and glasses
EYE_VIEW_GLASSES_SHARE = 0.4  # of the eye views: synthetic glasses, the occluder the eye pass is there for
OCCLUSION_SHARE = 0.35
HUMAN_FACE_LABEL_REPEAT = 4  # FASSEG images carry the only full human face labels: show them more often


@dataclass
class TrainingImage:
    key: str
    rgb: np.ndarray
    labels: np.ndarray
    landmarks: np.ndarray
    box: tuple[int, int, int, int] | None


def load_labelled(cache: Path) -> list[TrainingImage]:
    images = []
    for key in json.loads((cache / "index.json").read_text()):
        with np.load(cache / f"{key}.npz") as item:
            labels = item["labels"]
            images.append(TrainingImage(key, item["rgb"], labels, item["landmarks"], feature_box(labels)))
    return images


def object_ids(labels: np.ndarray) -> np.ndarray:
    """Connected regions of one class each get an id (-1 for ignored pixels): the consensus loss's objects."""
    objects = np.full(labels.shape, -1, np.int64)
    next_id = 0
    for class_id in range(len(CLASSES)):
        count, components = cv2.connectedComponents((labels == class_id).astype(np.uint8))
        if count > 1:
            inside = components > 0
            objects[inside] = components[inside] - 1 + next_id
            next_id += count - 1
    return objects


class ParserViews:
    """An endless, seeded stream of (image, labels, objects) batches."""

    def __init__(self, images: list[TrainingImage], data_dir: Path, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.images = images
        weights = np.array([HUMAN_FACE_LABEL_REPEAT if i.key.startswith("fasseg") else 1.0 for i in images])
        self.weights = weights / weights.sum()
        with_face = [i for i in images if i.box is not None]
        skin = []
        for item in with_face[::7]:
            x0, y0, x1, y1 = item.box
            patch = item.rgb[y0:y1, x0:x1]
            if patch.size and (item.labels[y0:y1, x0:x1] == SKIN).mean() > 0.4:
                skin.append(patch)
        hair = [(i.rgb, i.labels == HAIR) for i in images if i.key.startswith("celeb1k")][::5]
        self.occluder = Occluder(data_dir, [i.rgb for i in images[::11]], skin, hair)

    def view(self, item: TrainingImage) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        rgb, labels = item.rgb.copy(), item.labels.copy()
        find_view = item.box is None or rng.random() < FIND_VIEW_SHARE
        eye_view = not find_view and rng.random() < EYE_VIEW_SHARE
        if eye_view and rng.random() < EYE_VIEW_GLASSES_SHARE:
            self.occluder(rgb, labels, item.landmarks, item.box, rng, kind="glasses")
        elif item.box is not None and rng.random() < OCCLUSION_SHARE:
            self.occluder(rgb, labels, item.landmarks, item.box, rng)
        h, w = labels.shape
        flip = rng.random() < 0.5
        if find_view:
            # zoomed out up to 2.5x, off-centre: faces as small as the find pass must still see
            zoom = np.exp(rng.uniform(-0.3, 0.9))
            shift = 0.05 + 0.3 * (zoom - 1) * (zoom > 1)
            centre = (w / 2 + rng.normal(0, shift) * w, h / 2 + rng.normal(0, shift) * h)
            matrix = square_crop_matrix(centre, max(h, w) * zoom, INPUT_SIZE, rng.normal(0, 8), flip)
        else:
            if eye_view:
                centre, side = eye_crop(item.box, EYE_VIEW_ZOOM * np.exp(rng.uniform(-0.25, 0.25)))
            else:
                centre, side = face_crop(item.box)
                side *= np.exp(rng.uniform(-0.3, 0.3))
            centre = (centre[0] + rng.normal(0, 0.04) * side, centre[1] + rng.normal(0, 0.04) * side)
            matrix = square_crop_matrix(centre, side, INPUT_SIZE, rng.normal(0, 12), flip)
        view = warp_view(rgb, matrix, INPUT_SIZE)
        view_labels = cv2.warpAffine(labels, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_NEAREST,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=BACKGROUND)
        return photometric(view, rng), view_labels

    def batches(self, batch_size: int):
        while True:
            picks = self.rng.choice(len(self.images), batch_size, p=self.weights)
            views = [self.view(self.images[i]) for i in picks]
            x = torch.cat([torch.from_numpy(normalise(v)) for v, _ in views])
            y = torch.from_numpy(np.stack([l for _, l in views]).astype(np.int64))
            objects, offset = [], 0
            for _, l in views:
                ids = object_ids(l)
                objects.append(np.where(ids >= 0, ids + offset, -1))
                offset += int(ids.max()) + 1
            yield x, (y, torch.from_numpy(np.stack(objects)))
