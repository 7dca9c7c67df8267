"""The runtime runs the networks as ONNX graphs (poreseg.inference, poreseg.models.export): a graph computes
what its PyTorch network computes, the shipped graphs are the exports of the shipped weights, and an
analysis never imports torch. Also: a network prepared for CPU inference (batch norms folded) computes
what it computed before, and leaves the network it was copied from as it was."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from conftest import REPO_ROOT, requires_models, requires_weights
from poreseg.models.export import MC_SAMPLES, NETWORKS, inference_copy, load_network
from poreseg.models.parser_net import FaceParserNet
from poreseg.models.portrait_net import PortraitNet
from poreseg.models.psnet_net import INPUT_MULTIPLE, PlainUNet, PSNet
from poreseg.parsing import FaceParser
from poreseg.portrait import PortraitSegmenter
from poreseg.pores import segment
from poreseg.pores.segment import PoreSegmenter
from poreseg.weights import WEIGHTS_DIR, expected_sha256, sha256


def with_trained_statistics(net: nn.Module) -> nn.Module:
    """``net`` in training mode, its batch norms given statistics and affine parameters far from the
    identity, as training leaves them, so that folding has something to fold."""
    generator = torch.Generator().manual_seed(0)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(size, generator=generator) * 2 + 0.1)
            module.weight.data.copy_(torch.randn(size, generator=generator))
            module.bias.data.copy_(torch.randn(size, generator=generator))
    return net.train()


@pytest.mark.parametrize("make_net", [lambda: FaceParserNet(10), PortraitNet], ids=["face parser", "portrait"])
def test_the_inference_copy_computes_what_the_network_computes(make_net):
    torch.manual_seed(0)
    net = with_trained_statistics(make_net())
    norms_before = sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    fast = inference_copy(net)
    # The copy has no batch norm left after a convolution; the original is untouched and still training.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules()) < norms_before / 2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == norms_before and net.training
    assert not fast.training
    x = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        expected = net.eval()(x)
        for memory_format in (torch.contiguous_format, torch.channels_last):
            got = fast(x.contiguous(memory_format=memory_format))
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def reference_output(net: nn.Module, x: np.ndarray, samples: int = MC_SAMPLES) -> np.ndarray:
    """What the runtime asks of ``net``, computed by PyTorch: logits, or a pore network's prediction."""
    with torch.inference_mode():
        tensor = torch.from_numpy(x)
        if hasattr(net, "predict"):
            return torch.cat(net.eval().predict(tensor, samples), dim=1).numpy()
        return net.eval()(tensor).numpy()


@pytest.mark.parametrize("session_class, make_net, sizes", [
    (FaceParser, lambda: FaceParserNet(10), [(256, 256), (128, 192)]),
    (PortraitSegmenter, PortraitNet, [(256, 256), (192, 128)]),
    (PoreSegmenter, PSNet, [(96, 160), (64, 64)]),
    (PoreSegmenter, PlainUNet, [(96, 160)]),
], ids=["face parser", "portrait", "PS-Net", "plain U-Net"])
def test_the_exported_graph_computes_what_the_network_computes_at_any_size(session_class, make_net, sizes):
    torch.manual_seed(0)
    net = with_trained_statistics(make_net()).eval()
    session = session_class.from_net(net)
    rng = np.random.default_rng(0)
    for height, width in sizes:
        x = rng.standard_normal((1, 3, height, width)).astype(np.float32)
        np.testing.assert_allclose(session.run(x), reference_output(net, x), rtol=1e-4, atol=1e-4)
    assert net.training is False and any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # left as it was


def test_an_exported_pore_network_keeps_its_draws_and_threshold():
    """The Monte-Carlo masks are constants of the graph (the same answer every run, and PyTorch's), the
    draws are the ones asked for, and the calibrated threshold travels in the metadata."""
    torch.manual_seed(0)
    net = PSNet().eval()
    net.calibration.threshold.fill_(0.3125)
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 96)).astype(np.float32)
    four = PoreSegmenter.from_net(net, samples=4)
    assert four.threshold == 0.3125
    first = four.run(x)
    np.testing.assert_array_equal(four.run(x), first)
    np.testing.assert_allclose(first, reference_output(net, x, samples=4), rtol=1e-4, atol=1e-5)
    assert first[0, 1].max() > 0  # the draws differ: an uncertainty
    eight = PoreSegmenter.from_net(net).run(x)
    assert not np.allclose(eight, first)


def test_the_runtime_constants_match_the_networks():
    from poreseg import parsing, portrait

    assert parsing.INPUT_SIZE == FaceParserNet.input_size
    assert portrait.INPUT_SIZE == PortraitNet.input_size
    assert segment.INPUT_MULTIPLE == INPUT_MULTIPLE and segment.TILE_MARGIN % INPUT_MULTIPLE == 0


@pytest.mark.parametrize("name", list(NETWORKS))
def test_each_shipped_graph_is_the_export_of_the_shipped_weights(name):
    if not (WEIGHTS_DIR / f"{name}.pt").exists():
        pytest.skip(f"weights/{name}.pt not trained")
    graph = WEIGHTS_DIR / f"{name}.onnx"
    assert sha256(graph) == expected_sha256(name, "onnx"), "run python -m poreseg.training.model_card NAME --refresh"
    session = {"face_parser": FaceParser, "portrait": PortraitSegmenter, "psnet": PoreSegmenter}[name].load()
    assert session.metadata["weights_sha256"] == sha256(WEIGHTS_DIR / f"{name}.pt") == expected_sha256(name)
    net = inference_copy(load_network(name))
    x = np.random.default_rng(2).standard_normal((1, 3, 256, 192)).astype(np.float32)
    np.testing.assert_allclose(session.run(x), reference_output(net, x), rtol=1e-4, atol=1e-4)
    if name == "psnet":
        assert session.threshold == pytest.approx(float(net.calibration.threshold))


@requires_models
@requires_weights("psnet")
def test_an_analysis_never_imports_torch():
    script = ("import sys\n"
              "from poreseg.analysis import AnalysisOptions, analyze\n"
              "from poreseg.imageio import load_image\n"
              "analyze(load_image(sys.argv[1]), AnalysisOptions(method='psnet'))\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))\n")
    result = subprocess.run([sys.executable, "-c", script, str(REPO_ROOT / "examples" / "lisa1.jpg")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_small_networks_run_on_one_thread_and_ps_net_on_all():
    from poreseg.inference import ALL_THREADS, SMALL_NETWORK_THREADS, session_options

    assert FaceParser.threads == PortraitSegmenter.threads == SMALL_NETWORK_THREADS == 1
    assert PoreSegmenter.threads == ALL_THREADS >= 1
    options = session_options(SMALL_NETWORK_THREADS)
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
