"""What one browser session keeps between events (Session), the folder its pictures and downloads are
written to (``Session.close()`` removes it), and the session of each open tab (OpenSessions)."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from poreseg.analysis import AfterProduct, Analysis
from poreseg.report import PNG_COMPRESSION


SESSION_MINUTES = 10  # how long a session keeps its photo, analysis and files after an analysis
NO_SESSION = f"Analyse a photo first (results are kept for {SESSION_MINUTES} minutes after an analysis)."
# Photos larger than this (on the long side) are shown shrunk: a 12 MP phone photo (4000 px) still shows
# at full resolution, a 100 MP one would make a phone's browser give up.
DISPLAY_MAX_SIDE = 4096
CUTOUT_MAX_SIDE = 1600  # the cut-out shows the person's outline, not skin detail: a smaller PNG
JPEG_QUALITY = 90  # with 4:4:4 chroma, so one-pixel pore outlines keep their colour


def write_whole(path: Path, write: Callable[[Path], None]) -> Path:
    """``path`` written by ``write`` under a temporary name beside it, then renamed into place: a browser
    fetching a picture or download while it is written or rewritten gets the old file or the new one,
    never an empty or partial one."""
    partial = path.with_name(f".{uuid.uuid4().hex}{path.suffix}")  # the suffix tells PIL the format
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` shrunk to at most ``max_side`` pixels on its long side (never enlarged)."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@dataclass
class Session:
    """What one browser session keeps between events, in memory, and the folder its pictures and downloads
    are written to.

    Sessions live for SESSION_MINUTES, so only what later events read is kept: the photo, its analysis
    without the per-pixel float maps no later event reads (the person matte and the pore probability and
    uncertainty, None here), and the matte at the size the cut-out is shown (``person``). At 12 MP that
    is about 90 MB a session instead of 230 MB (benchmarks/session_memory.py).
    """

    rgb: np.ndarray
    analysis: Analysis
    folder: Path
    # The upload the photo was read from: analysed again (another method), the photo comes from here, as
    # Gradio's copy of the upload is deleted soon after it is read (Uploads).
    source: str | None = None
    person: np.ndarray = field(init=False)  # uint8 person opacity, at most CUTOUT_MAX_SIDE on a side
    after: AfterProduct | None = None  # the before/after last shown, for the report downloads

    def __post_init__(self):
        self.person = fit(self.analysis.person, CUTOUT_MAX_SIDE)
        pores = self.analysis.pores
        if pores is not None:
            pores = replace(pores, maps=None)
        self.analysis = replace(self.analysis, person=None, pores=pores)

    def picture(self, name: str, render: Callable[[], np.ndarray]) -> Path:
        """The picture ``render()`` draws, saved as ``name`` (.jpg or .png) in the folder. Names say what a
        picture shows, so the same view asked for again is not drawn again, and a changed view gets a new
        URL (the browser would show a cached picture under the old one)."""
        path = self.folder / name
        if not path.exists():
            options = ({"quality": JPEG_QUALITY, "subsampling": 0} if path.suffix == ".jpg"
                       else {"compress_level": PNG_COMPRESSION})
            write_whole(path, lambda partial: Image.fromarray(render()).save(partial, **options))
        return path

    def close(self) -> None:
        """Delete the folder and let go of the photo and analysis (Gradio may hold on to the closed
        session itself for an hour, OpenSessions)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.rgb = self.analysis = self.person = self.after = None

    @property
    def closed(self) -> bool:
        """Replaced by a newer analysis (or expired): events queued before that find nothing to draw on."""
        return not self.folder.exists()


class OpenSessions:
    """The session of each open browser tab, by Gradio's session hash, so that a closed tab's session is
    closed at once. (Gradio keeps a closed tab's gr.State for an hour, in case the tab is reopened, whatever
    its time_to_live; it tells of the closing, Blocks.unload, but hands the state to no one.) The sessions'
    folders are made under ``root``. Safe to use from Gradio's worker threads."""

    def __init__(self, root: Path):
        self.root = root
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, tab: str, rgb: np.ndarray, analysis: Analysis, source: str | None) -> Session:
        """A new session for ``tab`` (Session's fields), in a new folder; the tab's previous one is closed."""
        session = Session(rgb, analysis, Path(tempfile.mkdtemp(prefix="poreseg-", dir=self.root)), source)
        self._keep(tab, session)
        return session

    def close(self, tab: str) -> None:
        """Close ``tab``'s session, if it has one."""
        self._keep(tab, None)

    def expire(self, session: Session | None) -> None:
        """Close ``session`` (its time is up; None: a tab whose last analysis failed), and forget it."""
        if session is None:
            return
        with self._lock:
            self._sessions = {tab: open_ for tab, open_ in self._sessions.items() if open_ is not session}
        session.close()

    def _keep(self, tab: str, session: Session | None) -> None:
        with self._lock:
            previous = self._sessions.pop(tab, None)
            if session is not None:
                self._sessions[tab] = session
        if previous is not None:
            previous.close()
