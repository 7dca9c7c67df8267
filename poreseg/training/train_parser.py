"""Train the face parser from scratch on teacher + human labels (``python -m poreseg train parser``).

Loss: cross-entropy and soft Dice on the labelled pixels, plus a consensus term that pulls the
predicted distribution of every pixel of one object (a connected region of one class) towards that
object's mean, so that an object is labelled as a whole rather than pixel by pixel.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from poreseg.classes import CLASSES, IGNORE
from poreseg.models.parser_net import FaceParserNet
from poreseg.parsing import FaceParser
from poreseg.training import datasets, evaluate, loop
from poreseg.training.parser_data import ParserViews, load_labelled

CONSENSUS_WEIGHT = 0.5
DICE_WEIGHT = 0.5


def consensus_loss(probabilities: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    classes = probabilities.shape[1]
    flat = probabilities.permute(0, 2, 3, 1).reshape(-1, classes)
    ids = objects.reshape(-1)
    keep = ids >= 0
    flat, ids = flat[keep], ids[keep]
    count = int(ids.max()) + 1
    sums = torch.zeros(count, classes).index_add_(0, ids, flat)
    means = sums / torch.bincount(ids, minlength=count).clamp(min=1)[:, None]
    return ((flat - means[ids].detach()) ** 2).sum(1).mean()


def dice_loss(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    valid = (labels != IGNORE).unsqueeze(1)
    one_hot = F.one_hot(labels.clamp(max=probabilities.shape[1] - 1), probabilities.shape[1]).permute(0, 3, 1, 2)
    p, t = probabilities * valid, one_hot * valid
    inter, total = (p * t).sum((0, 2, 3)), (p + t).sum((0, 2, 3))
    present = t.sum((0, 2, 3)) > 0
    return (1 - (2 * inter + 1) / (total + 1))[present].mean()


def parser_loss(logits: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    labels, objects = targets
    logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    probabilities = logits.softmax(1)
    return (F.cross_entropy(logits, labels, ignore_index=IGNORE)
            + DICE_WEIGHT * dice_loss(probabilities, labels)
            + CONSENSUS_WEIGHT * consensus_loss(probabilities, objects))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg train parser", description=__doc__)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--labels", type=Path, default=Path("cache/labels"), help="output of poreseg.training.labels")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/face_parser.ckpt"))
    parser.add_argument("--out", type=Path, default=Path("weights/face_parser.pt"))
    parser.add_argument("--init", type=Path, help="weights to start from (fine-tuning), e.g. weights/face_parser.pt")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (lower to fine-tune)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.time()
    images = load_labelled(args.labels)
    print(f"{len(images)} labelled images, {sum(i.box is not None for i in images)} with a face", flush=True)
    views = ParserViews(images, args.data)
    model = FaceParserNet(len(CLASSES))
    if args.init and not args.checkpoint.exists():
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True)["model"])
        print(f"starting from {args.init}", flush=True)

    def validate() -> str:
        session = FaceParser.from_net(model)
        return evaluate.parser_report(lambda rgb: session(rgb).labels, args.data, quick=True)

    loop.train(model, views.batches(args.batch), parser_loss, args.steps, args.checkpoint, lr=args.lr,
               validate=validate, every=250, log=lambda m: print(m, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, args.out)
    shutil.copy(args.checkpoint, args.checkpoint.with_suffix(".final.ckpt"))
    print(f"saved {args.out} after {(time.time() - started) / 3600:.2f} h in this run", flush=True)


if __name__ == "__main__":
    main()
