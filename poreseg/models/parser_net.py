"""Face parsing network: a MobileNetV2-style encoder, a pooled context module and an FPN decoder.

About 0.5 M parameters; runs on a 256x256 face crop and predicts all classes at 1/4 resolution,
which the caller upsamples.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from poreseg.models.blocks import ConvBNAct, InvertedResidual, upsample_like


class ParserEncoder(nn.Module):
    """Features at strides 4, 8, 16 and 32."""

    channels = (24, 32, 64, 128)

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(ConvBNAct(3, 16, 3, 2), InvertedResidual(16, 16, expand=1))
        self.stage4 = nn.Sequential(InvertedResidual(16, 24, 2), InvertedResidual(24, 24))
        self.stage8 = nn.Sequential(InvertedResidual(24, 32, 2), InvertedResidual(32, 32), InvertedResidual(32, 32))
        self.stage16 = nn.Sequential(InvertedResidual(32, 64, 2), InvertedResidual(64, 64), InvertedResidual(64, 64),
                                     InvertedResidual(64, 64, dilation=2))
        self.stage32 = nn.Sequential(InvertedResidual(64, 128, 2), InvertedResidual(128, 128),
                                     InvertedResidual(128, 128, dilation=2))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f4 = self.stage4(self.stem(x))
        f8 = self.stage8(f4)
        f16 = self.stage16(f8)
        return [f4, f8, f16, self.stage32(f16)]


class GlobalContext(nn.Module):
    """Adds the image-level mean feature back to every position: the whole face informs each pixel."""

    def __init__(self, channels: int):
        super().__init__()
        self.project = ConvBNAct(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(F.adaptive_avg_pool2d(x, 1))


class FPNDecoder(nn.Module):
    def __init__(self, encoder_channels: tuple[int, ...], width: int = 64):
        super().__init__()
        self.lateral = nn.ModuleList(ConvBNAct(c, width, 1) for c in encoder_channels)
        self.smooth = nn.ModuleList(
            nn.Sequential(ConvBNAct(width, width, 3, groups=width), ConvBNAct(width, width, 1))
            for _ in encoder_channels[:-1])

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.lateral[-1](features[-1])
        for i in range(len(features) - 2, -1, -1):
            x = self.smooth[i](self.lateral[i](features[i]) + upsample_like(x, features[i]))
        return x


class FaceParserNet(nn.Module):
    input_size = 256

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.encoder = ParserEncoder()
        self.context = GlobalContext(self.encoder.channels[-1])
        self.decoder = FPNDecoder(self.encoder.channels)
        self.head = nn.Conv2d(64, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input resolution."""
        features = self.encoder(x)
        features[-1] = self.context(features[-1])
        return self.head(self.decoder(features))
