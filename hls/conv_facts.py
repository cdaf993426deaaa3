"""The facts of one convolutional block that both backends' templates render from, read
from the plan once so that the HLS kernel and the Verilog core cannot describe it apart."""

from __future__ import annotations

from hwmodel.plan import HardwarePlan


def conv_block(plan: HardwarePlan, index: int, shift: int) -> dict:
    """Block `index`'s shape, its rows of NPC channels and its slots per timestep (`shift`:
    the layer's current scaling, from the integer network)."""
    shape = plan.config.conv_shapes[index]
    rows = plan.rows[index]
    return {
        "index": index,
        "c_in": shape.in_channels,
        "height": shape.height,
        "width": shape.width,
        "channels": shape.channels,
        "pool": shape.pool,
        "rows": rows,
        "last_row": shape.channels - (rows - 1) * plan.npc,
        "slots": plan.slots[index],
        "busy": rows * shape.in_channels,  # the slots of a timestep that do work
        "shift": shift,
    }


def queue_stride(plan: HardwarePlan, index: int) -> int:
    """Inputs that one mask bit of dense layer `index`'s event queue steps: the last
    convolutional block's H' x W' positions for the head's first layer (a bit per channel,
    channel-major inputs), else 1 (a bit per neuron)."""
    config = plan.config
    if index != config.n_conv or not config.conv:
        return 1
    shape = config.conv_shapes[-1]
    return shape.out_height * shape.out_width
