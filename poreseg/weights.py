"""Shipped model weights: where they are and checked loads. Nothing is ever downloaded.

Each network ships twice: ``weights/NAME.pt``, the trained PyTorch weights (training and evaluation read
them), and ``weights/NAME.onnx``, their export (poreseg.models.export), which the runtime runs. The
model card ``weights/NAME.md`` states the sha256 of both.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def _weights_dir() -> Path:
    """Where the weights and their model cards are: inside an installed package, ``poreseg/model_weights``
    (pyproject.toml maps the top-level ``weights/`` there); in a checkout, ``weights/`` itself."""
    package = Path(__file__).resolve().parent
    installed = package / "model_weights"
    return installed if installed.is_dir() else package.parent / "weights"


WEIGHTS_DIR = _weights_dir()


class WeightsError(RuntimeError):
    """A weight file is missing or is not the one its model card describes."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(name: str, kind: str = "pt") -> str | None:
    """The sha256 the model card ``weights/NAME.md`` states for ``weights/NAME.pt`` (``kind`` "pt": the
    first ``sha256`` of the card) or for its ONNX export (``kind`` "onnx": the first ``onnx_sha256``),
    if it states one."""
    card = WEIGHTS_DIR / f"{name}.md"
    if not card.exists():
        return None
    label = r"onnx_sha256" if kind == "onnx" else r"(?<!onnx_)sha256"
    match = re.search(label + r"[^0-9a-f]*([0-9a-f]{64})", card.read_text(), re.IGNORECASE)
    return match.group(1).lower() if match else None


def weights_path(name: str, path: Path | None = None) -> Path:
    return Path(path) if path else WEIGHTS_DIR / f"{name}.pt"


def checked_file(name: str, path: Path, kind: str) -> Path:
    """``path``, a weights file of the network NAME of ``kind`` ("pt" or "onnx"); if it is the shipped one,
    checked against its model card's sha256 (WeightsError when missing or different)."""
    expected = expected_sha256(name, kind) if path.resolve().parent == WEIGHTS_DIR.resolve() else None
    if not path.exists():
        raise WeightsError(f"model weights missing: {path} (expected sha256 {expected or 'see its model card'})")
    if expected and sha256(path) != expected:
        raise WeightsError(f"model weights corrupted: {path} does not match sha256 {expected} from {name}.md")
    return path


def onnx_path(name: str) -> Path:
    """``weights/NAME.onnx``, the runtime's graph of the network NAME, checked (checked_file)."""
    return checked_file(name, WEIGHTS_DIR / f"{name}.onnx", "onnx")


def load_state(name: str, path: Path | None = None) -> dict:
    """State dict of ``weights/NAME.pt`` (or ``path``), checked against its model card's sha256. Needs
    PyTorch (training and evaluation only)."""
    import torch

    path = checked_file(name, weights_path(name, path), "pt")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a damaged file
        raise WeightsError(f"model weights unreadable: {path} ({error})") from error
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"model weights unreadable: {path} holds a {type(checkpoint).__name__}, not a state dict")
    return checkpoint.get("model", checkpoint)


def load_weights(net: nn.Module, name: str, path: Path | None = None) -> nn.Module:
    """``net`` with the weights of ``weights/NAME.pt`` (or ``path``) loaded, checked as ``load_state`` does.

    A file that is intact but was saved from another architecture (an old checkpoint, another model's
    file) raises WeightsError in one line rather than torch's list of every mismatched tensor.
    """
    state = load_state(name, path)
    wanted = net.state_dict()
    missing = [key for key in wanted if key not in state]
    unexpected = [key for key in state if key not in wanted]
    reshaped = [key for key in wanted
                if key in state and tuple(getattr(state[key], "shape", ())) != tuple(wanted[key].shape)]
    if missing or unexpected or reshaped:
        problems = [f"{what} {len(keys)} (e.g. {keys[0]})" for keys, what in
                    ((missing, "missing"), (unexpected, "unexpected"), (reshaped, "of another shape")) if keys]
        raise WeightsError(f"model weights do not fit {type(net).__name__}: {weights_path(name, path)} "
                           f"(tensors {'; '.join(problems)}); expected the file with sha256 "
                           f"{expected_sha256(name) or 'given in its model card'} from {name}.md")
    net.load_state_dict(state)
    return net
