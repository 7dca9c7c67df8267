"""What the demo shows for one image: the library's results composed into pictures and a status line.

The web app (``app.py``) only lays these out; everything it displays comes from here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poreseg import draw
from poreseg.imageio import as_rgb8


@dataclass
class ParsingViews:
    labels_overlay: np.ndarray  # HxWx3 uint8: the image tinted with the face parsing classes
    person_overlay: np.ndarray  # HxWx3 uint8: the image tinted with the portrait matte
    status: str  # one Markdown line: how many faces were found and which one was parsed
    faces_found: int


def faces_status(faces_found: int) -> str:
    """The status line for ``faces_found`` faces (the largest one is the one parsed)."""
    if faces_found == 0:
        return "**No face found.** The portrait matte is still shown."
    if faces_found == 1:
        return "**1 face found.**"
    return f"**{faces_found} faces found;** parsed the largest."


def parsing_views(rgb: np.ndarray) -> ParsingViews:
    """Parse the largest face and segment the person of an RGB image, as overlays at the image's size.

    Grey, RGBA, 16-bit and float arrays are converted like ``parse_face`` does. The networks load on
    first use (``poreseg.weights.WeightsError`` if a weights file is missing or does not match its card).
    """
    from poreseg import parse_face, segment_portrait  # imports torch: only when there is work to do

    rgb = as_rgb8(rgb)
    parsing = parse_face(rgb)
    person = segment_portrait(rgb)
    return ParsingViews(
        labels_overlay=draw.overlay_labels(rgb, parsing.labels),
        person_overlay=draw.overlay_mask(rgb, person),
        status=faces_status(parsing.faces_found),
        faces_found=parsing.faces_found,
    )
