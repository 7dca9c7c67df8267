"""The networks loaded before the first visitor comes (app.py at start-up; the benchmarks)."""
from __future__ import annotations

from dashboard.messages import hide_directories
from poreseg.parsing import FaceParser
from poreseg.pores.segment import PoreSegmenter
from poreseg.portrait import PortraitSegmenter
from poreseg.weights import WeightsError


def warm_up() -> str | None:
    """Load the networks' shared sessions, so that the first visitor does not wait for them. Raises
    WeightsError when the face parser or the portrait network cannot load (nothing works without them);
    returns why PS-Net is not available, or None when it is."""
    FaceParser.shared()
    PortraitSegmenter.shared()
    try:
        PoreSegmenter.shared()
    except WeightsError as error:
        return hide_directories(str(error))
    return None
