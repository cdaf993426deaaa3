"""Toggles split by power class: every bit counted once, in the class of the cells that
drive it (hls.rtl.activity), read from a hand-written VCD and core."""

from __future__ import annotations

from pathlib import Path

import pytest

from hls.rtl.activity import classify_signal, memory_nets, read_class_activity
from hwmodel.power import POWER_CLASSES

CORE = """\
module snn_core (input wire clk);
  snn_ram #(.WIDTH(8), .DEPTH(4), .AW(2), .STYLE(0), .LATENCY(0)) u_qa0 (
      .clk(clk), .we(q0_we), .waddr(q0_waddr), .wdata(qa0_wdata),
      .raddr(q0_raddr), .rdata(qa0_rdata));
  genvar g0;
  generate
    for (g0 = 0; g0 < LANES; g0 = g0 + 1) begin : g_lane0
      snn_ram #(.WIDTH(56), .DEPTH(378), .AW(9), .STYLE(2), .LATENCY(2)) u_sgn (
          .clk(clk), .we(sgn0_we), .waddr(sgn0_waddr), .wdata(sgn0_wdata[g0*8 +: 8]),
          .raddr(sgn0_raddr), .rdata(sgn0_rdata[g0*8 +: 8]));
    end
  endgenerate
  snn_rom #(.WIDTH(4), .DEPTH(82), .AW(7), .STYLE(1), .LATENCY(1), .INIT("b.mem")) u_bias0 (
      .clk(clk), .raddr(bias0_raddr), .rdata(bias0_rdata));
endmodule
"""


def test_memory_nets_take_the_kind_of_the_instance_they_connect(tmp_path: Path):
    nets = memory_nets(_write_core(tmp_path))
    assert nets["q0_raddr"] == nets["qa0_rdata"] == "registers"
    assert nets["sgn0_wdata"] == nets["sgn0_raddr"] == "bram"
    assert nets["bias0_rdata"] == "lutram"


def _write_core(folder: Path) -> Path:
    path = folder / "snn_core.v"
    path.write_text(CORE)
    return path


@pytest.mark.parametrize(
    ("path", "cls"),
    [
        ("fc_sum", "datapath"),
        ("g_fc_lane[0].g_fc_p[1].prior", "datapath"),
        ("ev1_onehot", "datapath"),
        ("fi0_fired_r", "datapath"),
        ("sp0_base", "sampler"),
        ("prng_keys", "sampler"),
        ("u_signs.x1", "prng"),
        ("u_signs.word", "prng"),
        ("u_signs.base_r", "sampler"),
        ("u_signs.keys", None),  # the core's prng_keys, counted there
        ("pix_data", "io"),
        ("sc_score", "io"),
        ("st", "control"),
        ("key_a", "control"),
        ("qa0_rdata", "registers"),
        ("sgn0_rdata", "bram"),
        ("clk", None),
        ("g_lane0[0].u_sgn.rdata", None),  # a memory is seen through the core's nets
    ],
)
def test_each_bit_goes_to_the_class_of_the_logic_that_drives_it(path, cls):
    nets = {"qa0_rdata": "registers", "sgn0_rdata": "bram"}
    assert classify_signal(path, nets) == cls


def test_a_memory_port_net_of_no_memory_is_an_error():
    with pytest.raises(ValueError, match="cur9_rdata"):
        classify_signal("cur9_rdata", {})


VCD = """\
$timescale 1ps $end
$scope module TOP $end
 $var wire 1 ! clk $end
 $scope module snn_core $end
  $var wire 1 ! clk $end
  $var wire 4 " fc_sum [3:0] $end
  $var wire 2 # sgn0_rdata [1:0] $end
  $scope module g_lane0(0) $end
   $scope module u_sgn $end
    $var wire 2 # rdata [1:0] $end
    $var wire 2 $ word [1:0] $end
   $upscope $end
  $upscope $end
  $scope module u_signs $end
   $var wire 8 % x1 [7:0] $end
  $upscope $end
 $upscope $end
$upscope $end
$enddefinitions $end
#0
0!
b0000 "
b00 #
b00 $
b00000000 %
#1
1!
b0101 "
b11 #
b11 $
b11111111 %
#2
0!
b0110 "
#3
1!
b00 #
b11110000 %
"""


def test_class_activity_counts_each_bit_once_from_the_vcd(tmp_path: Path):
    """fc_sum: 0000 -> 0101 -> 0110, 2 + 2 transitions over 4 bits; sgn0_rdata (also the
    memory's rdata, one code): 00 -> 11 -> 00, 4 over 2 bits; the memory's own word and the
    clock are not counted; x1: 8 + 4 over 8 bits."""
    core = _write_core(tmp_path)
    vcd = tmp_path / "activity.vcd"
    vcd.write_text(VCD)
    act = read_class_activity(vcd, core)
    assert set(act) == set(POWER_CLASSES)
    assert (act["datapath"].bits, act["datapath"].toggles) == (4, 4)
    assert (act["bram"].bits, act["bram"].toggles) == (2, 4)
    assert (act["prng"].bits, act["prng"].toggles) == (8, 12)
    assert act["datapath"].rate(2) == pytest.approx(4 / 8)
    assert act["control"].bits == 0 and act["control"].rate(2) == 0.0
