"""The synthetic-label upper bound: renders are labelled exactly and training runs end to end."""
from __future__ import annotations

import numpy as np
import torch

from poreseg.classes import IGNORE
from poreseg.training import synthetic_ceiling, synthetic_patches
from poreseg.training.patches import PATCH_PX
from poreseg.training.pore_patches import PorePhoto, cache_path, save_photo


def _skin_photo(key: str, seed: int, size: int = 224) -> PorePhoto:
    rng = np.random.default_rng(seed)
    rgb = np.clip(rng.normal([180, 130, 110], 4, (size, size, 3)), 0, 255).astype(np.uint8)
    region = np.ones((size, size), bool)
    return PorePhoto(key, rgb, np.zeros((size, size), np.uint8), region, 4.0)


def test_windows_lie_inside_the_region():
    photo = _skin_photo("a", 0)
    assert len(synthetic_patches.windows(photo)) > 0
    region = np.zeros_like(photo.region)
    region[:100] = True  # too thin for a window of RENDER_PX
    assert len(synthetic_patches.windows(PorePhoto("b", photo.rgb, photo.labels, region, 4.0))) == 0


def test_batches_label_the_rendered_pores_exactly(monkeypatch):
    monkeypatch.setattr(synthetic_patches, "POOL", 4)
    inputs, labels = next(synthetic_patches.synthetic_batches([_skin_photo("a", 0)], 6, seed=1))
    assert inputs.shape == (6, 3, PATCH_PX, PATCH_PX)
    assert set(np.unique(labels.numpy())) <= {0, 1, IGNORE}
    pore = labels.numpy() == 1
    assert 0 < pore.mean() < 0.3
    # Rendered pores are darker than the skin around them.
    brightness = inputs.numpy().mean(axis=1)
    assert brightness[pore].mean() < brightness[labels.numpy() == 0].mean()


def test_training_runs_and_saves(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic_patches, "POOL", 4)
    monkeypatch.setattr(synthetic_ceiling, "BATCH", 2)
    cache = tmp_path / "cache"
    save_photo(cache_path(cache, "tiny/0"), _skin_photo("tiny/0", 0))
    out = tmp_path / "synthetic.pt"
    synthetic_ceiling.main(["--cache", str(cache), "--steps", "2", "--checkpoint", str(tmp_path / "s.ckpt"),
                            "--out", str(out)])
    assert set(torch.load(out, weights_only=True)["model"]) and (tmp_path / "s.ckpt").exists()
