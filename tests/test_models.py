"""Architecture contracts of the two networks: output shapes, weight budgets, gradient flow."""
from __future__ import annotations

import pytest
import torch

from poreseg.classes import CLASSES
from poreseg.models.parser_net import FaceParserNet
from poreseg.models.portrait_net import PortraitNet
from poreseg.training import loop

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


def _without_context_blocks(model: PortraitNet) -> dict:
    return {k: v for k, v in model.state_dict().items() if not k.startswith(("context8.", "context16."))}


def test_portrait_grown_from_weights_without_context_blocks_starts_unchanged(tmp_path):
    trained = PortraitNet().train()
    with torch.no_grad():  # batch-norm statistics and scales unlike their initial values, as after training
        for _ in range(3):
            trained(torch.randn(2, 3, 128, 128))
        for p in trained.parameters():
            p.add_(0.05 * torch.randn_like(p))
    old_file = tmp_path / "old.pt"
    torch.save({"model": _without_context_blocks(trained)}, old_file)
    reference = PortraitNet()
    reference.load_state_dict(_without_context_blocks(trained), strict=False)
    for block in (*reference.context8, *reference.context16):  # the old network, with no context at all
        block.residual, block.block = False, torch.nn.Identity()
    grown = PortraitNet()
    loop.start_from(grown, old_file, tmp_path / "absent.ckpt", log=lambda _: None, grown=True)
    x = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        assert torch.allclose(grown.eval()(x), reference.eval()(x), atol=1e-5)
        # and the identity is only where it starts: trained context blocks change the logits
        grown.context16[0].block[-1][1].weight.fill_(1.0)
        assert not torch.allclose(grown(x), reference(x), atol=1e-3)


def test_start_from_refuses_weights_of_another_network(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"model": {**PortraitNet().state_dict(), "extra.weight": torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match="extra.weight"):
        loop.start_from(PortraitNet(), other, tmp_path / "absent.ckpt", log=lambda _: None, grown=True)
    with pytest.raises(RuntimeError):
        loop.start_from(PortraitNet(), other, tmp_path / "absent.ckpt", log=lambda _: None)
