"""Train PS-Net, or one of its ablations, on real skin (``python -m poreseg train psnet``).

    python -m poreseg.training.pore_patches --data ../shared/data          # the cache, once
    python -m poreseg train psnet --steps 3000 --rounds 2                  # -> weights/psnet.pt
    python -m poreseg train psnet --steps 3000 --rounds 2 --no-hfa         # -> checkpoints/psnet_no_hfa.pt
    python -m poreseg train psnet --init weights/psnet.pt --steps 900 --rounds 1 --lr 1e-3  # a round only
    python -m poreseg train psnet --steps 900 --rounds 0 --rendered-pores  # positives rendered into real skin

Stage 1 learns the DoGPore coarse labels of ``cache/pores`` (with ``--rendered-pores``: pores rendered
into each real patch as its positives, DoGPore's structures and the never-pore parts as its negatives);
then each of ``--rounds`` rounds replaces them by pseudo labels from the network's own prediction of
every training photo (``soft_labels``: its calibrated Monte-Carlo mean probability, mirror-averaged as
``PoreSegmenter`` predicts, as a soft target; stored in ``cache/pores_pseudo``) and trains on. Stage 1
has half of ``--steps``, the rounds share the other half; with ``--init`` the given network stands in for
stage 1 and the rounds have all the steps (without rounds, stage 1 fine-tunes it on the coarse labels).
Each stage has its own warm-up and cosine schedule (a warm restart on the new labels) and its own
checkpoint ``CHECKPOINT.stageK.ckpt``, so running the same command again resumes where it stopped. Every
checkpoint logs the object F1 on pores rendered into training photos.

Patches of ``patches.PATCH_PX`` pixels are cut at the scale inference works at (native, or shrunk so that pores
are at most ``segment.MAX_PORE_PX``) times 0.7-1.4, rotated, flipped and photometrically jittered
(exposure, gamma, colour temperature, noise, slight blur, JPEG); half of them are centred on a labelled
pore. The loss sees labelled pixels only: generalised cross-entropy, which bounds the pull of a wrong
label, with pores up-weighted by the batch's background-to-pore ratio, plus a Tversky term that weighs
missed pores more than false ones (DoGPore's coarse labels keep only its surest pores); on the soft
pseudo labels, a smooth L1 between the logits and their probability's logit.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch

from poreseg.classes import IGNORE, STRUCTURE, is_soft, soft_label, soft_probability
from poreseg.models.psnet_net import PSNet
from poreseg.pores.segment import PoreSegmenter, prepare_input, working_scale
from poreseg.training import loop
from poreseg.training.losses import pore_loss
from poreseg.training.negatives import add_negatives
from poreseg.training.patches import random_patch, skin_jitter
from poreseg.training.pore_patches import DEFAULT_CACHE, PorePhoto, load_cache
from poreseg.training.pore_scoring import dog_method, net_method, synthetic_benchmark, synthetic_samples
from poreseg.training.pore_variants import VARIANTS, Variant, build_net
from poreseg.training.synthetic_patches import POOL, pores_rendered_into, render_pool, synthetic_patch
from poreseg.weights import load_state

BATCH = 16
PORE_CENTRED_SHARE = 0.5
FIRST_STAGE_SHARE = 0.5  # of --steps; the pseudo-label rounds share the rest
LEARNING_RATE = 3e-3
CHECKPOINT_EVERY = 100
VALIDATION_PATCHES = 32  # rendered into training photos, scored at every checkpoint (~4 s, ~10% of the time)
VALIDATION_SEED = 7


def variant_from_flags(arch: str, hfa: bool, bayes: bool, progressive: bool) -> Variant:
    wanted = (arch, hfa, bayes, progressive if arch == "psnet" else False)
    for variant in VARIANTS:
        flags = (variant.arch, variant.high_frequency_attention, variant.bayesian, variant.progressive)
        if variant.labels == "coarse" and flags == wanted:
            return variant
    raise SystemExit("train psnet: choose one ablation at a time (--arch unet, --no-hfa, --no-bayes or --no-progressive)")


def patch_centre(labels: np.ndarray, pores: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A random pore pixel (of ``pores``, N x 2 y, x) for PORE_CENTRED_SHARE of the patches, else a random
    labelled pixel: pores are a fraction of a percent of the labelled skin."""
    if len(pores) and rng.random() < PORE_CENTRED_SHARE:
        y, x = pores[rng.integers(len(pores))]
        return int(y), int(x)
    h, w = labels.shape
    for _ in range(50):  # most of a region's bounding box is labelled: a few draws find a labelled pixel
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        if labels[y, x] != IGNORE:
            break
    return y, x


def batches(photos: list[PorePhoto], labels: list[np.ndarray], batch_size: int, seed: int,
            synthetic_share: float = 0.0, rendered_pores: bool = False) -> Iterator:
    """Endless batches of jittered patches; photos are drawn by the square root of their labelled area
    so that the large mste faces do not drown the close-ups. ``synthetic_share`` of each batch are
    patches with rendered pores and their exact masks (``synthetic_patches``) instead. ``rendered_pores``:
    pores are rendered into every real patch and are its only positives (``pores_rendered_into``)."""
    rng = np.random.default_rng(seed)
    weights = np.sqrt([max(int((lab != IGNORE).sum()), 1) for lab in labels])
    weights = weights / weights.sum()
    pores = [np.argwhere(lab == 1) for lab in labels]
    rendered = round(synthetic_share * batch_size)
    pool = render_pool(photos, POOL, rng) if rendered else []
    while True:
        patches = [synthetic_patch(pool, rng) for _ in range(rendered)]
        for i in rng.choice(len(photos), batch_size - rendered, p=weights):
            centre = patch_centre(labels[i], pores[i], rng)
            view, label = random_patch(photos[i].rgb, labels[i], photos[i].pore_px, centre, rng)
            pore_px = working_scale(photos[i].pore_px) * photos[i].pore_px
            if rendered_pores:
                view, label = pores_rendered_into(view, label, pore_px, rng)
            patches.append(add_negatives(view, label, pore_px, rng))
        xs = [torch.from_numpy(prepare_input(skin_jitter(view, rng))) for view, _ in patches]
        yield torch.cat(xs), torch.from_numpy(np.stack([label for _, label in patches]))


def timed(batch_iterator: Iterator, log, after: int = 20) -> Iterator:
    """Passes batches through and reports the training speed once, after ``after`` steps."""
    started = time.time()
    for count, batch in enumerate(batch_iterator):
        if count == after:
            log(f"speed: {after / (time.time() - started):.2f} steps/s (batch of {len(batch[0])})")
        yield batch


def soft_labels(labels: np.ndarray, probability: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The next round's labels: inside ``region`` the previous network's calibrated probability as a soft
    target (``poreseg.classes.soft_label``), but structures (DoGPore's lines and blobs, the
    parts of the face that hold no pores) stay STRUCTURE; outside, the current labels. DoGPore's pores
    become soft too: kept as hard pores beside soft targets, their up-weighted loss inflated the next
    network's probabilities (it marked 10% of real skin where the previous one marked 4%).

    Soft, because hard pseudo labels made rounds that confirm and grow their own mistakes: with a pore
    where the network was at least 70% sure and skin where it was at most 5% sure, a round's network
    marked almost nothing on real skin (checkpoints/psnet_v4_round1.pt). A soft target keeps the faint
    pores the network grades between those, and the structures it must learn to leave out stay hard."""
    updated = labels.copy()
    graded = region & (labels != STRUCTURE)
    updated[graded] = soft_label(probability[graded])
    return updated


def pseudo_labels(net: torch.nn.Module, photos: list[PorePhoto], labels: list[np.ndarray], folder: Path,
                  reuse: bool, log) -> list[np.ndarray]:
    """Updated labels of every photo, stored in ``folder``; with ``reuse`` those already stored there
    are read back instead (a resumed round must train on the labels it started with)."""
    segmenter = PoreSegmenter.from_net(net)  # as the app predicts
    updated = []
    for photo, current in zip(photos, labels):
        path = folder / f"{photo.key}.png"
        if reuse and path.exists():
            updated.append(cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
            continue
        result = segmenter(photo.rgb, photo.region, photo.pore_px)
        new = soft_labels(current, result.probability, photo.region)
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path.with_suffix(".tmp.png")), new)
        path.with_suffix(".tmp.png").replace(path)
        updated.append(new)
    soft_pixels = sum(int(is_soft(lab).sum()) for lab in updated)
    soft_sum = sum(float(soft_probability(lab[is_soft(lab)].astype(np.float32)).sum()) for lab in updated)
    pores = sum(int((lab == 1).sum()) for lab in updated)
    labelled = sum(int((lab != IGNORE).sum()) for lab in updated)
    log(f"pseudo labels in {folder}: {labelled / 1e6:.1f} Mpx labelled, {pores / max(labelled, 1):.2%} hard pore, "
        f"mean soft target {soft_sum / max(soft_pixels, 1):.3f} on {soft_pixels / 1e6:.1f} Mpx")
    return updated


def synthetic_validation(photos: list[PorePhoto], net: torch.nn.Module, log) -> Callable[[], str] | None:
    """A progress measure for the log: object F1 on pores rendered into training photos (the held-out
    photos stay for the evaluation), next to DoGPore's on the same patches."""
    samples = synthetic_samples([(p.rgb, p.region, p.pore_px) for p in photos], VALIDATION_PATCHES, seed=VALIDATION_SEED)
    if not samples:
        return None
    dog = synthetic_benchmark(samples, {"dog": dog_method})["dog"]
    log(f"validation: {len(samples)} synthetic patches of training photos, DoGPore object F1 {dog.f1:.3f}, Dice {dog.dice:.3f}")

    def validate() -> str:
        score = synthetic_benchmark(samples, {"net": net_method(net)})["net"]
        return (f"synthetic object F1 {score.f1:.3f} (precision {score.precision:.3f}, recall {score.recall:.3f}), "
                f"Dice {score.dice:.3f}")
    return validate


def stage_steps(steps: int, rounds: int, first_stage: bool = True) -> list[int]:
    """Steps of stage 1 (0 without ``first_stage``) and of each pseudo-label round; they add up to ``steps``."""
    if rounds == 0:
        return [steps]
    first = round(steps * FIRST_STAGE_SHARE) if first_stage else 0
    share = [(steps - first) * (k + 1) // rounds - (steps - first) * k // rounds for k in range(rounds)]
    return [first] + share


@torch.no_grad()
def fold_calibration(net: PSNet) -> None:
    """Moves ``net``'s calibration (logit scale s, shift c) into its last layers, exactly: the logit is
    bias + detail * gain, so s * logit + c = (s * bias + c) + (s * detail) * gain. Its raw logits are then
    calibrated, as the soft targets of its own pseudo labels are, and the calibration is the identity."""
    scale, shift = float(net.calibration.logit_scale), float(net.calibration.logit_bias)
    net.head.weight.mul_(scale)
    net.head.bias.mul_(scale)
    context_out = net.context.sampled[-1]  # channel 0 the gain, channel 1 the bias
    context_out.weight[1].mul_(scale)
    context_out.bias[1].mul_(scale).add_(shift)
    net.calibration.logit_scale.fill_(1.0)
    net.calibration.logit_bias.fill_(0.0)


def train(variant: Variant, cache_dir: Path, steps: int, rounds: int, checkpoint: Path, out: Path,
          batch_size: int = BATCH, synthetic_share: float = 0.0, init: Path | None = None,
          lr: float = LEARNING_RATE, rendered_pores: bool = False, log=print) -> None:
    photos = load_cache(cache_dir)
    if not photos:
        raise SystemExit(f"train psnet: no photos in {cache_dir}; run python -m poreseg.training.pore_patches first")
    log(f"{len(photos)} training photos, {sum(int(p.region.sum()) for p in photos) / 1e6:.1f} Mpx of pore region")
    net = build_net(variant)
    log(f"{variant.label}: {sum(p.numel() for p in net.parameters()):,} parameters")
    rounds = rounds if variant.progressive else 0
    if init:
        if not isinstance(net, PSNet):
            raise SystemExit("train psnet: --init needs PS-Net")
        net.load_state_dict(load_state("psnet", init))
        fold_calibration(net)
        log(f"stage 1 is {init}")
    labels = [photo.labels for photo in photos]
    validate = synthetic_validation(photos, net, log)
    for stage, length in enumerate(stage_steps(steps, rounds, first_stage=init is None)):
        if length == 0:
            continue
        stage_checkpoint = checkpoint.with_suffix(f".stage{stage + 1}.ckpt")
        if stage > 0:
            folder = cache_dir.parent / "pores_pseudo" / f"{checkpoint.stem}_round{stage}"
            labels = pseudo_labels(net, photos, labels, folder, stage_checkpoint.exists(), log)
        log(f"stage {stage + 1}: {length} steps on {'coarse' if stage == 0 else f'round {stage} pseudo'} labels")
        stage_batches = timed(batches(photos, labels, batch_size, stage, synthetic_share,
                                      rendered_pores and stage == 0), log)
        loop.train(net, stage_batches, pore_loss, length, stage_checkpoint, lr=lr,
                   validate=validate, every=CHECKPOINT_EVERY, log=log)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict()}, out)
    log(f"saved {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg train psnet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="built by poreseg.training.pore_patches")
    parser.add_argument("--arch", choices=("psnet", "unet"), default="psnet", help="unet: the plain U-Net baseline")
    parser.add_argument("--no-hfa", action="store_true", help="ablation: without high-frequency attention")
    parser.add_argument("--no-bayes", action="store_true", help="ablation: without the Bayesian module")
    parser.add_argument("--no-progressive", action="store_true", help="ablation: coarse labels only, same steps")
    parser.add_argument("--steps", type=int, default=2000, help="all stages together")
    # A second round doubled the pseudo labels' pore share (0.36% -> 0.74%) and lowered validation object
    # F1 from 0.60 to 0.56: the network starts to confirm its own false positives.
    parser.add_argument("--rounds", type=int, default=1, help="pseudo-label rounds after stage 1")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--init", type=Path, help="a trained PS-Net (e.g. weights/psnet.pt) in place of stage 1; with --rounds 0, the start of stage 1")
    parser.add_argument("--lr", type=float, default=LEARNING_RATE, help="peak learning rate of every stage")
    parser.add_argument("--synthetic-share", type=float, default=0.0,
                        help="share of each batch with rendered pores and exact masks (synthetic_patches)")
    parser.add_argument("--rendered-pores", action="store_true",
                        help="stage 1: pores rendered into each real patch are its positives, DoGPore gives "
                             "its structures as negatives (synthetic_patches.pores_rendered_into)")
    # On the shared 2-core machine a second thread loses more to contention than it gains (measured, batch
    # 16: PS-Net 3.5 steps/s with one thread, 1.0-1.2 with two; U-Net 1.1 against 0.3 under load, 0.9
    # against 1.7 on a quieter machine).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", type=Path, help="default checkpoints/psnet[_VARIANT].ckpt (+ .stageK)")
    parser.add_argument("--out", type=Path, help="default weights/psnet.pt, ablations checkpoints/psnet_VARIANT.pt")
    args = parser.parse_args(argv)
    variant = variant_from_flags(args.arch, not args.no_hfa, not args.no_bayes, not args.no_progressive)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.time()
    log = lambda message: print(message, flush=True)  # noqa: E731
    train(variant, args.cache, args.steps, args.rounds, args.checkpoint or variant.default_checkpoint,
          args.out or variant.default_out, args.batch, args.synthetic_share, args.init, args.lr,
          args.rendered_pores, log)
    log(f"{variant.label} done in {(time.time() - started) / 3600:.2f} h in this run")


if __name__ == "__main__":
    main()
