"""poreseg: facial skin analysis (face parsing, portrait segmentation and pore segmentation).

The public API, one name per stage a user calls::

    import poreseg
    rgb = poreseg.load_image("photo.jpg")
    analysis = poreseg.analyze(rgb, poreseg.AnalysisOptions(method="dog"))
    analysis.to_dict()  # report.json, schema 1

Everything else lives in the submodules (poreseg.report, poreseg.draw, ...), which are public but not
re-exported here.
"""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

# OpenMP threads that spin while waiting for each other starve everything else on a 2-core machine
# (measured: face parsing 13 s instead of 0.4 s next to another busy process). For PyTorch (training and
# evaluation; the app's ONNX Runtime sessions are set not to spin), so it must be set before torch loads;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# ONNX Runtime's usage telemetry: off. Its import otherwise writes a session file (.ses) into the temporary
# folder, which the privacy tests catch, and it may report events over the network; neither belongs in an
# app that analyses faces. Read as onnxruntime loads (poreseg.inference also switches the events off).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from poreseg.classes import CLASSES  # noqa: E402

__version__ = "0.1.0"

# Model-backed names import ONNX Runtime on first use only: `import poreseg` stays light for the command
# line's --help and for the training-only teacher environment, which has no ONNX Runtime.
_LAZY = {
    "analyze": "poreseg.analysis",
    "AnalysisOptions": "poreseg.analysis",
    "Analysis": "poreseg.analysis",
    "AnalysisError": "poreseg.analysis",
    "load_image": "poreseg.imageio",
    "ImageLoadError": "poreseg.imageio",
    "parse_face": "poreseg.parsing",
    "FaceParsing": "poreseg.parsing",
    "segment_portrait": "poreseg.portrait",
    "segment_pores": "poreseg.pores.segment",
    "PoreResult": "poreseg.pores.segment",
}

__all__ = ["__version__", "CLASSES", *_LAZY]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on demand (__all__)
    from poreseg.analysis import Analysis, AnalysisError, AnalysisOptions, analyze  # noqa: F401
    from poreseg.imageio import ImageLoadError, load_image  # noqa: F401
    from poreseg.parsing import FaceParsing, parse_face  # noqa: F401
    from poreseg.pores.segment import PoreResult, segment_pores  # noqa: F401
    from poreseg.portrait import segment_portrait  # noqa: F401


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'poreseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # imported once; later look-ups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
