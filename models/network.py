"""The Bayesian binary network that BayesBiNN trains and `models.conversion` turns into an SNN.

An optional convolutional front (`hwmodel.architecture`: binary 3x3 convolutions, stride 1,
zero padding 1, each followed by BatchNorm2d, the activation and optionally 2x2 max pooling of
stride 2), flattened channel-major into fully connected layers.  Hidden layer:
BayesBinaryLinear (or BayesBinaryConv2d) -> batch-norm (affine, per neuron or per channel) ->
activation (plain ReLU in training stage 1, the quantized ReLU of `levels` values in stage 2)
-> max pooling where the block asks for it (of the quantized values: the converted SNN ORs the
spikes instead).  Output layer: BayesBinaryLinear, then one learned positive scalar gain and a
per-class bias.  There is deliberately no per-class scale: the hardware accumulates +-1
synaptic events and cannot multiply, so the output neuron can only add ``bias / gain`` per
timestep; a global scale is free because softmax(scale * scores) applies it in software.

Weight layers are numbered globally, convolutions first: ``layers[l]`` and, for hidden
layers, ``norms[l]`` belong to weight layer l, as in the converted SNN and the hardware.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hwmodel.architecture import POOL, ConvBlock, ConvShape, conv_shapes, flat_size, parse_blocks
from hwmodel.errors import HardwareInputError
from models.bayes_layers import WEIGHT_MODES, BayesBinaryConv2d, BayesBinaryLinear, WeightMode
from models.errors import ModelInputError
from models.quant import QuantReLU

__all__ = ["BayesBinaryMLP", "BayesBinaryNet"]


def _front(
    widths: tuple[int, ...],
    input_shape: Sequence[int] | None,
    blocks: str | Sequence[ConvBlock | str],
) -> tuple[tuple[ConvShape, ...], tuple[int, int, int] | None]:
    """The convolutions' shapes and the image shape, checked against the dense widths."""
    try:
        parsed = parse_blocks(blocks)
        if not parsed:
            return (), None
        if input_shape is None or len(input_shape) != 3:
            raise ModelInputError(
                f"input_shape: {input_shape!r} must be (channels, height, width) for a "
                "convolutional network"
            )
        shape = tuple(int(v) for v in input_shape)
        shapes = conv_shapes(shape, parsed)
        if widths[0] != flat_size(shape, parsed):
            raise ModelInputError(
                f"widths: the dense layers take {widths[0]} inputs, but the convolutions "
                f"{','.join(map(str, parsed))} over {shape} hand on {flat_size(shape, parsed)}"
            )
    except HardwareInputError as exc:
        raise ModelInputError(str(exc)) from None
    return shapes, shape


class BayesBinaryNet(nn.Module):
    """Binary network over inputs in [0, 1] (flattened images [B, C*H*W] or [B, C, H, W]).

    `widths` = (inputs, hidden..., classes) of the dense layers, the inputs being the
    convolutional front's flattened output when `blocks` (e.g. ``"8p,16p"``) and
    `input_shape` (C, H, W) give one.
    """

    def __init__(
        self,
        widths: Sequence[int],
        levels: int = 4,
        clip: float = 1.0,
        tau: float = 1.0,
        lam_init: float = 1.0,
        generator: torch.Generator | None = None,
        input_shape: Sequence[int] | None = None,
        blocks: str | Sequence[ConvBlock | str] = (),
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ModelInputError(
                f"widths: {list(widths)} must be at least two positive integers, e.g. 64,256,10"
            )
        self.widths = widths
        self.conv_shapes, self.input_shape = _front(widths, input_shape, blocks)
        convs = [
            BayesBinaryConv2d(s.in_channels, s.channels, tau, lam_init, generator)
            for s in self.conv_shapes
        ]
        dense = [
            BayesBinaryLinear(n_in, n_out, tau=tau, lam_init=lam_init, generator=generator)
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
        ]
        self.layers = nn.ModuleList([*convs, *dense])
        self.norms = nn.ModuleList(
            [
                *(nn.BatchNorm2d(s.channels) for s in self.conv_shapes),
                *(nn.BatchNorm1d(n) for n in widths[1:-1]),
            ]
        )
        self.quant = QuantReLU(levels, clip)
        self.quantized = True  # stage 1 of training switches this off (plain ReLU)
        # Positive output gain, initialised so that logits start at unit scale.
        self.log_gain = nn.Parameter(torch.tensor(-0.5 * math.log(widths[-2])))
        self.out_bias = nn.Parameter(torch.zeros(widths[-1]))

    @property
    def blocks(self) -> tuple[ConvBlock, ...]:
        """The convolutional blocks (empty for an MLP)."""
        return tuple(ConvBlock(s.channels, s.pool) for s in self.conv_shapes)

    @property
    def input_size(self) -> int:
        """Input values per image."""
        return self.widths[0] if self.input_shape is None else math.prod(self.input_shape)

    @property
    def levels(self) -> int:
        """Activation levels of the quantized ReLU (0 included)."""
        return self.quant.levels

    @property
    def clip(self) -> float:
        """Clip value of the quantized ReLU: the activation that maps to one spike per step."""
        return self.quant.clip

    @property
    def gain(self) -> float:
        """The learned output gain (a plain float)."""
        return float(self.log_gain.detach().exp())

    def binary_parameters(self) -> list[nn.Parameter]:
        """The natural parameters that BayesBiNN updates."""
        return [layer.lam for layer in self.layers]

    def other_parameters(self) -> list[nn.Parameter]:
        """Batch-norm affine, output gain and bias: trained with an ordinary optimizer."""
        return [*self.norms.parameters(), self.log_gain, self.out_bias]

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_shape is None:
            return x
        if x.dim() == 2 and x.shape[1] == self.input_size:
            return x.view(x.shape[0], *self.input_shape)
        if x.dim() == 4 and tuple(x.shape[1:]) == self.input_shape:
            return x
        raise ModelInputError(
            f"x: shape {tuple(x.shape)} must be [batch, {self.input_size}] or "
            f"[batch, {', '.join(map(str, self.input_shape))}]"
        )

    def hidden(self, x: torch.Tensor, mode: WeightMode = "relaxed") -> list[torch.Tensor]:
        """What every hidden layer hands on (one weight draw per layer): a convolution's
        activations [B, C, H, W] after its pooling, the last one's flattened [B, C*H*W]."""
        outs = []
        act = self.quant if self.quantized else torch.relu
        x = self._image(x)
        n_conv = len(self.conv_shapes)
        for index, (layer, norm) in enumerate(zip(self.layers[:-1], self.norms, strict=True)):
            x = act(norm(layer(x, mode)))
            if index < n_conv and self.conv_shapes[index].pool:
                x = F.max_pool2d(x, POOL)
            if index == n_conv - 1:
                x = x.flatten(1)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor, mode: WeightMode = "relaxed") -> torch.Tensor:
        """Logits [B, classes] with one weight draw in `mode`."""
        if mode not in WEIGHT_MODES:
            raise ModelInputError(f"mode: {mode!r} must be one of {', '.join(WEIGHT_MODES)}")
        hidden = self.hidden(x, mode)
        z = self.layers[-1](hidden[-1] if hidden else x, mode)
        return self.log_gain.exp() * z + self.out_bias

    @torch.no_grad()
    def mc_logits(
        self, x: torch.Tensor, samples: int = 10, mode: WeightMode = "sample"
    ) -> torch.Tensor:
        """Logits [samples, B, classes], a fresh weight draw per sample, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return torch.stack([self(x, mode) for _ in range(samples)])
        finally:
            self.train(was_training)


#: The dense-only network's former name; the same class.
BayesBinaryMLP = BayesBinaryNet
