"""SINet-style extremely light portrait segmentation network (Park et al., 2019).

Spatial-squeeze blocks (depthwise convolutions on pooled copies of the features, so that each
block sees a wide context at almost no cost) and an information-blocking decoder: the coarse
prediction lets high-resolution detail through only where it is unsure, i.e. at the silhouette.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from poreseg.models.blocks import ConvBNAct, upsample_like


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


class PortraitNet(nn.Module):
    input_size = 256

    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(3, 16, 3, 2)  # 1/2
        self.down4 = nn.Sequential(ConvBNAct(16, 16, 3, 2, groups=16), ConvBNAct(16, 32, 1))  # 1/4
        self.level4 = nn.Sequential(SpatialSqueezeBlock(32, 32, (1, 2)), SpatialSqueezeBlock(32, 32, (1, 4)))
        self.down8 = nn.Sequential(ConvBNAct(32, 32, 3, 2, groups=32), ConvBNAct(32, 64, 1))  # 1/8
        self.level8 = nn.Sequential(SpatialSqueezeBlock(64, 64, (1, 2)), SpatialSqueezeBlock(64, 64, (2, 4)),
                                    SpatialSqueezeBlock(64, 64, (1, 4)), SpatialSqueezeBlock(64, 64, (2, 8)))
        self.down16 = nn.Sequential(ConvBNAct(64, 64, 3, 2, groups=64), ConvBNAct(64, 96, 1))  # 1/16
        self.level16 = nn.Sequential(SpatialSqueezeBlock(96, 96, (1, 2)), SpatialSqueezeBlock(96, 96, (2, 4)),
                                     SpatialSqueezeBlock(96, 96, (1, 4)), SpatialSqueezeBlock(96, 96, (2, 8)))
        self.coarse_head = nn.Conv2d(96, 2, 1)
        self.detail8 = ConvBNAct(64, 2, 1, act=False)
        self.detail4 = ConvBNAct(32, 2, 1, act=False)
        self.detail2 = ConvBNAct(16, 2, 1, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Person logits (background, person) at 1/2 of the input resolution."""
        s2 = self.stem(x)
        s4 = self.level4(self.down4(s2))
        s8 = self.level8(self.down8(s4))
        logits = self.coarse_head(self.level16(self.down16(s8)))
        for features, detail in ((s8, self.detail8), (s4, self.detail4), (s2, self.detail2)):
            logits = upsample_like(logits, features)
            # Information blocking: where the coarser map is confident, detail is suppressed.
            confidence = logits.softmax(1).amax(1, keepdim=True)
            logits = logits + detail(features) * (1 - confidence)
        return logits
