"""Memory one dashboard session keeps between events, on a 12 MP photo.

    python benchmarks/session_memory.py [--method dog|psnet]

The app keeps each browser session's ``poreseg.session.Session`` in memory for SESSION_MINUTES after its
analysis. This builds one as the app does (load, analyse, Session, the dashboard, a product's
before/after, the report files, a class toggle), drops everything else and measures what stays
allocated (tracemalloc: numpy, OpenCV and Python allocations). For comparison, the same for the photo
with its whole ``Analysis``, which is what a session kept before it dropped the maps no later event
reads. The photo is the 4000x3000 one of benchmarks/bench_pipeline.py (an example portrait enlarged
onto a 12 MP canvas). Models are loaded and one session is built and closed before measuring, so that
model weights and process-wide caches filled by first calls do not count. Then every array the session holds is listed.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_pipeline import PORTRAIT, phone_photo  # noqa: E402
from dashboard import before_after, downloads, views  # noqa: E402
from dashboard.session import Session  # noqa: E402
from dashboard.warm_up import warm_up  # noqa: E402
from poreseg.analysis import AnalysisOptions, analyze  # noqa: E402
from poreseg.imageio import load_image  # noqa: E402

MB = 1e6
PRODUCT = "retinoid"


def retained_bytes(build: Callable[[], object]) -> tuple[int, object]:
    """Bytes still allocated after ``build()`` returns, held by what it returned."""
    gc.collect()
    tracemalloc.start()
    try:
        kept = build()
        gc.collect()
        return tracemalloc.get_traced_memory()[0], kept
    finally:
        tracemalloc.stop()


def arrays(value: object, path: str = "") -> list[tuple[str, np.ndarray]]:
    """The numpy arrays reachable from a value through dataclass fields, dicts, lists and tuples."""
    if isinstance(value, np.ndarray):
        return [(path, value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    else:
        return []
    return [found for key, item in items for found in arrays(item, f"{path}.{key}" if path else str(key))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=("dog", "psnet"), default="dog")
    args = parser.parse_args()
    options = AnalysisOptions(method=args.method)
    photo = phone_photo(load_image(PORTRAIT))
    warm_up()

    def whole_analysis():
        rgb = photo.copy()
        return rgb, analyze(rgb, options)

    def session():
        rgb = photo.copy()
        kept = Session(rgb, analyze(rgb, options), Path(tempfile.mkdtemp(prefix="poreseg-memory-")))
        views.dashboard(kept, 1.0, list(views.PARSING_CLASSES))
        before_after.before_after(kept, PRODUCT, 1.0, 12)
        downloads.report_files(kept)
        views.parsing_view(kept, [views.PARSING_CLASSES[0]])
        return kept

    session().close()  # first calls fill process-wide caches (Plotly's validators, ...), not the session's
    whole_bytes, _ = retained_bytes(whole_analysis)
    session_bytes, kept = retained_bytes(session)
    kept.close()
    h, w = photo.shape[:2]
    print(f"{w}x{h} photo ({h * w / 1e6:.0f} MP), method {args.method}; bytes still allocated (tracemalloc):")
    print(f"  the photo and its whole Analysis: {whole_bytes / MB:.0f} MB")
    print(f"  a dashboard session (dashboard.session.Session, after its events): {session_bytes / MB:.0f} MB "
          f"({session_bytes / (h * w):.1f} bytes per photo pixel)")
    print("\n| array the session keeps | dtype | shape | MB |\n|---|---|---|---|")
    for name, array in arrays(kept):
        if array.nbytes >= MB / 10:
            print(f"| {name} | {array.dtype} | {'x'.join(map(str, array.shape))} | {array.nbytes / MB:.1f} |")


if __name__ == "__main__":
    main()
