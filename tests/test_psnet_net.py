"""Architecture contracts of PS-Net and the plain U-Net: shapes, budgets, the two switchable modules."""
from __future__ import annotations

import pytest
import torch

from poreseg.models.psnet_net import HighFrequencyAttention, MonteCarloDropout, PlainUNet, PSNet

pytestmark = pytest.mark.usefixtures("one_thread_seeded")

MAX_PARAMETERS = 1_500_000


def _parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _count(model: torch.nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize("model_class", [PSNet, PlainUNet])
@pytest.mark.parametrize(("batch", "height", "width"), [(2, 64, 64), (1, 48, 80)])
def test_full_resolution_logits_and_maps(model_class, batch, height, width):
    model = model_class().eval()
    x = torch.randn(batch, 3, height, width)
    with torch.no_grad():
        logits = model(x)
    probability, uncertainty = model.predict(x, samples=4)
    for out in (logits, probability, uncertainty):
        assert out.shape == (batch, 1, height, width)
        assert torch.isfinite(out).all()
    for out in (probability, uncertainty):
        assert out.min() >= 0 and out.max() <= 1


def test_parameter_budget():
    psnet = _parameters(PSNet())
    assert 100_000 <= psnet <= MAX_PARAMETERS
    # The baseline is a real U-Net of the usual small size, not a strawman.
    assert _parameters(PlainUNet()) > psnet


def test_bayesian_prediction_has_uncertainty():
    model = PSNet().eval()
    x = torch.randn(1, 3, 64, 64)
    probability, uncertainty = model.predict(x, samples=8)
    assert uncertainty.max() > 0
    # The mean of the draws is not the deterministic (dropout off) pass.
    with torch.no_grad():
        assert not torch.equal(probability, torch.sigmoid(model(x)))


@pytest.mark.parametrize("model", [PSNet(bayesian=False), PlainUNet()], ids=["psnet-no-bayes", "unet"])
def test_deterministic_networks_have_zero_uncertainty(model):
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    probability, uncertainty = model.predict(x, samples=8)
    assert torch.count_nonzero(uncertainty) == 0
    with torch.no_grad():
        torch.testing.assert_close(probability, torch.sigmoid(model(x)))


def test_predict_samples_only_inside_the_call():
    model = PSNet().eval()
    x = torch.randn(1, 3, 64, 64)
    model.predict(x, samples=4)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # eval mode is deterministic again after predict
    model.train()
    assert not torch.equal(model(x), model(x))  # in training every pass is a Monte-Carlo draw


def test_switches_change_the_modules():
    full = PSNet()
    assert _count(full, HighFrequencyAttention) == 2 and _count(full, MonteCarloDropout) == 3
    no_hfa = PSNet(high_frequency_attention=False)
    assert _count(no_hfa, HighFrequencyAttention) == 0 and _count(no_hfa, MonteCarloDropout) == 3
    no_bayes = PSNet(bayesian=False)
    assert _count(no_bayes, HighFrequencyAttention) == 2 and _count(no_bayes, MonteCarloDropout) == 0
    assert _parameters(no_hfa) < _parameters(full)
    assert _parameters(no_bayes) == _parameters(full)  # dropout has no weights: same network, not sampled


def test_checkpoints_of_ablations_are_not_interchangeable():
    with pytest.raises(RuntimeError):
        PSNet(high_frequency_attention=False).load_state_dict(PSNet().state_dict())


@pytest.mark.parametrize("model_class", [PSNet, PlainUNet])
def test_gradients_reach_every_parameter(model_class):
    model = model_class().train()
    logits = model(torch.randn(2, 3, 64, 64))
    target = (torch.rand_like(logits) > 0.9).float()
    torch.nn.functional.binary_cross_entropy_with_logits(logits, target).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient for: {missing}"
