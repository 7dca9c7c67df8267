"""CPU time of PS-Net (with its Monte-Carlo draws) and of the plain U-Net on one 2048x2048 skin region.

    python benchmarks/bench_pores.py [--runs 5] [--threads 2] [--size 2048]

Both networks run the way the product runs PS-Net: ``PoreSegmenter`` prepares the input, cuts the
region into tiles on the 16-px grid (at most 768 px, 32 px of context on each side) and runs the
network's ONNX export (batch norms folded) in ONNX Runtime; PS-Net draws ``export.MC_SAMPLES``
Monte-Carlo samples per tile, the U-Net has nothing to sample. The region is a
synthetic skin texture with pores at their native size (no resampling); time does not depend on what
the pixels show. weights/psnet.onnx is used when it exists, random weights otherwise (only the cost is
measured); the U-Net always has random weights.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import poreseg  # noqa: E402, F401  (before onnxruntime: it switches ONNX Runtime's telemetry off)
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from bench_models import param_count, percentile, time_pair  # noqa: E402
from poreseg.models.export import MC_SAMPLES  # noqa: E402
from poreseg.models.psnet_net import PlainUNet, PSNet  # noqa: E402
from poreseg.pores import segment  # noqa: E402
from poreseg.weights import WEIGHTS_DIR  # noqa: E402

P50_GOAL_S = 1.5
PORE_PX = 4.0  # at most MAX_PORE_PX: the region is analysed at its own size


def skin_region_image(size: int, seed: int = 0) -> np.ndarray:
    """A size x size skin-coloured texture with dark dots of a few pixels."""
    rng = np.random.default_rng(seed)
    lum = rng.normal(160, 4, (size, size)).astype(np.float32)
    ys, xs = rng.integers(0, size, (2, size * size // 150))
    lum[ys, xs] *= 0.75
    return np.clip(np.stack([lum * 1.1, lum * 0.85, lum * 0.7], -1), 0, 255).astype(np.uint8)


def macs_per_pixel(model: nn.Module, size: int = 256) -> float:
    """Multiply-adds of the convolutions per input pixel (one deterministic pass)."""
    total = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):  # each input value is spread over kernel-size outputs
            total += inputs[0].numel() * module.out_channels * module.kernel_size[0] * module.kernel_size[1]
        else:
            total += output.numel() * per_output

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.inference_mode():
        model.eval()(torch.randn(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    return total / size ** 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per model (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    parser.add_argument("--size", type=int, default=2048, help="side of the square region (default 2048)")
    args = parser.parse_args()
    segment.PoreSegmenter.threads = args.threads
    torch.manual_seed(0)

    trained = (WEIGHTS_DIR / "psnet.onnx").exists()
    psnet = segment.PoreSegmenter.load() if trained else segment.PoreSegmenter.from_net(PSNet())
    unet = segment.PoreSegmenter.from_net(PlainUNet())
    rgb = skin_region_image(args.size)
    region = np.ones(rgb.shape[:2], bool)
    calls = tuple(lambda s=s: s(rgb, region, PORE_PX) for s in (psnet, unet))
    psnet_s, unet_s = ([t / 1e3 for t in times] for times in time_pair(calls, args.runs, warmup=1))
    ratio = statistics.median(psnet_s) / statistics.median(unet_s)

    print(f"\n{args.runs} timed runs each, alternating, {args.threads} threads, region {args.size}x{args.size}, "
          f"fp32, ONNX Runtime {onnxruntime.__version__}; PS-Net with {MC_SAMPLES} Monte-Carlo draws, "
          f"{'weights/psnet.onnx' if trained else 'random weights (weights/psnet.onnx not exported yet)'}")
    # Other work on the machine slows every threaded operation down: say how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end\n")
    header = ("Model", "Params", "MACs/px", "p50 s", "p90 s", "Time vs U-Net")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name, model, times in (("PS-Net", PSNet(), psnet_s), ("Plain U-Net", PlainUNet(), unet_s)):
        share = statistics.median(times) / statistics.median(unet_s)
        print(f"| {name} | {param_count(model) / 1e6:.2f} M | {macs_per_pixel(model):,.0f} | "
              f"{statistics.median(times):.2f} | {percentile(times, 90):.2f} | {share:.2f}x |")
    p50 = statistics.median(psnet_s)
    print(f"\nGoal PS-Net p50 <= {P50_GOAL_S} s: {'PASS' if p50 <= P50_GOAL_S else 'FAIL'} ({p50:.2f} s); "
          f"no slower than the U-Net: {'PASS' if ratio <= 1 else 'FAIL'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
