"""Calibrate a trained pore network and choose its threshold on validation patches; store both in its weights.

    python -m poreseg.training.calibrate_psnet WEIGHTS [--cache cache/pores] [--variant psnet|no_hfa|...]

Validation data: pores rendered (``synth.render_pores``, calibrated to hand-marked real pores) into
pore-free patches of the *training* photos of the cache, at a seed of their own; the held-out photos stay
for the evaluation. Two steps, each measured and printed:

1. Platt scaling: a logit scale and bias, fitted by logistic regression of the network's logits on the
   rendered ground truth, so that a pixel of probability p is a pore about p of the time (the expected
   calibration error, ECE, is printed before and after).
2. The threshold on the calibrated (Monte-Carlo mean) probability that gives the best pixel Dice.

Both go into the network's ``Calibration`` buffers, which travel with its state dict.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from poreseg.pores.segment import PoreSegmenter, prepare_input
from poreseg.training.pore_patches import DEFAULT_CACHE, load_cache
from poreseg.training.pore_variants import VARIANTS, build_net
from poreseg.training.pore_scoring import synthetic_samples

VALIDATION_PATCHES = 48
VALIDATION_SEED = 11
THRESHOLDS = np.round(np.arange(0.1, 0.91, 0.05), 2)
ECE_BINS = 10


@dataclass(frozen=True)
class CalibrationResult:
    logit_scale: float
    logit_bias: float
    threshold: float
    dice: float  # pixel Dice on the validation patches at the threshold
    ece_before: float
    ece_after: float

    def summary(self) -> str:
        return (f"logit scale {self.logit_scale:.3f}, bias {self.logit_bias:.3f}; ECE {self.ece_before:.4f} -> "
                f"{self.ece_after:.4f}; threshold {self.threshold:.2f} (validation pixel Dice {self.dice:.3f})")


def expected_calibration_error(probability: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |predicted probability - observed pore share| over equal-width probability bins, weighted by
    the pixels in each bin."""
    edges = np.minimum((probability * bins).astype(int), bins - 1)
    count = np.bincount(edges, minlength=bins)
    predicted = np.bincount(edges, probability, bins)
    observed = np.bincount(edges, truth.astype(np.float64), bins)
    return float(np.abs(predicted - observed).sum() / max(count.sum(), 1))


def logistic_loss(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    z = x @ w
    return float(np.mean(np.logaddexp(0, z) - y * z))


def fit_platt(logits: np.ndarray, truth: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Scale and bias minimising the logistic loss of ``sigmoid(scale * logits + bias)``: Newton steps,
    halved until the loss falls (a full step overshoots from far away)."""
    x = np.stack([logits.astype(np.float64), np.ones(logits.size)], 1)
    y = truth.astype(np.float64)
    w = np.array([1.0, 0.0])
    loss = logistic_loss(x, y, w)
    for _ in range(iterations):
        p = 0.5 * (1 + np.tanh(0.5 * (x @ w)))  # the sigmoid, without overflow
        gradient = x.T @ (p - y)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        while logistic_loss(x, y, w - step) > loss and np.abs(step).max() > 1e-9:
            step = step / 2
        w = w - step
        loss = logistic_loss(x, y, w)
        if np.abs(step).max() < 1e-6:
            break
    return float(w[0]), float(w[1])


def best_threshold(probability: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(threshold, pixel Dice) of the threshold in THRESHOLDS with the best Dice."""
    dice = [2 * np.sum((probability >= t) & truth) / max(np.sum(probability >= t) + truth.sum(), 1)
            for t in THRESHOLDS]
    best = int(np.argmax(dice))
    return float(THRESHOLDS[best]), float(dice[best])


@torch.no_grad()
def calibrate(net: torch.nn.Module, skins: list[tuple[np.ndarray, np.ndarray, float]],
              patches: int = VALIDATION_PATCHES, seed: int = VALIDATION_SEED) -> CalibrationResult:
    """Fits ``net.calibration`` on pores rendered into ``skins`` (rgb, region, pore_px) and sets it."""
    samples = synthetic_samples(skins, patches, seed=seed)
    net.eval()
    net.calibration.logit_scale.fill_(1.0)
    net.calibration.logit_bias.fill_(0.0)
    logits = np.concatenate([net(torch.from_numpy(prepare_input(s.rgb))).numpy().ravel() for s in samples])
    truth = np.concatenate([s.mask.ravel() for s in samples])
    ece_before = expected_calibration_error(1 / (1 + np.exp(-logits)), truth)
    scale, bias = fit_platt(logits, truth)
    net.calibration.logit_scale.fill_(scale)
    net.calibration.logit_bias.fill_(bias)
    segmenter = PoreSegmenter.from_net(net)
    whole = [np.ones(s.mask.shape, bool) for s in samples]
    probability = np.concatenate([segmenter(s.rgb, region, s.pore_px).probability.ravel()
                                  for s, region in zip(samples, whole)])
    threshold, dice = best_threshold(probability, truth)
    net.calibration.threshold.fill_(threshold)
    return CalibrationResult(scale, bias, threshold, dice, ece_before, expected_calibration_error(probability, truth))


def load_uncalibrated(path: Path, variant: str) -> torch.nn.Module:
    """The network of a weights file (of ``variant``, a name in ``pore_variants.VARIANTS``), with
    calibration buffers at their defaults if the file has none."""
    net = build_net(next(v for v in VARIANTS if v.name == variant))
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    defaults = {key: value for key, value in net.state_dict().items() if key.startswith("calibration.")}
    net.load_state_dict({**defaults, **state})
    return net


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg.training.calibrate_psnet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--variant", choices=[variant.name for variant in VARIANTS], default="psnet",
                        help="the network's variant (an ablation's weights are calibrated like the full model's)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    net = load_uncalibrated(args.weights, args.variant)
    photos = load_cache(args.cache)
    result = calibrate(net, [(p.rgb, p.region, p.pore_px) for p in photos])
    torch.save({"model": net.state_dict()}, args.weights)
    print(f"{args.weights}: {result.summary()}")


if __name__ == "__main__":
    main()
