"""Shared fixtures. Nothing here imports torch: most tests run without it or trained weights."""
from __future__ import annotations

import socket
import struct
import subprocess
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def requires_weights(*names: str) -> pytest.MarkDecorator:
    """Skip a test until ``weights/NAME.onnx`` (what the runtime runs) exists for each name."""
    missing = [f"weights/{name}.onnx" for name in names if not (REPO_ROOT / "weights" / f"{name}.onnx").exists()]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not trained yet")


requires_models = requires_weights("face_parser", "portrait")  # what every analysis needs


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size in its header and has no pixel data: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def example_image() -> Path:
    """The first JPEG in examples/."""
    images = sorted((REPO_ROOT / "examples").glob("*.jpg"))
    if not images:
        pytest.skip("no .jpg in examples/")
    return images[0]


@pytest.fixture
def one_thread_seeded():
    """Torch on one thread (tiny tensors; do not compete with other work) and seeded. Imports torch
    only for the tests that use it."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run(repo_root):
    """The command line as a user runs it: ``run("parse", ...)`` in a subprocess."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "poreseg", *map(str, args)], cwd=repo_root,
                              capture_output=True, text=True, timeout=300)
    return run


@contextmanager
def running_app():
    """app.py's dashboard launched in this process on a free loopback port; yields its URL."""
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                    **app.LAUNCH_OPTIONS)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    """A gradio_client Client of the app, launched once per test module."""
    from gradio_client import Client

    with running_app() as url:
        yield Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def library_outcome(path: Path, method: str = "dog") -> dict | str:
    """What ``load_image`` + ``analyze`` make of a file: the report as JSON would carry it, or the one
    message of a photo that cannot be analysed."""
    import json

    from poreseg.analysis import AnalysisError, AnalysisOptions, analyze
    from poreseg.imageio import ImageLoadError, load_image

    try:
        analysis = analyze(load_image(path), AnalysisOptions(method=method))
    except (ImageLoadError, AnalysisError) as error:
        return str(error)
    return json.loads(json.dumps(analysis.to_dict()))


def api_outcome(client, path: Path, method: str = "dog") -> dict | str:
    """The same through the app's /analyze API: the report, or the message of the error it answers with."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    try:
        return client.predict(handle_file(str(path)), method=method, api_name="/analyze")
    except AppError as error:
        return str(error)


def gradio_cache() -> Path:
    """The folder Gradio keeps its copies of uploads in (GRADIO_TEMP_DIR, else a folder of the system's
    temporary one)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def without_timings(report: dict) -> dict:
    """A report without its stage timings, which differ from run to run."""
    return {key: value for key, value in report.items() if key != "timings"}
