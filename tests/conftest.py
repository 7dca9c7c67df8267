"""Shared fixtures. Nothing here imports torch: most tests run without it or trained weights."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def requires_weights(name: str) -> pytest.MarkDecorator:
    """Skip a test until ``weights/NAME.pt`` has been trained."""
    path = REPO_ROOT / "weights" / f"{name}.pt"
    return pytest.mark.skipif(not path.exists(), reason=f"{path.relative_to(REPO_ROOT)} not trained yet")


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
