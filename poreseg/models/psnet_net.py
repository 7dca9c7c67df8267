"""PS-Net (pore segmentation network) and the plain U-Net it is compared with.

PS-Net is an encoder-decoder whose decoder has two branches that meet only at the logits:

* a *detail* decoder (strides 8 -> 4 -> 2 -> 1, deterministic) whose skip features are re-weighted by
  a high-frequency attention module: pores are small dark blobs, i.e. high-frequency content, so the
  skip features are emphasised where, and in the channels where, their wavelet detail is strong;
* a *context* decoder at stride 16 with Monte-Carlo dropout: the Bayesian module. It turns the
  high-level features into a gain and a bias of the detail logits ("is this pore-bearing skin, how
  strong must a blob be here").

Because the Bayesian part reaches the detail logits only through that gain and bias, ``predict`` runs
the encoder and the detail decoder once and samples only the context decoder: per draw and pixel a
multiply-add and a sigmoid. The detail decoder's last stage works at full resolution, but narrow (8
channels): the stride-2 features are pixel-shuffled up (a learned upsampling) and meet features of the
image itself, so neighbouring pores 2-3 px apart stay apart. Everything wide runs at stride 4 and
below, which is what makes a 2048x2048 region affordable on two CPU cores.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from poreseg.models.blocks import ConvBNAct, InvertedResidual, upsample_like

INPUT_MULTIPLE = 16  # input height and width must be multiples of this (the deepest stride)


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise: the cheap 3x3 convolution."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1):
        super().__init__(ConvBNAct(c_in, c_in, 3, stride, groups=c_in, dilation=dilation),
                         ConvBNAct(c_in, c_out, 1))


class PSNetEncoder(nn.Module):
    """Features at strides 2, 4, 8 and 16. The stride-2 features come from the stem alone: a layer
    there costs as much as four of the same width at stride 4."""

    def __init__(self, widths: tuple[int, int, int, int]):
        super().__init__()
        c2, c4, c8, c16 = widths
        self.stage2 = ConvBNAct(3, c2, 3, 2)
        self.stage4 = nn.Sequential(SeparableConv(c2, c4, stride=2), InvertedResidual(c4, c4, expand=2))
        self.stage8 = nn.Sequential(SeparableConv(c4, c8, stride=2), InvertedResidual(c8, c8, expand=3),
                                    InvertedResidual(c8, c8, expand=3, dilation=2))
        self.stage16 = nn.Sequential(SeparableConv(c8, c16, stride=2), InvertedResidual(c16, c16, expand=3),
                                     InvertedResidual(c16, c16, expand=3, dilation=2),
                                     InvertedResidual(c16, c16, expand=3, dilation=4))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in (self.stage2, self.stage4, self.stage8, self.stage16):
            x = stage(x)
            features.append(x)
        return features


class HighFrequencyAttention(nn.Module):
    """Re-weights features by their high-frequency content: ``x * (1 + a)``, where the attention ``a``
    (per pixel and channel, in (0, 1)) is a 1x1 convolution of ``|x - blur(x)|``. The blur is a fixed
    3x3 binomial filter (a Gaussian of sigma ~0.7 px), so what it removes is the 1-2 px structure a
    pore has at this stride, the same wherever it lies.

    The attention is local (no global pooling) so that a tiled image gives the same answer as a
    whole one; the residual form keeps the skip path intact at initialisation.
    """

    def __init__(self, channels: int):
        super().__init__()
        binomial = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(binomial, binomial) / 16
        self.register_buffer("blur_kernel", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)
        self.attention = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        detail = x - F.conv2d(x, self.blur_kernel, padding=1, groups=x.shape[1])
        return torch.addcmul(x, x, self.attention(detail.abs()))


class MonteCarloDropout(nn.Dropout2d):
    """Channel dropout (Tompson et al., 2015) that ``monte_carlo`` makes sample in eval mode too:
    Monte-Carlo dropout (Gal & Ghahramani, 2016). Dropping whole feature maps keeps the masks to a
    few numbers per draw. Drawn in advance from a seeded generator and shared by all images of a batch,
    they make a prediction reproducible, the same for every tile of an image, and constants of the
    exported network (poreseg.models.export)."""

    keep: torch.Tensor | None = None  # (draws, channels) bool, set by monte_carlo

    def __init__(self, p: float, channels: int):
        super().__init__(p)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.keep is None:
            return super().forward(x)
        scale = (self.keep.to(x.dtype) / (1 - self.p)).repeat_interleave(x.shape[0] // len(self.keep), dim=0)
        return x * scale[..., None, None]


class BayesianContextDecoder(nn.Module):
    """Stride 16: gain and bias of the detail logits from the high-level features.

    A deterministic 1x1 projection (``reduce``, run once) feeds the Bayesian layers (``sampled``): with
    ``bayesian`` their inputs pass through Monte-Carlo dropout; without, the dropout layers are absent
    and it is an ordinary decoder stage.
    """

    def __init__(self, c16: int, hidden: int, bayesian: bool, dropout: float):
        super().__init__()

        def drop() -> nn.Module:
            return MonteCarloDropout(dropout, hidden) if bayesian else nn.Identity()

        self.reduce = ConvBNAct(c16, hidden, 1)
        self.sampled = nn.Sequential(drop(), SeparableConv(hidden, hidden), drop(), SeparableConv(hidden, hidden),
                                     drop(), nn.Conv2d(hidden, 2, 1))

    def forward(self, s16: torch.Tensor, draws: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """(gain in (0, 2), bias), each (draws * N, 1, H/16, W/16), draw-major."""
        y = self.reduce(s16)
        gain, bias = self.sampled(torch.cat([y] * draws)).chunk(2, dim=1)
        return 2 * torch.sigmoid(gain), bias


class DetailDecoder(nn.Module):
    """Strides 8 -> 4 -> 2 -> 1 over the (attention-weighted) skip features; returns full-resolution
    features (``FULL_WIDTH`` channels). At full resolution the image's own features join unweighted:
    attention there would cost as much as the rest of the decoder."""

    FULL_WIDTH = 8

    def __init__(self, widths: tuple[int, int, int, int], high_frequency_attention: bool):
        super().__init__()
        c2, c4, c8, _ = widths
        c1 = self.FULL_WIDTH
        attention = HighFrequencyAttention if high_frequency_attention else (lambda channels: nn.Identity())
        self.skip4, self.skip2 = attention(c4), attention(c2)
        self.lateral8 = ConvBNAct(c8, c4, 1)
        self.fuse4 = nn.Sequential(SeparableConv(c4, c4), ConvBNAct(c4, c2, 1))
        self.fuse2 = SeparableConv(c2, c2)
        self.image1 = ConvBNAct(3, c1, 3)
        self.up2 = nn.Sequential(nn.Conv2d(c2, 4 * c1, 1), nn.PixelShuffle(2))
        self.fuse1 = SeparableConv(c1, c1)

    def forward(self, image: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        s2, s4, s8, _ = features
        y = self.fuse4(self.skip4(s4) + upsample_like(self.lateral8(s8), s4))
        y = self.fuse2(self.skip2(s2) + upsample_like(y, s2))
        return self.fuse1(self.image1(image) + self.up2(y))


class Calibration(nn.Module):
    """What a trained pore network's probability means, fitted on validation patches after training
    (``poreseg.training.calibrate_psnet``) and stored with its weights: a logit scale and bias (Platt
    scaling: the probability then matches how often a pixel of that probability is a pore) and the
    threshold on the calibrated probability that makes the pore mask."""

    def __init__(self):
        super().__init__()
        self.register_buffer("logit_scale", torch.tensor(1.0))
        self.register_buffer("logit_bias", torch.tensor(0.0))
        self.register_buffer("threshold", torch.tensor(0.5))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probability of raw logits (in place)."""
        return logits.mul_(self.logit_scale).add_(self.logit_bias).sigmoid_()


class PSNet(nn.Module):
    def __init__(self, high_frequency_attention: bool = True, bayesian: bool = True,
                 widths: tuple[int, int, int, int] = (16, 24, 48, 96), context_width: int = 32,
                 dropout: float = 0.2):
        """``widths``: encoder channels at strides 2, 4, 8, 16. The two flags switch off the
        high-frequency attention and the Monte-Carlo dropout (the ablations)."""
        super().__init__()
        self.bayesian = bayesian
        self.encoder = PSNetEncoder(widths)
        self.detail = DetailDecoder(widths, high_frequency_attention)
        self.context = BayesianContextDecoder(widths[3], context_width, bayesian, dropout)
        self.head = nn.Conv2d(DetailDecoder.FULL_WIDTH, 1, 3, padding=1)
        self.calibration = Calibration()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pore logits (N, 1, H, W). In train mode the dropout samples, as in one Monte-Carlo draw."""
        features = self.encoder(x)
        detail = self.head(self.detail(x, features))
        gain, bias = to_size(self.context(features[3]), detail)
        return torch.addcmul(bias, detail, gain)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, samples: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """(probability, uncertainty), each (N, 1, H, W) in [0, 1].

        The probability is the mean over ``samples`` Monte-Carlo draws of the context decoder, each
        calibrated (``Calibration``); the
        uncertainty is twice the standard deviation of the drawn probabilities (a standard deviation
        of values in [0, 1] is at most 0.5). The encoder and the detail decoder run once. The draws
        are seeded: the same input gives the same answer. Without the Bayesian module there is
        nothing to sample: one pass, uncertainty zeros.
        """
        features = self.encoder(x)
        detail = self.head(self.detail(x, features)).contiguous()
        draws = samples if self.bayesian else 1
        with monte_carlo(self.context, draws):
            gains, biases = self.context(features[3], draws)
        # The calibration is affine in the logits, and bilinear resizing keeps constants: both fold into
        # the stride-16 maps, so that a draw's calibrated logits at full resolution are one multiply-add.
        scale, offset = self.calibration.logit_scale, self.calibration.logit_bias
        context = torch.cat([gains * scale, biases * scale + offset], dim=1)
        # Draw by draw, keeping sums of the probabilities' differences from the first draw (which keeps
        # the spread exact in float32): a few full-resolution maps in memory, not three per draw (a
        # 768 px tile's prediction needed 120 MB with all draws at once).
        n = len(detail)
        first = total = squares = None
        for draw in range(draws):
            gain, bias = upsample_like(context[draw * n:(draw + 1) * n], detail).chunk(2, dim=1)
            p = torch.addcmul(bias, detail, gain).sigmoid_()
            if first is None:
                first, total, squares = p, torch.zeros_like(p), torch.zeros_like(p)
            else:
                difference = p.sub_(first)
                total.add_(difference)
                squares.addcmul_(difference, difference)
        mean_difference = total.div_(draws)
        variance = squares.div_(draws).sub_(mean_difference.square()).clamp_(min=0)
        return first.add_(mean_difference), variance.sqrt_().mul_(2).clamp_(max=1)


def to_size(maps: tuple[torch.Tensor, ...], reference: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Context maps (stride 16) bilinearly at the size of the detail logits (full resolution)."""
    return tuple(upsample_like(m, reference) for m in maps)


@contextmanager
def monte_carlo(module: nn.Module, draws: int, seed: int = 0) -> Iterator[None]:
    """Within the block, the Monte-Carlo dropout layers of ``module`` apply ``draws`` masks each (drawn
    layer after layer from one generator seeded with ``seed``) to inputs that hold ``draws`` draw-major
    copies of a batch. Masks an enclosing block drew for as many draws stay: an export draws them
    before it traces ``predict``, so that the graph holds them as constants, not a random generator."""
    layers = [m for m in module.modules() if isinstance(m, MonteCarloDropout)]
    if all(layer.keep is not None and len(layer.keep) == draws for layer in layers):
        yield
        return
    generator = torch.Generator().manual_seed(seed)
    for layer in layers:
        layer.keep = torch.rand(draws, layer.channels, generator=generator) >= layer.p
    try:
        yield
    finally:
        for layer in layers:
            layer.keep = None


class DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int):
        super().__init__(ConvBNAct(c_in, c_out), ConvBNAct(c_out, c_out))


class PlainUNet(nn.Module):
    """Ronneberger et al.'s U-Net at a small width: double 3x3 conv blocks, max-pool down,
    transposed-conv up, concatenated skips, full-resolution output."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.down = nn.ModuleList(DoubleConv(c_in, c_out) for c_in, c_out in zip((3, *widths[:-1]), widths))
        self.up = nn.ModuleList(nn.ConvTranspose2d(c_in, c_out, 2, 2) for c_in, c_out in
                                zip(widths[:0:-1], widths[-2::-1]))
        self.merge = nn.ModuleList(DoubleConv(2 * c, c) for c in widths[-2::-1])
        self.head = nn.Conv2d(widths[0], 1, 1)
        self.calibration = Calibration()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], 1))
        return self.head(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, samples: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """(probability, uncertainty zeros); ``samples`` is accepted for PSNet's signature and unused:
        a deterministic network has nothing to sample."""
        probability = self.calibration(self(x))
        return probability, torch.zeros_like(probability)
