"""Small building blocks shared by the networks."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ConvBNAct(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                 dilation: int = 1, act: bool = True):
        padding = dilation * (kernel - 1) // 2
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups, bias=False),
                                   nn.BatchNorm2d(c_out)]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand, depthwise, project; residual when shapes allow."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expand: int = 4, dilation: int = 1,
                 identity_at_start: bool = False):
        """``identity_at_start``: the projection's batch-norm scale starts at zero, so that a residual block
        added to a trained network leaves its output unchanged until training moves it."""
        super().__init__()
        hidden = c_in * expand
        self.block = nn.Sequential(
            ConvBNAct(c_in, hidden, 1),
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, dilation=dilation),
            ConvBNAct(hidden, c_out, 1, act=False),
        )
        self.residual = stride == 1 and c_in == c_out
        if identity_at_start:
            if not self.residual:
                raise ValueError("only a residual block can start as the identity")
            nn.init.zeros_(self.block[-1][1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


def upsample_like(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=reference.shape[-2:], mode="bilinear", align_corners=False)
