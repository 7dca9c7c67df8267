"""The pore networks of the ablation study: which architecture and which of PS-Net's ideas each one has,
where its weights go, and how to build and load it. Shared by training, calibration and evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from poreseg.models.psnet_net import PlainUNet, PSNet
from poreseg.weights import load_state


@dataclass(frozen=True)
class Variant:
    """A trained network of the ablation study."""

    name: str
    label: str  # row name in the evaluation tables
    arch: str  # "psnet" or "unet"
    high_frequency_attention: bool = True
    bayesian: bool = True
    progressive: bool = True
    # "coarse": DoGPore's coarse labels (``train psnet``); "synthetic": the renderer's exact masks
    # (``synthetic_ceiling``), an upper bound for the benchmark, never shipped.
    labels: str = "coarse"

    @property
    def default_out(self) -> Path:
        return Path("weights/psnet.pt") if self.name == "psnet" else Path(f"checkpoints/psnet_{self.name}.pt")

    @property
    def default_checkpoint(self) -> Path:
        return Path("checkpoints/psnet.ckpt") if self.name == "psnet" else Path(f"checkpoints/psnet_{self.name}.ckpt")


VARIANTS = (
    Variant("unet", "plain U-Net", "unet", progressive=False),
    Variant("psnet", "PS-Net", "psnet"),
    Variant("no_hfa", "PS-Net w/o high-frequency attention", "psnet", high_frequency_attention=False),
    Variant("no_bayes", "PS-Net w/o Bayesian module", "psnet", bayesian=False),
    Variant("no_progressive", "PS-Net w/o progressive labels", "psnet", progressive=False),
    Variant("synthetic", "PS-Net on exact synthetic labels (upper bound)", "psnet", progressive=False,
            labels="synthetic"),
)
DOG_LABEL = "DoGPore"
PSNET_LABEL = next(variant.label for variant in VARIANTS if variant.name == "psnet")


def build_net(variant: Variant) -> torch.nn.Module:
    if variant.arch == "unet":
        return PlainUNet()
    return PSNet(high_frequency_attention=variant.high_frequency_attention, bayesian=variant.bayesian)



def trained_nets(paths: dict[str, Path] | None = None, exclude: tuple[str, ...] = ()) -> dict[str, torch.nn.Module]:
    """The networks of ``VARIANTS`` but ``exclude`` (variant names) whose weights exist, from their
    default paths or ``paths`` by variant name."""
    nets = {}
    for variant in VARIANTS:
        path = (paths or {}).get(variant.name, variant.default_out)
        if variant.name not in exclude and path.exists():
            net = build_net(variant)
            net.load_state_dict(load_state("psnet", path))
            nets[variant.name] = net.eval()
    return nets
