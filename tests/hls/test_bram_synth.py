"""The block-RAM rule (`hwmodel.resources.bram18`) against Yosys, through the design's own
memory modules (snn_mem.v's snn_rom and snn_ram, block style, read latency 2): memories of
shapes drawn at random, one synthesis, RAMB18 halves counted as `dse synth` counts them."""

import random
import shutil
from pathlib import Path

from hls.project import TEMPLATE_DIR
from hls.tools.synth import synthesize
from hwmodel.resources import bram18
from tests.hls.test_synth import needs_yosys


def _top(roms: list[tuple[int, int]], rams: list[tuple[int, int]]) -> str:
    """A top module reading every ROM and writing and reading every RAM through its ports."""
    ports, body = (
        ["input wire clk", "input wire we", "input wire [15:0] a", "input wire [15:0] b"],
        [],
    )
    for i, (depth, width) in enumerate(roms):
        aw = max(1, (depth - 1).bit_length())
        ports.append(f"output wire [{width - 1}:0] rom{i}")
        body.append(
            f"snn_rom #(.WIDTH({width}), .DEPTH({depth}), .AW({aw}), .STYLE(2), .LATENCY(2), "
            f'.INIT("rom{i}.mem")) u_rom{i} (.clk(clk), .raddr(a[{aw - 1}:0]), .rdata(rom{i}));'
        )
    for i, (depth, width) in enumerate(rams):
        aw = max(1, (depth - 1).bit_length())
        ports += [f"input wire [{width - 1}:0] din{i}", f"output wire [{width - 1}:0] ram{i}"]
        body.append(
            f"snn_ram #(.WIDTH({width}), .DEPTH({depth}), .AW({aw}), .STYLE(2), .LATENCY(2)) "
            f"u_ram{i} (.clk(clk), .we(we), .waddr(b[{aw - 1}:0]), .wdata(din{i}), "
            f".raddr(a[{aw - 1}:0]), .rdata(ram{i}));"
        )
    return (
        "module top(\n  " + ",\n  ".join(ports) + "\n);\n  " + "\n  ".join(body) + "\nendmodule\n"
    )


@needs_yosys
def test_block_counts_of_random_shapes_match_yosys(tmp_path: Path) -> None:
    draw = random.Random(2027)
    roms = [(draw.randint(65, 5000), draw.randint(2, 40)) for _ in range(3)]
    rams = [(draw.randint(65, 3000), draw.randint(2, 30)) for _ in range(2)]
    rtl = tmp_path / "rtl"
    rtl.mkdir()
    shutil.copy(TEMPLATE_DIR / "rtl" / "rtl" / "snn_mem.v", rtl / "snn_mem.v")
    (rtl / "top.v").write_text(_top(roms, rams))
    for i, (depth, width) in enumerate(roms):
        words = (f"{draw.getrandbits(width):x}" for _ in range(depth))
        (tmp_path / f"rom{i}.mem").write_text("\n".join(words) + "\n")
    measured = synthesize(tmp_path, top="top").measured
    model = [bram18(d, w, rom=True) for d, w in roms] + [bram18(d, w) for d, w in rams]
    assert measured["bram18k"] == sum(model), (roms, rams, model, measured["cells"])
