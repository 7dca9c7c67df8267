"""Networks prepared for CPU inference: batch norms folded and channels-last weights change the outputs by
float rounding only, and leave the network they were copied from as it was."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from poreseg.inference import inference_copy
from poreseg.models.parser_net import FaceParserNet
from poreseg.models.portrait_net import PortraitNet


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


def test_a_network_runs_on_at_most_its_threads_and_the_setting_comes_back():
    from poreseg.inference import intra_op_threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with intra_op_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        with intra_op_threads(2):  # never more than the process is set to
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
