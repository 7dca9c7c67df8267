"""What a person reads when a photo cannot be analysed (one line, never a traceback, no server paths), and
the pop-up after an analysis that worked."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

from poreseg.analysis import Analysis, AnalysisError
from poreseg.imageio import ImageLoadError
from poreseg.weights import WeightsError


_DIRECTORIES = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s:()]+)+[/\\]")


@dataclass
class Failure:
    """Why a photo was not analysed, for the user: a title and one line."""

    title: str
    detail: str

    @property
    def markdown(self) -> str:
        return f"**{self.title}.** {html.escape(self.detail)}"

    @property
    def text(self) -> str:
        return f"{self.title}. {self.detail}"


NO_IMAGE = Failure("No image", "Upload a photo, take one with the webcam, paste one, or pick an example.")


def hide_directories(text: str) -> str:
    """``text`` with absolute paths cut to their file names: messages name the file, not the server's folders."""
    return _DIRECTORIES.sub("", text)


def failure(error: Exception) -> Failure:
    """The message for an error raised while reading or analysing a photo; never a traceback."""
    detail = hide_directories(str(error))
    if isinstance(error, ImageLoadError):
        return Failure("Could not read the image", detail)
    if isinstance(error, AnalysisError):
        return Failure("Cannot analyse this photo", detail)
    if isinstance(error, WeightsError):
        if "psnet" in detail:
            return Failure("PS-Net is not available on this server",
                           f"{detail}. Choose DoGPore, which needs no trained model.")
        return Failure("The models could not load", detail)
    return Failure("Analysis failed", f"an unexpected {type(error).__name__} stopped the analysis. Nothing was "
                                      "kept; try again, with another photo or with DoGPore.")


def alert(analysis: Analysis) -> str | None:
    """What is worth a pop-up after an analysis that worked: several faces, or no pores measured."""
    lines = []
    if analysis.parsing.faces_found > 1:
        lines.append(f"{analysis.parsing.faces_found} faces found; the largest one was analysed.")
    if not analysis.pores_measured:
        lines.append("Pores could not be measured in this photo; the Overview tab says why.")
    return " ".join(lines) or None
