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

from poreseg.classes import CLASSES
from poreseg.models.parser_net import FaceParserNet
from poreseg.parsing import FaceParser
from poreseg.training import datasets, loop
from poreseg.training.losses import parser_loss
from poreseg.training.parser_data import ParserViews, load_labelled
from poreseg.training.segmentation_metrics import facemask_table, fasseg_table

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
    loop.start_from(model, args.init, args.checkpoint, log=lambda m: print(m, flush=True))

    def validate() -> str:
        # The held-out FASSEG subject and a fifth of MaskedFace's test faces: quick, and never trained on.
        session = FaceParser.from_net(model)
        parse = lambda rgb: session(rgb).labels  # noqa: E731
        fasseg = fasseg_table(parse, datasets.fasseg(args.data, "v3_held_out"))
        masks = facemask_table(parse, datasets.maskedface(args.data, "test")[::5])
        return (f"FASSEG v3 held-out mIoU {fasseg['mIoU']:.3f}; face masks: occluder IoU {masks['occluder IoU']:.3f}, "
                f"called skin {masks['mask pixels called skin']:.3f}")

    loop.train(model, views.batches(args.batch), parser_loss, args.steps, args.checkpoint, lr=args.lr,
               validate=validate, every=250, log=lambda m: print(m, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, args.out)
    shutil.copy(args.checkpoint, args.checkpoint.with_suffix(".final.ckpt"))
    print(f"saved {args.out} after {(time.time() - started) / 3600:.2f} h in this run", flush=True)


if __name__ == "__main__":
    main()
