"""Networks prepared for CPU inference, and the session base the face parser, the portrait network and
PS-Net run in (ModelSession)."""
from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from poreseg.weights import load_weights

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11 on


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


class ModelSession:
    """A network prepared for CPU inference, and the calls on images around it (FaceParser,
    PortraitSegmenter, PoreSegmenter).

    ``shared()`` is the process's one session of a class, loaded from its shipped weights on first use,
    under a lock, so that requests arriving together on Gradio's worker threads load it once. ``load``
    reads other weights, ``from_net`` wraps a network in memory (training-time validation, an
    evaluation), and ``swapped`` puts another session in the shared one's place for a while (tests).
    """

    weights_name: ClassVar[str]  # weights/NAME.pt and its model card NAME.md
    _shared: ClassVar[dict[type, "ModelSession"]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, net: nn.Module):
        self.net = net  # prepared for inference (prepare_for_inference)

    @staticmethod
    def build_net() -> nn.Module:
        """The untrained network that the weights are loaded into."""
        raise NotImplementedError

    @classmethod
    def load(cls, weights: Path | None = None, **options) -> Self:
        """A session of ``weights/NAME.pt`` (or ``weights``), checked against its model card."""
        return cls(prepare_for_inference(load_weights(cls.build_net(), cls.weights_name, weights)), **options)

    @classmethod
    def from_net(cls, net: nn.Module, **options) -> Self:
        """A session around a copy of a network in memory, which its owner may go on training."""
        return cls(inference_copy(net), **options)

    @classmethod
    def shared(cls) -> Self:
        session = cls._shared.get(cls)
        if session is None:
            with cls._lock:
                session = cls._shared.get(cls)
                if session is None:
                    session = cls._shared[cls] = cls.load()
        return session

    @classmethod
    @contextmanager
    def swapped(cls, session: Self | None) -> Iterator[None]:
        """``session`` is the shared one inside the ``with`` block (None: none is loaded yet, as in a fresh
        process); the previous one is back after it."""
        with cls._lock:
            previous = cls._shared.pop(cls, None)
            if session is not None:
                cls._shared[cls] = session
        try:
            yield
        finally:
            with cls._lock:
                cls._shared.pop(cls, None)
                if previous is not None:
                    cls._shared[cls] = previous


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
