"""Networks prepared for CPU inference: the face parser, the portrait network and PS-Net all run this way."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def prepare_for_inference(net: nn.Module) -> nn.Module:
    """``net`` itself, changed for CPU inference: in eval mode, batch norms folded into the convolutions
    before them, and channels-last weights, the memory order in which oneDNN's depthwise convolutions
    run many times faster (30x on a 48-channel map here). Inputs should be channels-last too (a tensor
    viewed from an HxWxC array is): a contiguous one is converted at the first convolution, and the
    outputs are channels-last either way.

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


# Intra-op threads of the two small networks (256x256 inputs). Measured in the app's mode, OpenMP
# threads waiting passively and the analysis on a worker thread (benchmarks/bench_threads.py, 2 cores):
# their operations are too small to share, and the second thread's wake-ups cost more than it computes
# (parser 13 ms on 1 thread against 17 ms on 2, portrait 11 against 31 ms, with other work beside
# them). PS-Net's 768 px tiles gain from a second thread (226 against 265 ms) and keep the process's
# setting.
SMALL_NETWORK_THREADS = 1


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Within the block, torch uses at most ``count`` intra-op threads (fewer if the process is set to fewer)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(min(count, previous))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
