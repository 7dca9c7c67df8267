"""Faults: a request that fails mid-way leaves the models and the next request as they were, through the
library and through the app; a missing or damaged weight file is named, with its expected sha256, when
the models load and when the app starts."""
from __future__ import annotations

import hashlib
import importlib
import itertools
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import cache, reduce
from pathlib import Path

import pytest
import torch

from conftest import REPO_ROOT, api_outcome, library_outcome, requires_models, requires_weights, without_timings
from poreseg import weights
from poreseg.weights import WEIGHTS_DIR, WeightsError, load_state

PHOTO = REPO_ROOT / "examples" / "lisa_15cm.jpg"
# Gradio's queue still uses pandas options that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


class InjectedFault(RuntimeError):
    """Raised on purpose inside one stage of an analysis."""


# Where a fault is injected ("module:attribute.path"), on which call, with which pore method. The parser
# runs twice per photo (finding the face, then parsing its crop): its network fails half-way through
# parsing. PS-Net fails in the middle of its tiles.
FAULTS = [
    pytest.param("poreseg.parsing:FaceParser.run", 2, "dog", id="parser network, second pass"),
    pytest.param("poreseg.portrait:PortraitSegmenter.run", 1, "dog", id="portrait network"),
    pytest.param("poreseg.analysis:segment_pores", 1, "dog", id="pore segmentation"),
    pytest.param("poreseg.face:face_zones", 1, "dog", id="zones"),
    pytest.param("poreseg.analysis:density_map", 1, "dog", id="density map"),
    pytest.param("poreseg.pores.segment:PoreSegmenter.run", 2, "psnet", id="PS-Net network",
                 marks=requires_weights("psnet")),
]


def inject(monkeypatch, target: str, failing_call: int) -> None:
    module, attributes = target.split(":")
    *owner_path, name = attributes.split(".")
    owner = reduce(getattr, owner_path, importlib.import_module(module))
    original, calls = getattr(owner, name), itertools.count(1)

    def fails_once(*args, **kwargs):
        if next(calls) == failing_call:
            raise InjectedFault(f"{target} failed on purpose")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, fails_once)


@cache
def healthy(method: str) -> dict:
    """The report of the photo by ``method``, from the library before anything failed."""
    report = library_outcome(PHOTO, method)
    assert isinstance(report, dict) and report["pores_measured"]
    return without_timings(report)


@pytest.fixture(params=["library", "api"])
def way(request) -> tuple[str, Callable[[Path, str], dict | str]]:
    """A way in (its name) and the outcome it gives for a photo and a pore method."""
    if request.param == "library":
        return "library", library_outcome
    client = request.getfixturevalue("app_client")
    return "api", lambda path, method: api_outcome(client, path, method)


@requires_models
@pytest.mark.parametrize("target, failing_call, method", FAULTS)
def test_a_stage_that_fails_leaves_the_next_request_unchanged(target, failing_call, method, way, monkeypatch):
    name, outcome = way
    expected = healthy(method)
    inject(monkeypatch, target, failing_call)
    if name == "library":  # the library lets an unexpected error through
        with pytest.raises(InjectedFault):
            outcome(PHOTO, method)
    else:  # the app answers with a message, never a traceback
        failed = outcome(PHOTO, method)
        assert "Analysis failed" in failed and "InjectedFault" in failed and "Traceback" not in failed
    monkeypatch.undo()
    assert without_timings(outcome(PHOTO, method)) == expected


@requires_models
def test_a_corrupt_photo_leaves_the_next_request_unchanged(way, tmp_path):
    _, outcome = way
    expected = healthy("dog")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(PHOTO.read_bytes()[:50_000])
    assert "truncated" in outcome(corrupt, "dog")
    assert without_timings(outcome(PHOTO, "dog")) == expected


# ---- model files ----

PROBLEMS = {"missing": None, "corrupted": b"not the trained weights"}


@pytest.fixture
def weights_folder(tmp_path, monkeypatch) -> Path:
    """A weights folder of model cards that poreseg.weights then uses; PS-Net, untrained here, gets a card
    that states the sha256 of its weights and of their export."""
    for card in WEIGHTS_DIR.glob("*.md"):
        shutil.copy(card, tmp_path)
    if weights.expected_sha256("psnet") is None:
        (tmp_path / "psnet.md").write_text(f"# PS-Net\nsha256: {hashlib.sha256(b'psnet').hexdigest()}\n"
                                           f"onnx_sha256: {hashlib.sha256(b'psnet.onnx').hexdigest()}\n")
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    return tmp_path


SESSIONS = {"face_parser": ("poreseg.parsing", "FaceParser"), "portrait": ("poreseg.portrait", "PortraitSegmenter"),
            "psnet": ("poreseg.pores.segment", "PoreSegmenter")}


@pytest.mark.parametrize("kind", ["pt", "onnx"], ids=["trained weights", "runtime graph"])
@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name", ["face_parser", "portrait", "psnet"])
def test_a_missing_or_corrupted_weight_file_is_named_with_its_sha256(weights_folder, name, problem, kind):
    """The trained file (training and evaluation read it) and its export (the runtime runs it) each."""
    if PROBLEMS[problem] is not None:
        (weights_folder / f"{name}.{kind}").write_bytes(PROBLEMS[problem])
    expected = weights.expected_sha256(name, kind)
    module, session = SESSIONS[name]
    with pytest.raises(WeightsError) as raised:
        load_state(name) if kind == "pt" else getattr(importlib.import_module(module), session).load()
    message = str(raised.value)
    assert problem in message and f"{name}.{kind}" in message and expected in message


@pytest.mark.parametrize("name", SESSIONS)
def test_an_intact_weight_file_of_another_architecture_is_named_with_its_sha256(name, tmp_path):
    """A file torch reads without complaint but saved from another network: one line naming the file and
    the sha256 its model card expects, not torch's list of every mismatched tensor."""
    module, session = SESSIONS[name]
    generator = torch.Generator().manual_seed(0)
    path = tmp_path / "other_network.pt"
    torch.save({"model": {"stem.0.weight": torch.randn(7, 3, 5, 5, generator=generator)}}, path)
    with pytest.raises(WeightsError) as raised:
        getattr(importlib.import_module(module), session).load(path)
    message = str(raised.value)
    assert "\n" not in message and "do not fit" in message and str(path) in message
    assert weights.expected_sha256(name) in message


STARTUP = """
import runpy, sys
from pathlib import Path
import gradio
import poreseg.weights
poreseg.weights.WEIGHTS_DIR = Path(sys.argv[1])
gradio.Blocks.launch = lambda self, *args, **kwargs: print("launched")
runpy.run_path("app.py", run_name="__main__")
"""


@requires_models
@pytest.mark.parametrize("damaged, starts", [("face_parser", False), ("psnet", True)])
def test_the_app_names_a_damaged_weight_file_when_it_starts(weights_folder, damaged, starts):
    """The parser and the portrait network are needed: the app refuses to start. PS-Net is optional: the
    app starts with DoGPore and says why PS-Net is not available."""
    for name in ("face_parser", "portrait"):
        shutil.copy(WEIGHTS_DIR / f"{name}.onnx", weights_folder)
    (weights_folder / f"{damaged}.onnx").write_bytes(b"damaged in transit")
    result = subprocess.run([sys.executable, "-c", STARTUP, str(weights_folder)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr
    assert (result.returncode == 0 and "launched" in result.stdout) == starts, result.stderr
    line = next(line for line in result.stderr.splitlines() if f"{damaged}.onnx" in line)
    assert "corrupted" in line and weights.expected_sha256(damaged, "onnx") in line
    assert ("cannot start" in line) != starts and ("DoGPore works" in line) == starts
