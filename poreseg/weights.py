"""Shipped model weights: where they are and a checked load. Nothing is ever downloaded."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class WeightsError(RuntimeError):
    """A weight file is missing or is not the one its model card describes."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(name: str) -> str | None:
    """The sha256 the model card ``weights/NAME.md`` states, if it states one."""
    card = WEIGHTS_DIR / f"{name}.md"
    if not card.exists():
        return None
    match = re.search(r"sha256[^0-9a-f]*([0-9a-f]{64})", card.read_text(), re.IGNORECASE)
    return match.group(1).lower() if match else None


def load_state(name: str, path: Path | None = None) -> dict:
    """State dict of ``weights/NAME.pt`` (or ``path``), checked against its model card's sha256."""
    path = Path(path) if path else WEIGHTS_DIR / f"{name}.pt"
    expected = expected_sha256(name) if path.resolve().parent == WEIGHTS_DIR.resolve() else None
    if not path.exists():
        raise WeightsError(f"model weights missing: {path} (expected sha256 {expected or 'see its model card'})")
    if expected and sha256(path) != expected:
        raise WeightsError(f"model weights corrupted: {path} does not match sha256 {expected} from {name}.md")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a damaged file
        raise WeightsError(f"model weights unreadable: {path} ({error})") from error
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"model weights unreadable: {path} holds a {type(checkpoint).__name__}, not a state dict")
    return checkpoint.get("model", checkpoint)
