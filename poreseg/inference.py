"""The session base the face parser, the portrait network and PS-Net run in (ModelSession): an ONNX
Runtime session of the network's graph (``weights/NAME.onnx``, exported from the trained PyTorch weights
by ``poreseg.models.export``). Nothing the app runs imports PyTorch: it took 1.1 s and over 200 MB of a
fresh process, against 0.1 s and 45 MB for ONNX Runtime, which runs these networks as fast or faster.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import onnxruntime

from poreseg.weights import WeightsError, onnx_path

onnxruntime.disable_telemetry_events()  # in case onnxruntime was imported before poreseg (poreseg/__init__.py)

if TYPE_CHECKING:
    from torch import nn
    from typing_extensions import Self  # typing.Self from Python 3.11 on

# Intra-op threads of the two small networks (256x256 inputs). Measured in the app's mode (benchmarks/
# bench_threads.py, 2 cores): their operations are too small to share, and the second thread's wake-ups
# cost more than it computes (parser 13 ms on 1 thread against 17 ms on 2, portrait 11 against 31 ms,
# with other work beside them). PS-Net's tiles gain from more: one per CPU this process may use (ONNX
# Runtime's own default was 25% slower here: 76 against 61 ms on a 576 px tile, 2 cores).
SMALL_NETWORK_THREADS = 1
ALL_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def session_options(threads: int, lean: bool = False) -> onnxruntime.SessionOptions:
    """Options of a session on ``threads`` intra-op threads; ``lean``: for large inputs of varying sizes
    (PS-Net's tiles), without the blocked-layout rewrite and the memory pattern (see PoreSegmenter.lean)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if lean:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.enable_mem_pattern = False
    # Threads that spin while waiting for work starve everything else on a 2-core machine (measured with
    # PyTorch's OpenMP: face parsing 13 s instead of 0.4 s next to another busy process).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no warnings about the graph on every start
    return options


class ModelSession:
    """A network's ONNX Runtime session, and the calls on images around it (FaceParser,
    PortraitSegmenter, PoreSegmenter).

    ``shared()`` is the process's one session of a class, loaded from its shipped graph on first use,
    under a lock, so that requests arriving together on Gradio's worker threads load it once. ``load``
    reads other weights, ``from_net`` exports a PyTorch network in memory (training-time validation, an
    evaluation; both need PyTorch), and ``swapped`` puts another session in the shared one's place for a
    while (tests). A session may run on several threads at once.
    """

    weights_name: ClassVar[str]  # weights/NAME.onnx, weights/NAME.pt and their model card NAME.md
    threads: ClassVar[int] = SMALL_NETWORK_THREADS
    lean: ClassVar[bool] = False  # session_options
    _shared: ClassVar[dict[type, "ModelSession"]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, graph: bytes | Path):
        """``graph``: an ONNX file, or its bytes (poreseg.models.export.to_onnx)."""
        source = graph if isinstance(graph, bytes) else str(graph)
        try:
            self.session = onnxruntime.InferenceSession(source, session_options(self.threads, self.lean),
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own unrelated types for a damaged file
            where = "" if isinstance(graph, bytes) else f"{graph} "
            raise WeightsError(f"model weights unreadable: {where}({str(error).splitlines()[0]})") from error
        self.metadata: dict[str, str] = self.session.get_modelmeta().custom_metadata_map
        # A run hands its working memory back: kept, the three sessions' arenas held their largest
        # inputs' (a 12 MP analysis peaked at 391 MB instead of 336 MB with this and the trims in
        # PoreSegmenter.probability). Handing it back costs: 40 ms of a 56 ms PS-Net tile (752 px), so
        # runs in a series keep it until the last.
        self.releasing_run = onnxruntime.RunOptions()
        self.releasing_run.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.keeping_run = onnxruntime.RunOptions()

    def run(self, x: np.ndarray, release: bool = True) -> np.ndarray:
        """The graph's output for one (1, 3, H, W) float32 input; ``release``: hand the run's working
        memory back afterwards (not between the runs of a series, but after its last)."""
        options = self.releasing_run if release else self.keeping_run
        return self.session.run(None, {"x": np.ascontiguousarray(x, np.float32)}, options)[0]

    @classmethod
    def load(cls, weights: Path | None = None, **export_options) -> Self:
        """A session of ``weights/NAME.onnx`` checked against its model card, or of ``weights``: an ONNX
        file, or a trained PyTorch file of this network (a checkpoint under evaluation, exported on the
        spot with ``export_options``; needs PyTorch)."""
        if weights is None:
            return cls(onnx_path(cls.weights_name))
        if Path(weights).suffix == ".onnx":
            return cls(Path(weights))
        from poreseg.models.export import load_network, to_onnx

        return cls(to_onnx(load_network(cls.weights_name, Path(weights)), **export_options))

    @classmethod
    def from_net(cls, net: nn.Module, **export_options) -> Self:
        """A session of a PyTorch network in memory, exported (its owner may go on training it)."""
        from poreseg.models.export import to_onnx

        return cls(to_onnx(net, **export_options))

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
