"""poreseg: facial skin analysis (face parsing, portrait segmentation and pore segmentation)."""
import os

# OpenMP threads that spin while waiting for each other starve everything else on a 2-core machine
# (measured: face parsing 13 s instead of 0.4 s next to another busy process). Must be set before torch
# loads; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from poreseg.classes import CLASSES  # noqa: E402

__all__ = ["CLASSES", "parse_face", "segment_portrait", "segment_pores", "FaceParsing", "PoreResult"]


def __getattr__(name: str):
    # Model-backed entry points import torch; keep `import poreseg` light for the CLI and the
    # training-only teacher environment, which has no torch.
    if name in ("parse_face", "FaceParsing"):
        from poreseg import parsing
        return getattr(parsing, name)
    if name == "segment_portrait":
        from poreseg.portrait import segment_portrait
        return segment_portrait
    if name in ("segment_pores", "PoreResult"):
        from poreseg.pores import segment
        return getattr(segment, name)
    raise AttributeError(f"module 'poreseg' has no attribute {name!r}")
