"""The trained networks as ONNX graphs: what the runtime (``poreseg.inference``, ONNX Runtime) runs, so that
the app, the command line and the Python API need no PyTorch.

    python -m poreseg.models.export [face_parser] [portrait] [psnet]

writes ``weights/NAME.onnx`` from ``weights/NAME.pt`` (all three without names); the model card then needs
its ONNX sha256 (``python -m poreseg.training.model_card NAME --refresh``). Needs PyTorch and onnx
(requirements-dev.txt), like training.

A graph computes what the runtime asks of its network, on one (1, 3, H, W) float32 image of any size:
the face parser's and the portrait network's logits; for a pore network, ``predict``: its probability
and uncertainty (1, 2, H, W), the mean and spread of ``samples`` Monte-Carlo draws, whose dropout masks
come from a fixed seed and so are constants of the graph (the same masks as PyTorch draws). Its
calibrated threshold is in the graph's metadata (``threshold``), and an export of shipped weights names
the trained file it came from (``weights_sha256``). Batch norms are folded into the convolutions first.
"""
from __future__ import annotations

import argparse
import copy
import io
import sys
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from poreseg.classes import CLASSES
from poreseg.models.parser_net import FaceParserNet
from poreseg.models.portrait_net import PortraitNet
from poreseg.models.psnet_net import PSNet, monte_carlo

# The untrained network each shipped weights file is loaded into, by weights name.
NETWORKS = {"face_parser": lambda: FaceParserNet(len(CLASSES)), "portrait": PortraitNet, "psnet": PSNet}
OPSET = 17
# Monte-Carlo draws of an exported pore network: 16% of PS-Net's time on a 768 px tile (332 ms against
# 280 ms for one). Fewer draws change what is reported (issue 15, 1350x1800 portrait and lisa_15cm): with
# 6 the pore mask keeps an IoU of 0.92 with 8 draws', with 4 of 0.79, and 11-37 pores are called
# uncertain instead of 2-5.
MC_SAMPLES = 8


def prepare_for_inference(net: nn.Module) -> nn.Module:
    """``net`` itself, changed for CPU inference: in eval mode, batch norms folded into the convolutions
    before them, and channels-last weights (the memory order in which oneDNN's depthwise convolutions
    run many times faster: 30x on a 48-channel map here; for PyTorch callers such as the benchmarks).

    Folding changes the outputs by float rounding only (measured: at most 5e-6 on the parser's logits).
    """
    net.eval()
    for module in net.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], nn.Conv2d) and isinstance(module[i + 1], nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(module[i], module[i + 1])
                    module[i + 1] = nn.Identity()
    return net.to(memory_format=torch.channels_last)


def inference_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` prepared for CPU inference, for a caller that goes on training its own."""
    return prepare_for_inference(copy.deepcopy(net))


class Prediction(nn.Module):
    """A pore network's ``predict`` as a module: (1, 2, H, W), probability then uncertainty."""

    def __init__(self, net: nn.Module, samples: int):
        super().__init__()
        self.net, self.samples = net, samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.net.predict(x, self.samples), dim=1)


def to_onnx(net: nn.Module, samples: int = MC_SAMPLES, weights_sha256: str | None = None) -> bytes:
    """The serialised ONNX graph of a copy of ``net`` (left as it is): a pore network (one with
    ``predict``) as its prediction from ``samples`` draws, any other as its logits."""
    net = inference_copy(net)
    pore_network = hasattr(net, "predict")
    module = Prediction(net, samples) if pore_network else net
    example = torch.zeros(1, 3, 256, 256)
    buffer = io.BytesIO()
    # The masks are drawn before tracing, so the graph holds them as constants. The tracer's warnings
    # (shapes read as Python numbers) concern the batch size, which is always 1 here. The TorchScript
    # exporter is deprecated, but the newer one needs onnxscript, and its graphs are the same here.
    with torch.no_grad(), monte_carlo(net, samples), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (example,), buffer, input_names=["x"], output_names=["y"], opset_version=OPSET,
                          dynamic_axes={"x": {2: "height", 3: "width"}, "y": {2: "height", 3: "width"}},
                          dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    metadata = {"threshold": f"{float(net.calibration.threshold):.9g}"} if pore_network else {}
    if weights_sha256:
        metadata["weights_sha256"] = weights_sha256
    onnx.helper.set_model_props(model, metadata)
    return model.SerializeToString()


def load_network(name: str, path: Path | None = None) -> nn.Module:
    """The network of ``weights/NAME.pt`` (or of ``path``, a trained file of that network), checked as
    ``poreseg.weights.load_weights`` does."""
    from poreseg.weights import load_weights

    return load_weights(NETWORKS[name](), name, path)


def export_weights(name: str, net: nn.Module | None = None) -> Path:
    """Writes ``weights/NAME.onnx``, the export of ``weights/NAME.pt``; returns its path. ``net``: that file's
    network, already loaded by a caller that checked it (the model card's writer, for weights newer than
    the card); otherwise it is loaded and checked against the card."""
    from poreseg.weights import WEIGHTS_DIR, sha256, weights_path

    trained = weights_path(name)
    graph = to_onnx(net if net is not None else load_network(name), weights_sha256=sha256(trained))
    target = WEIGHTS_DIR / f"{name}.onnx"
    target.with_suffix(".onnx.tmp").write_bytes(graph)
    target.with_suffix(".onnx.tmp").replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the shipped weights to ONNX (weights/NAME.onnx).")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"networks to export: {', '.join(NETWORKS)} "
                                                                   "(default: all)")
    names = parser.parse_args(argv).names or list(NETWORKS)
    unknown = [name for name in names if name not in NETWORKS]
    if unknown:
        parser.error(f"unknown network {unknown[0]!r}: choose from {', '.join(NETWORKS)}")
    for name in names:
        print(f"wrote {export_weights(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
