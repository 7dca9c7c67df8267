"""Shared fixtures. Nothing here imports torch: most tests run without it or trained weights."""
from __future__ import annotations

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
