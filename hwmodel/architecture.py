"""The convolutional front of a network: the one description models, plan and search share.

A network is an optional stack of convolutional blocks over an image of shape (C, H, W),
flattened (channel-major: index = (c x H + y) x W + x) into the fully connected layers that
`AcceleratorConfig.widths` describes today.  Every block is a binary 3x3 convolution, stride
1, zero padding 1 (the output has the input's height and width), followed by integrate-and-
fire neurons with one threshold and bias per output channel, and optionally a 2x2 pooling of
stride 2 (floor: an odd last row or column is dropped).  Pooling works on spikes: in the SNN
a pooled neuron spikes in a timestep when any of its four inputs spiked (max pooling of
binary spikes is an OR); the ANN it is converted from max-pools its quantized activations.

A block is written ``16`` (no pooling) or ``16p`` (pooled); a front as a comma-separated
list, e.g. ``8p,16p`` for two pooled blocks of 8 and 16 channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwmodel.errors import HardwareInputError

__all__ = ["KERNEL", "ConvBlock", "ConvShape", "conv_shapes", "flat_size", "parse_blocks"]

KERNEL = 3  # kernel height and width of every convolution
PADDING = 1  # zero padding on each side: output height and width equal the input's
POOL = 2  # pooling window and stride


@dataclass(frozen=True)
class ConvBlock:
    """One block: `channels` output channels, then 2x2 OR pooling when `pool`."""

    channels: int
    pool: bool = False

    def __post_init__(self) -> None:
        if int(self.channels) != self.channels or self.channels < 1:
            raise HardwareInputError(
                f"channels: {self.channels!r} must be a positive integer, e.g. 8 or 16p"
            )

    def __str__(self) -> str:
        return f"{self.channels}{'p' if self.pool else ''}"


@dataclass(frozen=True)
class ConvShape:
    """The geometry of one block: input (C, H, W), the convolution's output (channels, H, W)
    and, after pooling, the block's output."""

    in_channels: int
    height: int
    width: int
    channels: int
    pool: bool

    @property
    def out_height(self) -> int:
        return self.height // POOL if self.pool else self.height

    @property
    def out_width(self) -> int:
        return self.width // POOL if self.pool else self.width

    @property
    def fan_in(self) -> int:
        """Synapses of one neuron: the kernel over every input channel."""
        return self.in_channels * KERNEL * KERNEL

    @property
    def neurons(self) -> int:
        """Neurons of the convolution (before pooling): one per output channel and pixel."""
        return self.channels * self.height * self.width

    @property
    def outputs(self) -> int:
        """Values the block hands on (after pooling)."""
        return self.channels * self.out_height * self.out_width


def parse_blocks(value: str | list | tuple) -> tuple[ConvBlock, ...]:
    """``"8p,16p"`` (or a list of such items, or of ConvBlocks) as blocks; ``""`` is none."""
    items = value.split(",") if isinstance(value, str) else list(value)
    blocks = []
    for item in items:
        if isinstance(item, ConvBlock):
            blocks.append(item)
            continue
        text = str(item).strip().lower()
        if not text:
            continue
        pool = text.endswith("p")
        digits = text[:-1] if pool else text
        if not digits.isdigit() or int(digits) < 1:
            raise HardwareInputError(
                f"conv: {item!r} is not a block; write channels, with p for 2x2 pooling, "
                "e.g. 8p,16p"
            )
        blocks.append(ConvBlock(int(digits), pool))
    return tuple(blocks)


def conv_shapes(
    input_shape: tuple[int, int, int], blocks: tuple[ConvBlock, ...]
) -> tuple[ConvShape, ...]:
    """The geometry of every block over an input of (channels, height, width)."""
    channels, height, width = (int(v) for v in input_shape)
    shapes = []
    for block in blocks:
        shape = ConvShape(channels, height, width, block.channels, block.pool)
        if shape.out_height < 1 or shape.out_width < 1:
            raise HardwareInputError(
                f"conv: block {len(shapes) + 1} ({block}) pools a {height}x{width} map to "
                "nothing; use fewer pooled blocks"
            )
        shapes.append(shape)
        channels, height, width = block.channels, shape.out_height, shape.out_width
    return tuple(shapes)


def flat_size(input_shape: tuple[int, int, int], blocks: tuple[ConvBlock, ...]) -> int:
    """Inputs of the first fully connected layer: the last block's outputs (or the image's)."""
    shapes = conv_shapes(input_shape, blocks)
    if not shapes:
        c, h, w = input_shape
        return int(c * h * w)
    return shapes[-1].outputs
