"""The repository deploys as a Hugging Face Space from a plain push: its README front matter is a valid
Space configuration that matches the pinned Gradio, binaries are in large-file storage, and the Space
installs no PyTorch (it runs the networks' ONNX exports); the tests and training get its CPU build."""
from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from conftest import REPO_ROOT

SPACE_COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def front_matter() -> dict:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md must start with the Space's YAML front matter"
    return yaml.safe_load(match.group(1))


def pins(requirements: str) -> dict[str, str]:
    lines = (REPO_ROOT / requirements).read_text().splitlines()
    return dict(re.match(r"([A-Za-z0-9_.-]+)==([^\s;#]+)", line).groups() for line in lines
                if re.match(r"[A-Za-z0-9_.-]+==", line))


def test_sdk_version_is_the_gradio_pin():
    config = front_matter()
    assert config["sdk"] == "gradio"
    assert str(config["sdk_version"]) == pins("requirements.txt")["gradio"]


def test_front_matter_has_what_the_hub_shows():
    config = front_matter()
    assert config["emoji"] and {config["colorFrom"], config["colorTo"]} <= SPACE_COLOURS
    assert config["suggested_hardware"] == "cpu-basic"
    assert isinstance(config["tags"], list) and config["tags"]
    assert len(config["short_description"]) <= 60  # the Hub's limit
    assert (REPO_ROOT / config["app_file"]).is_file()
    assert re.fullmatch(r"3\.\d+", str(config["python_version"]))


def test_the_space_runs_without_torch_and_the_tests_get_its_cpu_build():
    assert "onnxruntime" in pins("requirements.txt") and "torch" not in pins("requirements.txt")
    lines = (REPO_ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert {"torch", "onnx"} <= set(pins("requirements-dev.txt"))


def test_every_binary_file_is_in_large_file_storage():
    listed = subprocess.run(["git", "ls-files", "--eol"], cwd=REPO_ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    binaries = [line.split("\t")[-1] for line in listed.stdout.splitlines() if line.startswith("i/-text")]
    assert any(name.endswith(".pt") for name in binaries) and any(name.endswith(".onnx") for name in binaries)
    attributes = subprocess.run(["git", "check-attr", "filter", "--", *binaries], cwd=REPO_ROOT,
                                capture_output=True, text=True, check=True).stdout
    outside = [line for line in attributes.splitlines() if not line.endswith(": filter: lfs")]
    assert not outside, f"binary files without an LFS rule in .gitattributes: {outside}"
