"""SINet-style extremely light portrait segmentation network (Park et al., 2019).

Spatial-squeeze blocks (depthwise convolutions on pooled copies of the features, so that each
block sees a wide context at almost no cost) and an information-blocking decoder: the coarse
prediction lets high-resolution detail through only where it is unsure, i.e. at the silhouette.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from poreseg.models.blocks import ConvBNAct, InvertedResidual, upsample_like


class SpatialSqueezeBranch(nn.Module):
    def __init__(self, channels: int, pool: int):
        super().__init__()
        self.pool = pool
        self.depthwise = ConvBNAct(channels, channels, 3, groups=channels, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(x, self.pool) if self.pool > 1 else x
        y = self.depthwise(y)
        return upsample_like(y, x) if self.pool > 1 else y


class SpatialSqueezeBlock(nn.Module):
    """Split channels in two, squeeze each half at a different pooling scale, merge, add."""

    def __init__(self, c_in: int, c_out: int, pools: tuple[int, int] = (1, 2)):
        super().__init__()
        half = c_out // 2
        self.reduce = ConvBNAct(c_in, c_out, 1)
        self.branches = nn.ModuleList(SpatialSqueezeBranch(half, p) for p in pools)
        self.merge = nn.Sequential(nn.BatchNorm2d(c_out), nn.PReLU(c_out))
        self.residual = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(x)
        a, b = y.chunk(2, dim=1)
        y = torch.cat([self.branches[0](a), self.branches[1](b)], dim=1)
        return self.merge(y + x if self.residual else y)


# Dilations of the context blocks (inverted residuals) after the 1/8 and 1/16 levels. They were added to
# the trained SINet-style network (issue 14): its errors on street and gym scenes (clutter called person,
# a person in a dark room missed) are errors of meaning, not of edges, so the capacity goes where the
# context is, at 16x16 and 32x32 cells, and costs little time there.
CONTEXT8_DILATIONS = (1, 2)
CONTEXT16_DILATIONS = (1, 2, 4)


def context_blocks(channels: int, dilations: tuple[int, ...]) -> nn.Sequential:
    """Residual blocks that start as the identity: a network grown from trained weights starts where the
    weights left it."""
    return nn.Sequential(*(InvertedResidual(channels, channels, dilation=d, identity_at_start=True)
                           for d in dilations))


class PortraitNet(nn.Module):
    input_size = 256

    def __init__(self, widths: tuple[int, int, int, int] = (16, 32, 64, 96)):
        """``widths``: channels at strides 2, 4, 8 and 16."""
        super().__init__()
        c2, c4, c8, c16 = widths
        self.stem = ConvBNAct(3, c2, 3, 2)
        self.down4 = nn.Sequential(ConvBNAct(c2, c2, 3, 2, groups=c2), ConvBNAct(c2, c4, 1))
        self.level4 = nn.Sequential(SpatialSqueezeBlock(c4, c4, (1, 2)), SpatialSqueezeBlock(c4, c4, (1, 4)))
        self.down8 = nn.Sequential(ConvBNAct(c4, c4, 3, 2, groups=c4), ConvBNAct(c4, c8, 1))
        self.level8 = nn.Sequential(SpatialSqueezeBlock(c8, c8, (1, 2)), SpatialSqueezeBlock(c8, c8, (2, 4)),
                                    SpatialSqueezeBlock(c8, c8, (1, 4)), SpatialSqueezeBlock(c8, c8, (2, 8)))
        self.context8 = context_blocks(c8, CONTEXT8_DILATIONS)
        self.down16 = nn.Sequential(ConvBNAct(c8, c8, 3, 2, groups=c8), ConvBNAct(c8, c16, 1))
        self.level16 = nn.Sequential(SpatialSqueezeBlock(c16, c16, (1, 2)), SpatialSqueezeBlock(c16, c16, (2, 4)),
                                     SpatialSqueezeBlock(c16, c16, (1, 4)), SpatialSqueezeBlock(c16, c16, (2, 8)))
        self.context16 = context_blocks(c16, CONTEXT16_DILATIONS)
        self.coarse_head = nn.Conv2d(c16, 2, 1)
        self.detail8 = ConvBNAct(c8, 2, 1, act=False)
        self.detail4 = ConvBNAct(c4, 2, 1, act=False)
        self.detail2 = ConvBNAct(c2, 2, 1, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Person logits (background, person) at 1/2 of the input resolution."""
        s2 = self.stem(x)
        s4 = self.level4(self.down4(s2))
        s8 = self.context8(self.level8(self.down8(s4)))
        logits = self.coarse_head(self.context16(self.level16(self.down16(s8))))
        for features, detail in ((s8, self.detail8), (s4, self.detail4), (s2, self.detail2)):
            logits = upsample_like(logits, features)
            # Information blocking: where the coarser map is confident, detail is suppressed.
            confidence = logits.softmax(1).amax(1, keepdim=True)
            logits = logits + detail(features) * (1 - confidence)
        return logits
