"""Architecture contracts of the two networks: output shapes, weight budgets, gradient flow."""
from __future__ import annotations

import pytest
import torch

from poreseg.classes import CLASSES
from poreseg.models.parser_net import FaceParserNet
from poreseg.models.portrait_net import PortraitNet

PARSER_MAX_BYTES = 4_000_000  # fp32 weights
PORTRAIT_MAX_BYTES = 2_000_000  # issue 14: at most 2 MB of weights


pytestmark = pytest.mark.usefixtures("one_thread_seeded")


def _parameter_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters()) * 4


@pytest.mark.parametrize(("batch", "height", "width"), [(2, 256, 256), (1, 192, 256)])
def test_parser_logits_at_quarter_resolution(batch, height, width):
    model = FaceParserNet().eval()  # eval: batch-norm statistics of a batch of 1 are undefined in training
    with torch.no_grad():
        logits = model(torch.randn(batch, 3, height, width))
    assert logits.shape == (batch, 10, height // 4, width // 4)
    assert len(CLASSES) == 10
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize(("batch", "height", "width"), [(2, 256, 256), (1, 192, 256)])
def test_portrait_logits_at_half_resolution(batch, height, width):
    model = PortraitNet().eval()
    with torch.no_grad():
        logits = model(torch.randn(batch, 3, height, width))
    assert logits.shape == (batch, 2, height // 2, width // 2)
    assert torch.isfinite(logits).all()


def test_parser_default_classes_match_class_table():
    assert FaceParserNet().head.out_channels == len(CLASSES)


def test_parser_weight_budget():
    assert _parameter_bytes(FaceParserNet()) <= PARSER_MAX_BYTES


def test_portrait_weight_budget():
    assert _parameter_bytes(PortraitNet()) <= PORTRAIT_MAX_BYTES


@pytest.mark.parametrize("model_class", [FaceParserNet, PortraitNet])
def test_gradients_reach_every_parameter(model_class):
    model = model_class().train()
    logits = model(torch.randn(2, 3, 128, 128))
    target = torch.randint(0, logits.shape[1], (logits.shape[0], *logits.shape[-2:]))
    torch.nn.functional.cross_entropy(logits, target).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for: {missing}"
    not_finite = [name for name, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not not_finite, f"non-finite gradient for: {not_finite}"
