"""The web demo: poreseg.views, app.py as a module, and the running app's /parse endpoint."""
from __future__ import annotations

import socket

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, requires_weights

EXAMPLE = REPO_ROOT / "examples" / "005_03.jpg"
needs_models = [requires_weights("face_parser"), requires_weights("portrait")]
# Gradio's queue still uses pandas options that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


def with_models(test):
    for mark in needs_models:
        test = mark(test)
    return test


@with_models
def test_parsing_views_on_an_example():
    from poreseg.imageio import load_image
    from poreseg.views import parsing_views

    rgb = load_image(EXAMPLE)
    views = parsing_views(rgb)
    assert views.labels_overlay.shape == rgb.shape and views.labels_overlay.dtype == np.uint8
    assert views.person_overlay.shape == rgb.shape and views.person_overlay.dtype == np.uint8
    assert views.faces_found == 1
    assert "1 face found" in views.status


def test_faces_status_wording():
    from poreseg.views import faces_status

    assert "No face found" in faces_status(0)
    assert "1 face found" in faces_status(1)
    assert "3 faces found" in faces_status(3) and "largest" in faces_status(3)


def test_app_imports_without_launching():
    import gradio as gr

    import app

    assert isinstance(app.demo, gr.Blocks)
    assert not app.demo.is_running
    assert app.EXAMPLES, "examples/*.jpg should feed the examples gallery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from gradio_client import Client

    import app

    port = free_port()
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False,
                     download_files=str(tmp_path_factory.mktemp("downloads")))
    finally:
        app.demo.close()


@with_models
def test_parse_endpoint(client, tmp_path):
    from gradio_client import handle_file

    labels_file, person_file, status = client.predict(handle_file(str(EXAMPLE)), api_name="/parse")
    assert "1 face found" in status
    size = Image.open(EXAMPLE).size
    for result in (labels_file, person_file):
        with Image.open(result) as picture:
            assert picture.size == size

    # A text file named like a JPEG: a clear message in the status, no images, and the app keeps serving.
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo\n")
    labels_file, person_file, status = client.predict(handle_file(str(fake)), api_name="/parse")
    assert labels_file is None and person_file is None
    assert "Could not read the image" in status and "not an image" in status
    assert "Traceback" not in status

    *_, status = client.predict(handle_file(str(EXAMPLE)), api_name="/parse")
    assert "1 face found" in status


def test_parse_endpoint_without_an_image(client):
    labels_file, person_file, status = client.predict(None, api_name="/parse")
    assert labels_file is None and person_file is None
    assert "No image" in status
