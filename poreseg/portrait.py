"""Portrait (person) segmentation at full resolution with clean edges."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from poreseg.imageio import as_rgb8
from poreseg.inference import inference_copy, prepare_for_inference
from poreseg.models.portrait_net import PortraitNet
from poreseg.parsing import normalise
from poreseg.weights import load_weights

INPUT_SIZE = PortraitNet.input_size
REFINE_MAX_SIDE = 1024  # edges are refined at this size at most, then resized


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): snaps a smooth map to the image's edges."""
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(x):
        return cv2.boxFilter(x, cv2.CV_32F, size)

    mean_i, mean_p = mean(guide), mean(source)
    cov_ip = mean(guide * source) - mean_i * mean_p
    var_i = mean(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return mean(a) * guide + mean(b)


class PortraitSegmenter:
    """Loads the portrait network once; call it on RGB images."""

    def __init__(self, weights: Path | None = None, net: PortraitNet | None = None):
        self.net = (inference_copy(net) if net is not None
                    else prepare_for_inference(load_weights(PortraitNet(), "portrait", weights)))

    @classmethod
    def from_net(cls, net: PortraitNet) -> "PortraitSegmenter":
        return cls(net=net)

    @torch.inference_mode()
    def coarse(self, rgb: np.ndarray) -> np.ndarray:
        """Person probability at the network's output resolution."""
        view = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        return self.net(normalise(view)).softmax(1)[0, 1].contiguous().numpy()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        scale = min(1.0, REFINE_MAX_SIDE / max(h, w))
        rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
        small = rgb if scale == 1 else cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA)
        # The network's view comes from the refining copy: a large photo is shrunk once, not twice.
        probability = cv2.resize(self.coarse(small), (rw, rh), interpolation=cv2.INTER_LINEAR)
        guide = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        radius = max(2, round(max(rw, rh) / 160))
        # Clipped before enlarging: linear interpolation stays within [0, 1], and clipping 12 MP costs.
        refined = np.clip(guided_filter(guide, probability, radius, 1e-3), 0.0, 1.0)
        return refined if scale == 1 else cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR)


_default_segmenter: PortraitSegmenter | None = None


def segment_portrait(rgb: np.ndarray) -> np.ndarray:
    """Person probability (HxW float32 in [0, 1]) of an RGB image, at the image's size."""
    global _default_segmenter
    if _default_segmenter is None:
        _default_segmenter = PortraitSegmenter()
    return _default_segmenter(as_rgb8(rgb))
