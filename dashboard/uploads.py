"""Gradio's copies of uploaded photos, deleted soon after use (app.py runs ``sweep_gradio_uploads`` every
few seconds)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from pathlib import Path

from poreseg.imageio import MAX_FILE_BYTES, ImageLoadError, load_image


class Uploads:
    """Gradio's copies of uploaded photos, deleted soon after use, without racing the browser.

    The browser shows an upload's preview from Gradio's copy while the analysis reads it, so deleting the
    copy as it is read breaks the preview. Instead ``sweep`` (run every few seconds) deletes each upload
    once nothing still needs it: no queued or running request names it, and it was read ``linger_seconds``
    ago (time for its preview to load) or, if never read (a request cancelled or refused), uploaded
    ``orphan_seconds`` ago. Gradio names an upload by its content, so identical photos uploaded at about
    the same moment share one file: the queued requests of the others keep it. Safe to use from Gradio's
    worker threads.
    """

    def __init__(self, linger_seconds: float, orphan_seconds: float, clock: Callable[[], float] = time.time):
        self.linger_seconds, self.orphan_seconds, self.clock = linger_seconds, orphan_seconds, clock
        self._read: dict[str, float] = {}  # path -> when it was last read
        self._lock = threading.Lock()

    def read(self, path: str) -> bytes:
        """The bytes of the photo uploaded at ``path`` (refused with its size when over the limit)."""
        file = Path(path)
        with self._lock:
            if not file.is_file():
                raise ImageLoadError(f"{file.name}: this upload is gone (uploads are deleted soon after they "
                                     "are analysed, or within a minute when they are not); upload the photo again")
            if file.stat().st_size > MAX_FILE_BYTES:
                load_image(file)  # refused with its size, before anything is read
            self._read[path] = self.clock()
            return file.read_bytes()

    def sweep(self, uploads: Iterable[str], needed: Collection[str], now: float | None = None) -> list[str]:
        """Delete those of ``uploads`` (paths) that nothing needs any more (see the class docstring);
        ``needed`` are the paths queued or running requests name. Returns the paths deleted or gone."""
        now = self.clock() if now is None else now
        done = []
        with self._lock:
            for path in uploads:
                if path in needed:
                    continue
                try:
                    uploaded = Path(path).stat().st_mtime
                except OSError:
                    done.append(path)
                    self._read.pop(path, None)
                    continue
                read = self._read.get(path)
                # A file written again after it was read (the same photo uploaded again) lingers as long
                # from then: its request is about to join the queue, which then keeps it.
                due = (max(read, uploaded) + self.linger_seconds if read is not None
                       else uploaded + self.orphan_seconds)
                if now >= due:
                    _delete_upload(Path(path))
                    done.append(path)
                    self._read.pop(path, None)
        return done


def _delete_upload(file: Path) -> None:
    """Delete ``file``, and its folder once empty (Gradio names the folder by the content, which another
    upload of the same photo under another name shares)."""
    file.unlink(missing_ok=True)
    with suppress(OSError):
        file.parent.rmdir()


def sweep_gradio_uploads(demo, uploads: Uploads, now: float | None = None) -> list[str]:
    """Delete the copies of uploads that nothing needs any more from the Gradio app ``demo``
    (``Uploads.sweep``); returns their paths.

    The one place that reads Gradio internals: Gradio 6 has no public API for the files uploaded to it
    (``Blocks.upload_file_set``, which its upload route fills) nor for the files its queued and running
    requests name (its queue's events). Its public ``delete_cache`` deletes by age alone, so at an age
    short enough for the privacy promise (a minute) a request that waited longer in a full queue would
    find its photo gone. The deleted paths are taken out of ``upload_file_set``, which would otherwise
    grow with every upload.
    """
    done = uploads.sweep(list(demo.upload_file_set), queued_uploads(demo), now)
    demo.upload_file_set.difference_update(done)
    return done


def queued_uploads(demo) -> set[str]:
    """The paths of the files that the queued and running requests of the Gradio app ``demo`` name. Gradio
    forgets a request a moment after its client has the result."""
    return {value["path"] for event in list(demo._queue.event_ids_to_events.values())
            for value in (event.data.data if event.data is not None else ())
            if isinstance(value, dict) and value.get("path")}
