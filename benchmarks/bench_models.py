"""CPU latency of our networks against the usual reference architectures, at the same input size.

    python benchmarks/bench_models.py [--runs 30] [--threads N]

References (random weights; only their cost matters):
  * BiSeNetResNet18: BiSeNet V1 (Yu et al., 2018) with a ResNet-18 context path, the architecture of
    the widely used face-parsing.PyTorch model, against FaceParserNet.
  * MobileNetV2UNet: MobileNetV2 encoder (width 1.0) with a U-Net decoder, the common light person
    segmenter, against PortraitNet.
All four models are timed up to full-resolution logits: ours emit logits at 1/4 (parser) and 1/2
(portrait) resolution and the caller upsamples them, so that upsampling is included here to compare
like with like. All four run as the pipeline runs its networks (poreseg.inference): exported to ONNX
with batch norms folded into the convolutions (poreseg.models.export), in ONNX Runtime sessions with the
app's options.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import poreseg  # noqa: E402, F401  (before onnxruntime: it switches ONNX Runtime's telemetry off)
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from poreseg.inference import SMALL_NETWORK_THREADS, session_options  # noqa: E402
from poreseg.models.export import to_onnx  # noqa: E402
from poreseg.portrait import DETAIL_SIZE  # noqa: E402
from poreseg.models.parser_net import FaceParserNet  # noqa: E402
from poreseg.models.portrait_net import PortraitNet  # noqa: E402

PARSER_P50_GOAL_MS = 60.0
PARSER_SPEEDUP_GOAL = 3.0
PORTRAIT_P50_GOAL_MS = 40.0
PORTRAIT_WEIGHTS_GOAL_MB = 2.0


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                 relu: nn.Module | None = None) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), relu if relu is not None else nn.ReLU(inplace=True))


# --------------------------------------------------------------------------- BiSeNet / ResNet-18

class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn_relu(c_in, c_out, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) + self.conv2(self.conv1(x)))


class ResNet18(nn.Module):
    """ImageNet ResNet-18 without the classifier; features at strides 8, 16 and 32."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f8 = self.layer2(self.layer1(self.stem(x)))
        f16 = self.layer3(f8)
        return f8, f16, self.layer4(f16)


class AttentionRefinement(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = conv_bn_relu(c_in, c_out)
        self.attention = conv_bn_relu(c_out, c_out, 1, relu=nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x * self.attention(F.adaptive_avg_pool2d(x, 1))


class FeatureFusion(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.fuse = conv_bn_relu(c_in, c_out, 1)
        self.attention = nn.Sequential(nn.Conv2d(c_out, c_out // 4, 1, bias=False), nn.ReLU(inplace=True),
                                       nn.Conv2d(c_out // 4, c_out, 1, bias=False), nn.Sigmoid())

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.fuse(torch.cat([spatial, context], 1))
        return x + x * self.attention(F.adaptive_avg_pool2d(x, 1))


class BiSeNetResNet18(nn.Module):
    """BiSeNet V1, layer sizes as in face-parsing.PyTorch (ARMs to 128 channels, FFM 256, head 256).

    The two auxiliary heads only supervise training and are left out; face-parsing.PyTorch also
    replaces the spatial path by the ResNet stride-8 feature, which is kept here as in the paper.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.backbone = ResNet18()
        self.spatial = nn.Sequential(conv_bn_relu(3, 64, 7, 2), conv_bn_relu(64, 64, 3, 2),
                                     conv_bn_relu(64, 64, 3, 2), conv_bn_relu(64, 128, 1))
        self.global_context = conv_bn_relu(512, 128, 1)
        self.arm32 = AttentionRefinement(512, 128)
        self.arm16 = AttentionRefinement(256, 128)
        self.head32 = conv_bn_relu(128, 128)
        self.head16 = conv_bn_relu(128, 128)
        self.ffm = FeatureFusion(256, 256)
        self.out = nn.Sequential(conv_bn_relu(256, 256), nn.Conv2d(256, num_classes, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f8, f16, f32 = self.backbone(x)
        context = self.arm32(f32) + self.global_context(F.adaptive_avg_pool2d(f32, 1))
        context = self.head32(F.interpolate(context, size=f16.shape[-2:], mode="nearest"))
        context = self.arm16(f16) + context
        context = self.head16(F.interpolate(context, size=f8.shape[-2:], mode="nearest"))
        logits = self.out(self.ffm(self.spatial(x), context))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=True)


# --------------------------------------------------------------------------- MobileNetV2 U-Net

class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1, expand: int = 6):
        super().__init__()
        hidden = c_in * expand
        layers = [conv_bn_relu(c_in, hidden, 1, relu=nn.ReLU6(inplace=True))] if expand != 1 else []
        self.block = nn.Sequential(*layers, conv_bn_relu(hidden, hidden, 3, stride, hidden, nn.ReLU6(inplace=True)),
                                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV2UNet(nn.Module):
    """Standard MobileNetV2 features (incl. the 1280-channel last conv) and a U-Net decoder: transposed
    convolutions up, concatenation with the encoder skip, an inverted residual to merge, as in the common
    Human-Segmentation-PyTorch UNet(MobileNetV2)."""

    # (expansion, channels, repeats, stride) of the MobileNetV2 paper, width multiplier 1.0.
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))

    def __init__(self, num_classes: int = 2):
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(3, 32, 3, 2, relu=nn.ReLU6(inplace=True))]
        c_in = 32
        for expand, c_out, repeats, stride in self.SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(c_in, c_out, stride if i == 0 else 1, expand))
                c_in = c_out
        layers.append(conv_bn_relu(320, 1280, 1, relu=nn.ReLU6(inplace=True)))
        self.features = nn.Sequential(*layers)
        # Skips are taken at the last layer of each resolution: 16 ch @1/2, 24 @1/4, 32 @1/8, 96 @1/16.
        self.skip_after = (1, 3, 6, 13)
        decoder, c_in = [], 1280
        for c_skip in (96, 32, 24, 16):
            decoder.append(nn.ModuleDict({"up": nn.ConvTranspose2d(c_in, c_skip, 4, 2, 1, bias=False),
                                          "merge": InvertedResidual(2 * c_skip, c_skip)}))
            c_in = c_skip
        self.decoder = nn.ModuleList(decoder)
        self.head = nn.Conv2d(16, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, y = [], x
        for i, layer in enumerate(self.features):
            y = layer(y)
            if i in self.skip_after:
                skips.append(y)
        for stage, skip in zip(self.decoder, reversed(skips)):
            y = stage["merge"](torch.cat([stage["up"](y), skip], 1))
        return F.interpolate(self.head(y), size=x.shape[-2:], mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- benchmark

class FullResolution(nn.Module):
    """Our nets plus the caller's bilinear upsampling, so that every model ends at input resolution."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.net(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weight_mb(model: nn.Module) -> float:
    """Size of the fp32 state dict (parameters and BatchNorm statistics), in 10^6 bytes."""
    return sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point()) / 1e6


def time_pair(calls: tuple[Callable[[], object], ...], runs: int, warmup: int = 5) -> list[list[float]]:
    """Milliseconds per run for each call. Runs alternate between the two so that both see the same
    background load, which on a shared machine drifts far more than the difference we measure."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(warmup):
        for call in calls:
            call()
    for _ in range(runs):
        for call, out in zip(calls, times):
            start = time.perf_counter()
            call()
            out.append((time.perf_counter() - start) * 1e3)
    return times


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per model (default 30)")
    parser.add_argument("--threads", type=int, default=SMALL_NETWORK_THREADS,
                        help=f"intra-op threads (default {SMALL_NETWORK_THREADS}, as the pipeline runs them)")
    args = parser.parse_args()
    torch.manual_seed(0)

    pairs = [
        ("Face parser", FaceParserNet(10), FaceParserNet.input_size, BiSeNetResNet18(10), "BiSeNet-R18"),
        ("Portrait", PortraitNet(), PortraitNet.input_size, MobileNetV2UNet(2), "MobileNetV2 U-Net"),
        # The same network's second, closer look at each photo (poreseg.portrait.DETAIL_SIZE).
        ("Portrait", PortraitNet(), DETAIL_SIZE, MobileNetV2UNet(2), "MobileNetV2 U-Net"),
    ]
    rows = []
    for task, ours, size, reference, ref_name in pairs:
        # Sizes as trained (batch norms and all), before folding changes the parameter count.
        sizes = {id(model): (param_count(model), weight_mb(model)) for model in (ours, reference)}
        sessions = tuple(onnxruntime.InferenceSession(to_onnx(model), session_options(args.threads))
                         for model in (FullResolution(ours), reference))
        x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        for model, session in zip((ours, reference), sessions):
            shape = session.run(None, {"x": x})[0].shape
            assert shape[-2:] == x.shape[-2:], f"{type(model).__name__}: output not at input size"
        ours_ms, ref_ms = time_pair(tuple(lambda s=s: s.run(None, {"x": x}) for s in sessions), args.runs)
        speedup = statistics.median(ref_ms) / statistics.median(ours_ms)
        for name, model, ms, is_ours in ((type(ours).__name__, ours, ours_ms, True),
                                         (ref_name, reference, ref_ms, False)):
            goal = ""
            params, megabytes = sizes[id(model)]
            p50 = statistics.median(ms)
            if task == "Face parser" and is_ours:
                goal = (f"p50 <= {PARSER_P50_GOAL_MS:.0f} ms: {'PASS' if p50 <= PARSER_P50_GOAL_MS else 'FAIL'}; "
                        f">= {PARSER_SPEEDUP_GOAL:.0f}x: {'PASS' if speedup >= PARSER_SPEEDUP_GOAL else 'FAIL'}")
            elif is_ours:
                goal = (f"p50 <= {PORTRAIT_P50_GOAL_MS:.0f} ms: {'PASS' if p50 <= PORTRAIT_P50_GOAL_MS else 'FAIL'}; "
                        f"<= {PORTRAIT_WEIGHTS_GOAL_MB:.0f} MB: "
                        f"{'PASS' if megabytes <= PORTRAIT_WEIGHTS_GOAL_MB else 'FAIL'}")
            rows.append((task, name, f"{size}x{size}", f"{params / 1e6:.2f} M", f"{megabytes:.2f}",
                         f"{p50:.1f}", f"{percentile(ms, 90):.1f}",
                         f"{speedup:.2f}x" if is_ours else "1.00x", goal))

    print(f"\n{args.runs} timed runs, {args.threads} threads, batch 1, fp32, "
          f"ONNX Runtime {onnxruntime.__version__}\n")
    header = ("Task", "Model", "Input", "Params", "Weights MB", "p50 ms", "p90 ms", "Speed-up vs ref", "Goal")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
