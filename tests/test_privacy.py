"""Privacy and limits: no outbound connection at run time, upload and pixel limits enforced before any
decoding, a log of sizes and timings only, and no copies of photos left behind by a request: Gradio's
copy of an upload is deleted once its preview had time to load."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image, ImageFile

from conftest import REPO_ROOT, api_outcome, gradio_cache, library_outcome, png_header_only, requires_models
from poreseg.imageio import MAX_FILE_BYTES

PHOTO = REPO_ROOT / "examples" / "lisa_15cm.jpg"
pytestmark = [requires_models, pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")]

# The app's process: an audit hook, installed before anything else is imported, sees every connection and
# name lookup and refuses and records any that is not to this machine. Then the app starts as it does for
# users (models loaded, served on loopback) and prints its URL; it stops when its stdin closes, and prints
# what it tried to reach.
GUARDED_APP = """
import ipaddress, json, sys

attempts = []

def local(host):
    if host is None or isinstance(host, int):
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host in ("", "localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified

def guard(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0]
    else:
        return
    if not local(host):
        attempts.append(f"{event} {host!r}")
        raise ConnectionRefusedError(f"outbound connection blocked: {host!r}")

sys.addaudithook(guard)

sys.path.insert(0, "tests")
from conftest import running_app
from dashboard.warm_up import warm_up

warm_up()
with running_app() as url:
    print(url, flush=True)
    sys.stdin.read()
print(json.dumps(attempts))
"""


def test_no_outbound_connection_at_run_time():
    """The app, with every outbound connection blocked, analyses a photo sent by a client (this process)."""
    from gradio_client import Client, handle_file

    app = subprocess.Popen([sys.executable, "-c", GUARDED_APP], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = app.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), app.stderr.read() if app.poll() is not None else url
        report = Client(url, verbose=False).predict(handle_file(str(PHOTO)), method="dog", api_name="/analyze")
    finally:
        out, err = app.communicate(input="", timeout=120)
    assert report["face"]["pore_count"] > 50  # it worked with the network blocked
    assert app.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == []  # and tried to reach nothing


def test_gradio_analytics_are_off():
    import app

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and not app.demo.analytics_enabled


@pytest.fixture
def decoding(monkeypatch) -> list[tuple[int, int]]:
    """The sizes of the images Pillow decodes from now on (in this process: the library and the app)."""
    decoded = []
    load = ImageFile.ImageFile.load

    def recording_load(image):
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return decoded


@pytest.fixture
def bomb(tmp_path) -> Path:
    """A PNG that declares 50000x50000 pixels (7.5 GB decoded) in a 300-byte file."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(50_000, 50_000))
    return path


@pytest.fixture
def oversized(tmp_path) -> Path:
    """A JPEG (by its header) one byte over the upload limit; sparse, so it takes no disk space."""
    path = tmp_path / "oversized.jpg"
    Image.new("RGB", (64, 64)).save(path)
    with open(path, "r+b") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    return path


def test_the_library_refuses_over_the_limits_before_decoding(bomb, oversized, decoding):
    assert "megapixel limit" in library_outcome(bomb)
    assert "too large" in library_outcome(oversized)
    assert decoding == []


def test_the_app_refuses_over_the_limits_before_decoding(app_client, bomb, oversized, decoding, monkeypatch):
    import app

    read, read_photo = [], app.read_photo
    monkeypatch.setattr(app, "read_photo", lambda path: read.append(path) or read_photo(path))
    assert "megapixel limit" in api_outcome(app_client, bomb)
    assert len(read) == 1 and decoding == []  # read up to its header and refused there
    with pytest.raises(Exception, match="maximum file size"):
        api_outcome(app_client, oversized)  # Gradio refuses the upload itself
    assert len(read) == 1 and decoding == []


# What the app's own log may say: sizes, method, timings, exception types.
APP_LOG_LINES = (r"analysed \d+x\d+ px, (psnet|dog), in [\d.]+ s \(\w+ [\d.]+(, \w+ [\d.]+)*\)",
                 r"request stopped: \w+ after [\d.]+ s")


def test_the_log_holds_sizes_and_timings_only(app_client, tmp_path, caplog, capfd):
    private = tmp_path / "jane-doe-private"
    private.mkdir()
    shutil.copy(PHOTO, private / "jane-doe-selfie.jpg")
    (private / "jane-doe-notes.jpg").write_text("not a photo")
    caplog.set_level(logging.DEBUG)
    assert isinstance(api_outcome(app_client, private / "jane-doe-selfie.jpg"), dict)
    assert "not an image" in api_outcome(app_client, private / "jane-doe-notes.jpg")
    records = [record for record in caplog.records if record.name == "poreseg.app"]
    assert len(records) == 2
    for record in records:
        assert any(re.fullmatch(line, record.getMessage()) for line in APP_LOG_LINES), record.getMessage()
    output = capfd.readouterr()
    everything = "\n".join([*(record.getMessage() for record in caplog.records), output.out, output.err])
    assert "jane-doe" not in everything


def files_under(folder: Path) -> set[Path]:
    """The files below ``folder``. os.walk, not rglob: the app's upload sweep (and other apps sharing Gradio's
    cache) delete folders while this looks."""
    return {Path(root) / name for root, _, names in os.walk(folder) for name in names}


def sweep_later(app, seconds: float) -> list[str]:
    """The app's upload sweep as it runs ``seconds`` from now (it runs every UPLOAD_SWEEP_SECONDS); the
    paths it deleted."""
    from dashboard.uploads import sweep_gradio_uploads

    return sweep_gradio_uploads(app.demo, app.UPLOADS, now=time.time() + seconds)


def sweep_after_requests(app, seconds: float) -> list[str]:
    """``sweep_later`` once Gradio's queue names no upload: it forgets a request a moment after the client
    has the result, and until then the sweep rightly keeps that request's photo (once seen on a busy
    machine)."""
    from dashboard.uploads import queued_uploads

    deadline = time.monotonic() + 30
    while queued_uploads(app.demo) and time.monotonic() < deadline:
        time.sleep(0.05)
    return sweep_later(app, seconds)


def test_an_api_request_leaves_nothing_behind(app_client, tmp_path):
    """Gradio's copy of each upload is deleted once its preview had time to load, a photo that was not an
    image too."""
    import app

    cache = gradio_cache()
    photo, text = tmp_path / "probe-photo.jpg", tmp_path / "probe-notes.jpg"
    shutil.copy(PHOTO, photo)
    text.write_text("not a photo")
    before, folders, sessions = files_under(cache), set(cache.iterdir()), set(app.SESSIONS_DIR.iterdir())
    assert isinstance(api_outcome(app_client, photo), dict)
    assert "not an image" in api_outcome(app_client, text)
    deleted = sweep_after_requests(app, app.UPLOAD_LINGER_SECONDS)
    assert {Path(path).name for path in deleted} >= {photo.name, text.name}
    # No file is left, nor a folder: neither Gradio's for the uploads nor a session's (the API keeps none).
    assert files_under(cache) - before == set()
    assert set(cache.iterdir()) - folders == set()
    assert set(app.SESSIONS_DIR.iterdir()) == sessions
    assert sweep_later(app, app.UPLOAD_LINGER_SECONDS) == []  # the sweep forgets what it deleted
    assert app.UPLOAD_LINGER_SECONDS + app.UPLOAD_SWEEP_SECONDS <= 30


def test_an_upload_no_request_reads_is_gone_within_a_minute(app_client, tmp_path):
    """A photo uploaded whose request never comes (cancelled, tab closed, turned away by a full queue)."""
    import httpx

    import app

    with open(PHOTO, "rb") as photo:
        answer = httpx.post(app_client.src.rstrip("/") + "/gradio_api/upload",
                            files={"files": ("probe-orphan.jpg", photo, "image/jpeg")}, timeout=60)
    [path] = answer.json()
    assert Path(path).exists()
    sweep_later(app, app.UPLOAD_ORPHAN_SECONDS - 1)
    assert Path(path).exists()
    assert sweep_later(app, app.UPLOAD_ORPHAN_SECONDS) == [path]
    assert not Path(path).exists()
    assert app.UPLOAD_ORPHAN_SECONDS + app.UPLOAD_SWEEP_SECONDS <= 60


def test_identical_uploads_at_once_are_all_analysed_then_deleted(app_client, tmp_path):
    """Gradio gives identical uploads one file: the first request done must not take it from the others."""
    import app
    from gradio_client import handle_file
    from gradio_client.utils import Status

    photo = tmp_path / "probe-twins.jpg"
    shutil.copy(PHOTO, photo)
    jobs = [app_client.submit(handle_file(str(photo)), method="dog", api_name="/analyze") for _ in range(3)]
    # Once every request has joined the queue (uploaded and sent), a sweep as late as you like leaves the
    # file to those still waiting.
    joined = (Status.IN_QUEUE, Status.PROCESSING, Status.PROGRESS, Status.FINISHED)
    deadline = time.monotonic() + 120
    while not all(job.done() or job.status().code in joined for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    sweep_later(app, app.UPLOAD_LINGER_SECONDS)
    reports = [job.result(timeout=300) for job in jobs]
    assert all(report["face"] == reports[0]["face"] for report in reports)
    sweep_after_requests(app, app.UPLOAD_LINGER_SECONDS)
    assert not any(path.name == photo.name for path in files_under(gradio_cache()))


def test_an_upload_identical_to_an_example_is_deleted_and_leaves_the_example(app_client, monkeypatch):
    """The examples are served from examples/ (static paths), so an upload of the same file is a copy in
    Gradio's cache like any other upload."""
    import gradio as gr
    from dashboard import uploads

    import app

    # Every sweep's deletions: on a busy machine the request outlasts the linger and the app's own sweep,
    # every few seconds, takes the copy before this test's.
    deletions: list[str] = []
    sweep = uploads.sweep_gradio_uploads

    def recorded_sweep(*args, **kwargs) -> list[str]:
        deleted = sweep(*args, **kwargs)
        deletions.extend(deleted)
        return deleted

    monkeypatch.setattr(uploads, "sweep_gradio_uploads", recorded_sweep)
    [examples] = [block for block in app.demo.blocks.values() if isinstance(block, gr.Dataset)]
    assert {Path(sample["path"]).parent for [sample] in examples.samples} == {app.EXAMPLES_DIR}
    assert isinstance(api_outcome(app_client, PHOTO), dict)
    sweep_after_requests(app, app.UPLOAD_LINGER_SECONDS)
    # An earlier test's copy of the same photo may still be waiting for its sweep on a busy machine (the full
    # suite once found two): every copy deleted is in Gradio's cache and gone, and the example itself stays.
    deleted = [Path(path) for path in deletions if Path(path).name == PHOTO.name]
    assert deleted and all(path.is_relative_to(gradio_cache()) and not path.exists() for path in deleted)
    assert PHOTO.exists()


def test_the_dashboard_deletes_the_upload_and_analyses_it_again_from_memory():
    """The upload stays while its preview loads and is gone after; Analyse again (another method, say)
    reuses the photo."""
    import app

    upload = gradio_cache() / "probe-dashboard" / "selfie.jpg"  # where Gradio keeps an upload
    upload.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(PHOTO, upload)
    app.demo.upload_file_set.add(str(upload))  # as Gradio's upload route does
    image = {"path": str(upload), "meta": {"_type": "gradio.FileData"}}
    tab = SimpleNamespace(session_hash="probe-tab")  # the gr.Request Gradio hands over
    first = app.analyse(image, "dog", [], None, tab)[app.state]
    assert first.analysis is not None and upload.exists()  # the browser shows it meanwhile
    sweep_later(app, app.UPLOAD_LINGER_SECONDS)
    assert not upload.parent.exists()
    rgb = first.rgb
    again = app.analyse(image, "dog", [], first, tab)
    assert again[app.status].startswith("Analysed")
    assert again[app.state].rgb is rgb
    # The previous analysis was closed, and closing the tab closes this one: files and memory let go.
    assert first.closed and first.rgb is None
    app.forget_session(tab)
    assert again[app.state].closed and again[app.state].analysis is None


def test_the_command_line_leaves_nothing_but_its_report(run, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    result = run("analyze", PHOTO, "--out", tmp_path / "out", "--method", "dog")
    assert result.returncode == 0, result.stderr
    assert files_under(scratch) == set()
    written = {path.relative_to(tmp_path / "out") for path in files_under(tmp_path / "out")}
    assert {path for path in written if path.parent != Path(PHOTO.stem)} == {Path("summary.csv")}
    assert {path.suffix for path in written} == {".json", ".csv", ".png"}
