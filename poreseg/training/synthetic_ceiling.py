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

import torch

from poreseg.training import loop
from poreseg.training.pore_patches import DEFAULT_CACHE, load_cache
from poreseg.training.pore_variants import VARIANTS, build_net
from poreseg.training.synthetic_patches import synthetic_batches
from poreseg.training.losses import pore_loss
from poreseg.training.train_psnet import BATCH, CHECKPOINT_EVERY, LEARNING_RATE, synthetic_validation

SYNTHETIC = next(variant for variant in VARIANTS if variant.labels == "synthetic")


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
