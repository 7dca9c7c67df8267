"""What the synthetic benchmark allows at best: PS-Net trained on the renderer's exact masks.

    python -m poreseg.training.synthetic_ceiling --steps 2000    # -> checkpoints/psnet_synthetic.pt

A diagnostic, never shipped: the same network, patches, augmentation and loss as ``train psnet``, but
every label is the ground truth of pores rendered (``synth.render_pores``) into pore-free training
photos, so the labels hold no noise at all. Its score on the held-out benchmark bounds what weak labels
can reach with this network, budget and notion of a visible pore; ``python -m poreseg eval psnet``
reports it as its last row when ``checkpoints/psnet_synthetic.pt`` exists.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch

from poreseg.pores.segment import prepare_input
from poreseg.pores.synth import SynthSample, pore_free_base, render_pores
from poreseg.training import loop
from poreseg.training.evaluate_pores import VARIANTS, build_net
from poreseg.training.pore_patches import DEFAULT_CACHE, PorePhoto, load_cache
from poreseg.training.train_psnet import (BATCH, CHECKPOINT_EVERY, LEARNING_RATE, PATCH_PX, pore_loss, random_patch,
                                          skin_jitter, synthetic_validation)

RENDER_PX = 3 * PATCH_PX // 2  # rendered at native scale, wide enough for most scales and rotations
MIN_REGION_COVER = 0.9
SYNTHETIC = next(variant for variant in VARIANTS if variant.labels == "synthetic")
# Rendering takes longer than a training step: a pool of renders is drawn once and each is cut, scaled,
# rotated and jittered afresh every time it is used (about 16 times in 2000 steps).
POOL = 2000


def windows(photo: PorePhoto) -> np.ndarray:
    """Top-left corners (y, x) of the RENDER_PX windows that lie mostly inside the photo's region."""
    cover = cv2.boxFilter(photo.region.astype(np.float32), -1, (RENDER_PX, RENDER_PX), borderType=cv2.BORDER_CONSTANT)
    half = RENDER_PX // 2
    ys, xs = np.nonzero(cover[half:photo.region.shape[0] - half + 1, half:photo.region.shape[1] - half + 1]
                        >= MIN_REGION_COVER)
    return np.stack([ys, xs], axis=1)


def render_pool(photos: list[PorePhoto], count: int, rng: np.random.Generator) -> list[SynthSample]:
    corners = [windows(photo) for photo in photos]
    usable = [i for i, c in enumerate(corners) if len(c)]
    pool = []
    for i in rng.choice(usable, count):
        y0, x0 = corners[i][rng.integers(len(corners[i]))]
        window = photos[i].rgb[y0:y0 + RENDER_PX, x0:x0 + RENDER_PX]
        pool.append(render_pores(pore_free_base(window, photos[i].pore_px), rng, photos[i].pore_px))
    return pool


def synthetic_batches(photos: list[PorePhoto], batch_size: int, seed: int) -> Iterator:
    rng = np.random.default_rng(seed)
    pool = render_pool(photos, POOL, rng)
    while True:
        xs, ys = [], []
        for i in rng.integers(len(pool), size=batch_size):
            sample = pool[i]
            view, label = random_patch(sample.rgb, sample.mask.astype(np.uint8), sample.pore_px,
                                       (RENDER_PX // 2, RENDER_PX // 2), rng)
            xs.append(prepare_input(skin_jitter(view, rng)))
            ys.append(label)
        yield torch.cat(xs), torch.from_numpy(np.stack(ys))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg.training.synthetic_ceiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", type=Path, default=SYNTHETIC.default_checkpoint)
    parser.add_argument("--out", type=Path, default=SYNTHETIC.default_out)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    log = lambda message: print(message, flush=True)  # noqa: E731
    photos = load_cache(args.cache)
    net = build_net(SYNTHETIC)
    started = time.time()
    loop.train(net, synthetic_batches(photos, BATCH, seed=0), pore_loss, args.steps, args.checkpoint,
               lr=LEARNING_RATE, validate=synthetic_validation(photos, net, log), every=CHECKPOINT_EVERY, log=log)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict()}, args.out)
    log(f"saved {args.out} after {(time.time() - started) / 3600:.2f} h in this run")


if __name__ == "__main__":
    main()
