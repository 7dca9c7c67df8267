"""Train the portrait segmenter (``python -m poreseg train portrait``).

Human person masks (human_seg training split) where they exist, the MediaPipe selfie teacher's
masks elsewhere (portraits of every other folder but the held-out mste photos; uncertain teacher
pixels are ignored), with strong geometric and photometric augmentation, and scenes composed from
person-free human_seg backgrounds with human_seg people pasted in at many sizes.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from poreseg.classes import IGNORE
from poreseg.models.portrait_net import PortraitNet
from poreseg.parsing import normalise
from poreseg.portrait import DETAIL_SIZE, INPUT_SIZE, PortraitSegmenter
from poreseg.training import datasets, loop
from poreseg.training.augment import photometric
from poreseg.training.losses import portrait_loss
from poreseg.training.segmentation_metrics import person_iou

STORE_MAX_SIDE = 512
HUMAN_MASK_REPEAT = 8  # human_seg's varied scenes are what the teacher's portraits lack
PASTE_SHARE = 0.4
# Share of views composed from a human_seg scene with its people painted out and other human_seg people
# pasted in: the shipped network called salient background (mountains, gym machines, stage lights)
# "person" and missed small people, having learnt its 232 street scenes by heart (training-subset IoU
# 0.87, dev 0.70). Composites pair every background with people of every size.
SCENE_SHARE = 0.5
EMPTY_SCENE_SHARE = 0.15  # of the composed scenes: no person at all, the clutter alone is background
SCENE_PEOPLE_MAX = 3
SCENE_PERSON_HEIGHTS = (0.08, 0.95)  # of the view's side
PASTE_PERSON_HEIGHTS = (0.15, 0.9)
# Share of views that zoom out (the crop up to this much larger than the photo, mirrored at the border),
# so that the photo's people become small.
ZOOM_OUT_SHARE, ZOOM_OUT_MAX = 0.25, 1.8
# Scenes come only from photos whose people cover less than this share: painted out, larger people leave
# a smooth blob rather than a background.
SCENE_MAX_PERSON_SHARE = 0.3
INPAINT_SIDE = 128  # people are painted out at this size: a smooth fill is all a background needs


def _store(rgb: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = target.shape
    scale = min(1.0, STORE_MAX_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return (cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
            cv2.resize(target, size, interpolation=cv2.INTER_NEAREST))


def load_targets(data_dir: Path, teacher_dir: Path) -> tuple[list, np.ndarray]:
    """(rgb, target) pairs, target 0 background / 1 person / IGNORE, and their sampling weights."""
    items, weights = [], []
    for sample in datasets.human_seg(data_dir, "train"):  # first: ``humans`` in main relies on it
        rgb = datasets.read_rgb(sample.image)
        items.append(_store(rgb, (datasets.read_label(sample.person_mask, rgb.shape[:2]) > 0).astype(np.uint8)))
        weights.append(HUMAN_MASK_REPEAT)
    teacher_samples = [s for s in datasets.portrait_training_samples(data_dir) if s.person_mask is None]
    for sample in teacher_samples:
        rgb = datasets.read_rgb(sample.image)
        with np.load(teacher_dir / f"{sample.key}.npz") as teacher:
            person = cv2.resize(teacher["person"], (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        target = np.full(person.shape, IGNORE, np.uint8)
        target[person < 64] = 0
        target[person > 192] = 1
        items.append(_store(rgb, target))
        weights.append(1.0)
    weights = np.array(weights)
    return items, weights / weights.sum()


def person_free_scene(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The photo with its people (``person`` true) painted out, inpainted on a small copy and enlarged."""
    h, w = person.shape
    scale = INPAINT_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    hole = cv2.dilate(cv2.resize(person.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST), np.ones((5, 5), np.uint8))
    fill = cv2.resize(cv2.inpaint(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), hole, 5, cv2.INPAINT_TELEA),
                      (w, h), interpolation=cv2.INTER_LINEAR)
    covered = cv2.resize(hole, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    scene = rgb.copy()
    scene[covered] = fill[covered]
    return scene


def random_view(rgb: np.ndarray, target: np.ndarray, rng: np.random.Generator, size: int = INPUT_SIZE
                ) -> tuple[np.ndarray, np.ndarray]:
    """A random crop (35-100% of each side, or zoomed out up to ZOOM_OUT_MAX), rotated and maybe flipped,
    squashed to a ``size`` square."""
    h, w = target.shape
    if rng.random() < ZOOM_OUT_SHARE:
        zoom = rng.uniform(1.0, ZOOM_OUT_MAX)
        ch, cw = int(h * zoom), int(w * zoom)
        y0, x0 = rng.integers(h - ch, 1), rng.integers(w - cw, 1)
    else:
        ch, cw = int(h * rng.uniform(0.35, 1.0)), int(w * rng.uniform(0.35, 1.0))
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    src = np.float32([[x0, y0], [x0 + cw, y0], [x0, y0 + ch]])
    dst = np.float32([[0, 0], [size, 0], [0, size]])
    matrix = cv2.getAffineTransform(src, dst)
    rotation = cv2.getRotationMatrix2D((size / 2, size / 2), rng.normal(0, 8), 1.0)
    matrix = rotation @ np.vstack([matrix, [0, 0, 1]])
    if rng.random() < 0.5:
        matrix = np.array([[-1, 0, size], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
    view = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    label = cv2.warpAffine(target, matrix, (size, size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    return view, label


def paste_person(view: np.ndarray, label: np.ndarray, person_rgb: np.ndarray, person_mask: np.ndarray,
                 rng: np.random.Generator, heights: tuple[float, float] = PASTE_PERSON_HEIGHTS) -> None:
    """Copy-paste augmentation: a human-labelled person, at a random size (``heights``: share of the view's
    side) and place, in front of the view."""
    ys, xs = np.nonzero(person_mask)
    if len(xs) < 50:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = view.shape[0]
    height = side * rng.uniform(*heights)
    scale = height / (y1 - y0)
    size = (max(1, int((x1 - x0) * scale)), max(1, int(height)))
    if size[0] >= side:
        return
    cut = cv2.resize(person_rgb[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(person_mask[y0:y1, x0:x1].astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    top, left = rng.integers(0, side - size[1] + 1), rng.integers(0, side - size[0] + 1)
    region = (slice(top, top + size[1]), slice(left, left + size[0]))
    view[region] = (view[region] * (1 - alpha[..., None]) + cut * alpha[..., None]).astype(np.uint8)
    label[region][alpha > 0.5] = 1


def composed_scene(scene: np.ndarray, items, humans, rng: np.random.Generator, size: int = INPUT_SIZE
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A view of a person-free ``scene`` with up to SCENE_PEOPLE_MAX human_seg people pasted in (none in
    EMPTY_SCENE_SHARE of the views)."""
    view, label = random_view(scene, np.zeros(scene.shape[:2], np.uint8), rng, size)
    people = 0 if rng.random() < EMPTY_SCENE_SHARE else rng.integers(1, SCENE_PEOPLE_MAX + 1)
    for _ in range(people):
        person_rgb, person_target = items[humans[rng.integers(len(humans))]]
        paste_person(view, label, person_rgb, person_target == 1, rng, SCENE_PERSON_HEIGHTS)
    return view, label


def batches(items, weights, humans, scenes, batch_size: int, seed: int = 0, detail_share: float = 0.0):
    """``humans``: indices of the items with human person masks, the source of pasted people; ``scenes``:
    their photos with the people painted out. ``detail_share`` of the batches are views of DETAIL_SIZE, the
    inference's second, closer look (portrait.coarse), the others of INPUT_SIZE."""
    rng = np.random.default_rng(seed)
    while True:
        xs, ys = [], []
        size = DETAIL_SIZE if rng.random() < detail_share else INPUT_SIZE
        for i in rng.choice(len(items), batch_size, p=weights):
            if rng.random() < SCENE_SHARE:
                view, label = composed_scene(scenes[rng.integers(len(scenes))], items, humans, rng, size)
            else:
                view, label = random_view(*items[i], rng, size)
                if rng.random() < PASTE_SHARE:
                    person_rgb, person_target = items[humans[rng.integers(len(humans))]]
                    paste_person(view, label, person_rgb, person_target == 1, rng)
            xs.append(torch.from_numpy(normalise(photometric(view, rng))))
            ys.append(label)
        yield torch.cat(xs), torch.from_numpy(np.stack(ys).astype(np.int64))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg train portrait", description=__doc__)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--teacher", type=Path, default=Path("cache/teacher"))
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/portrait.ckpt"))
    parser.add_argument("--out", type=Path, default=Path("weights/portrait.pt"))
    parser.add_argument("--widths", default="16,32,64,96", help="channels at strides 2, 4, 8, 16")
    parser.add_argument("--init", type=Path, help="weights to start from (fine-tuning), e.g. weights/portrait.pt; "
                        "weights saved before the context blocks existed start them as the identity")
    parser.add_argument("--lr", type=float, default=4e-3, help="peak learning rate (cosine decay)")
    parser.add_argument("--every", type=int, default=500, help="steps between checkpoints and validation lines")
    parser.add_argument("--detail-share", type=float, default=0.0,
                        help="share of the batches seen at the inference's closer look (DETAIL_SIZE), not INPUT_SIZE")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.time()
    items, weights = load_targets(args.data, args.teacher)
    print(f"{len(items)} training images", flush=True)
    model = PortraitNet(tuple(int(c) for c in args.widths.split(",")))

    def validate() -> str:
        # The training split only: the dev test split stays for the final report.
        session = PortraitSegmenter.from_net(model)
        samples = datasets.human_seg(args.data, "train")[::6]
        return f"person IoU on a training subset {person_iou(session, samples):.3f}"

    loop.start_from(model, args.init, args.checkpoint, log=lambda m: print(m, flush=True), grown=True)
    humans = list(range(len(datasets.human_seg(args.data, "train"))))  # load_targets puts them first
    scenes = [person_free_scene(rgb, target == 1) for rgb, target in (items[i] for i in humans)
              if np.mean(target == 1) < SCENE_MAX_PERSON_SHARE]
    loop.train(model, batches(items, weights, humans, scenes, args.batch, detail_share=args.detail_share),
               portrait_loss, args.steps, args.checkpoint, lr=args.lr, validate=validate, every=args.every,
               log=lambda m: print(m, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, args.out)
    print(f"saved {args.out} after {(time.time() - started) / 3600:.2f} h in this run", flush=True)


if __name__ == "__main__":
    main()
