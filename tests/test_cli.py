"""The command line as a user runs it: a subprocess, exit codes, one-line errors."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import requires_weights
from poreseg.imageio import load_image


@pytest.fixture
def not_an_image(tmp_path):
    path = tmp_path / "not_an_image.txt"
    path.write_text("hello\n")
    return path


def assert_one_line_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("poreseg: error:"), result.stderr


def test_help(run):
    result = run("--help")
    assert result.returncode == 0
    for command in ("parse", "portrait", "eval", "train"):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error(run):
    result = run("frobnicate")
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.mark.parametrize("command", ["parse", "portrait"])
def test_bad_input_is_one_line_error(run, tmp_path, not_an_image, command):
    result = run(command, not_an_image, "--out", tmp_path / "out.png")
    assert_one_line_error(result)
    assert "not_an_image.txt" in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("command", ["parse", "portrait"])
def test_missing_input_is_one_line_error(run, tmp_path, command):
    assert_one_line_error(run(command, tmp_path / "missing.jpg", "--out", tmp_path / "out.png"))


def test_lossy_label_output_is_refused(run, tmp_path, not_an_image):
    result = run("parse", not_an_image, "--out", tmp_path / "labels.jpg")
    assert result.returncode == 2
    assert ".png" in result.stderr


@pytest.mark.parametrize("model", ["parser", "portrait"])
def test_eval_without_data_folder(run, tmp_path, model):
    result = run("eval", model, "--data", tmp_path / "no_such_folder")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_eval_portrait_without_teacher_masks(run, tmp_path):
    result = run("eval", "portrait", "--data", tmp_path, "--teacher", tmp_path / "no_teacher")
    assert result.returncode == 2
    assert "no_teacher" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("model", ["parser", "portrait"])
def test_eval_with_missing_weights_file(run, tmp_path, model):
    result = run("eval", model, "--data", tmp_path, "--teacher", tmp_path, "--weights", tmp_path / "gone.pt")
    assert result.returncode == 2
    assert "gone.pt" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


@requires_weights("face_parser", "portrait")  # the labels are fused with the person matte
@pytest.mark.parametrize("with_overlay", [False, True])
def test_parse(run, tmp_path, example_image, with_overlay):
    labels_path, overlay_path = tmp_path / "labels.png", tmp_path / "overlay.png"
    overlay_args = ["--overlay", overlay_path] if with_overlay else []
    result = run("parse", example_image, "--out", labels_path, *overlay_args)
    assert result.returncode == 0, result.stderr
    assert "face" in result.stdout
    height, width = load_image(example_image).shape[:2]  # upright, as the CLI sees it
    labels = Image.open(labels_path)
    assert labels.mode == "L" and labels.size == (width, height)
    assert np.asarray(labels).max() < 10
    if with_overlay:
        overlay = Image.open(overlay_path)
        assert overlay.mode == "RGB" and overlay.size == (width, height)


@requires_weights("portrait")
def test_portrait(run, tmp_path, example_image):
    mask_path = tmp_path / "mask.png"
    result = run("portrait", example_image, "--out", mask_path)
    assert result.returncode == 0, result.stderr
    height, width = load_image(example_image).shape[:2]
    mask = Image.open(mask_path)
    assert mask.mode == "L" and mask.size == (width, height)


@requires_weights("face_parser")
def test_analyze_writes_reports_and_reports_each_failed_file(run, repo_root, tmp_path, not_an_image):
    example = repo_root / "examples" / "lisa_15cm.jpg"
    result = run("analyze", example, not_an_image, "--out", tmp_path / "out", "--method", "dog")
    assert result.returncode == 1  # one file failed; the other was still analysed
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if "failed:" in line]
    assert len(failures) == 1 and "not_an_image.txt" in failures[0]
    folder = tmp_path / "out" / "lisa_15cm"
    report = json.loads((folder / "report.json").read_text())
    assert report["schema"] == 1 and report["method"] == "dog"
    assert report["face"]["pore_count"] == sum(zone["pore_count"] for zone in report["zones"].values())
    header = (folder / "zones.csv").read_text().splitlines()[0]
    assert "zone" in header and "pore_count" in header
    for picture in ("parsing.png", "pores.png", "summary.png"):
        assert Image.open(folder / picture).size[0] > 0
    # The batch's summary: one row per image, numbers as numbers, the failed file with its reason.
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["image"]) == [str(example), str(not_an_image)]
    analysed, failed = summary.iloc[0], summary.iloc[1]
    assert analysed["pore_count"] == report["face"]["pore_count"] and analysed["score"] == report["face"]["score"]
    assert analysed["band"] == report["face"]["band"] and pd.isna(analysed["error"])
    assert "not an image" in failed["error"] and pd.isna(failed["pore_count"])
