"""A 2-layer design small enough to price by hand; the model must reproduce every figure.

Design: widths (64, 16, 4), P = 4 PEs, Q = 1 synapse per cycle, 1 sample lane, k = 4,
b = 8, reuse 1, 4-bit inputs, T = 2, S = 2 (repeat), memory sampling, xc7z020 at 100 MHz,
hidden spike rate 0.25 (4 of the 16 hidden neurons fire per timestep).

npc = P*Q = 4; rows: layer 0 ceil(16/4) = 4, layer 1 ceil(4/4) = 1.
Current bits: layer 0 bit_length(64*15 = 960) + 1 = 11; layer 1 bit_length(16) + 1 = 6.

Resources (coefficients.json):
  PE: 4 lanes x (1*k + 1*11 + 5*b = 4 + 11 + 40 = 55) + 4 PEs x 8 = 252 LUT;
      4 x (1 + 11 + 2*8 = 28) + 4 x 8 = 144 FF.
  PRNG: min(4, ceil(3/1) + 1) = 4 units x (320 + 4) = 1296 LUT, x (192 + 4) = 784 FF.
  Weight codes: flat depth ceil(1088/4) = 272 (> 64: block RAM), width Q*k = 4:
      ceil(272/4096) * ceil(4/4) = 1 RAMB18 per PE -> 4 BRAM18.
  Sampled bits: two banks of depth ceil(272/2) = 136, width npc*lanes = 4 -> 1 RAMB18 each
      = 2 BRAM18; rotator 4 bits x ceil(log2(4)/2) = 1 level = 4 LUT.
  Neuron memory, layer 0 (depth 4: LUTRAM, width LUTs per PE): membranes 8 + currents 11 +
      threshold/bias/initial 24 = 43 x 4 PEs = 172 LUT (LUTRAM);
      layer 1 (depth 1: registers, w FF + w mux LUT): 8 + 6 + 16 (bias, initial) = 30 x 4
      = 120 FF and 120 LUT.  Total 292 LUT, 120 FF.
  Spike buffers: input 64 x 4 bits (LUTRAM, 4 LUT); hidden event queue 16 x (4 + 1) bits
      (5 LUT) -> 9 LUT.
  Control: 900 + 60*2 + 40*1 = 1060 LUT, 900 + 80*2 + 60*1 = 1120 FF.
  AXI: 900 LUT, 1300 FF, 2 BRAM18.
  Totals: LUT 252+1296+4+292+9+1060+900 = 3813; FF 144+784+120+1120+1300 = 3468;
      BRAM18 4+2+2 = 8 -> BRAM36 4.0; DSP 0; LUTRAM 172+9 = 181.

Cycles (template schedule, 2 rounds of 1 lane, 2 weight samples):
  sampling 2 x ceil(1088/4) = 544; layer 0: fire (4+4)*T*rounds = 32 plus first-layer
  current 2 x (64*4 + 4) = 520 -> 552; layer 1: fire (1+4)*4 = 20 plus events
  4 events x 1 row x 2 timesteps x 2 rounds = 16 -> 36.  Total 544 + 552 + 36 = 1132.
  I/O: 2*64 + ceil(64*4/32) + 4 classes x 2 score vectors = 144.
  Latency (1132 + 144) / 100 MHz = 12.76 us.
Ops: dense-equivalent 2 x 1088 x T 2 x runs 2 = 8704 per inference -> 8704 / 12.76 us
  = 0.682132 GOPS; synaptic ops 2*64*16 + 2*2*4*4 = 2112 per inference.
Power: dynamic 3813*5e-6 + 3468*3.3e-6 + 4*1.1e-3 = 0.0349094 W; + static 0.145
  = 0.1799094 W; energy 0.1799094 W x 12.76 us = 2.295644 uJ.

With two sample lanes the two samples share one round and the loop visits the union of
both lanes' events: 16 x (1 - 0.75^2) = 7 per timestep -> layer 1 = 5*2 + 7*2 = 24.
"""

import pytest

from hwmodel.estimate import estimate
from hwmodel.template import AcceleratorConfig

DESIGN = dict(
    widths=(64, 16, 4),
    pe=4,
    k_bits=4,
    membrane_bits=8,
    input_bits=4,
    timesteps=2,
    samples=2,
    part="xc7z020clg400-1",
    clock_mhz=100.0,
)


def test_resources_match_hand_count() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), spike_rate=0.25)
    assert (r["lut"], r["ff"], r["bram18"], r["bram36"], r["dsp"]) == (3813, 3468, 8, 4.0, 0)
    assert r["lutram"] == 181
    comps = r["components"]
    assert comps["pe"]["lut"] == 252 and comps["pe"]["ff"] == 144
    assert comps["prng"]["lut"] == 1296 and comps["prng"]["ff"] == 784
    assert comps["weight_memory"]["bram18"] == 4
    assert comps["sample_memory"] == {"lut": 4, "ff": 0, "bram18": 2, "dsp": 0}
    assert comps["neuron_memory"]["lut"] == 292 and comps["neuron_memory"]["ff"] == 120
    assert comps["spike_buffers"]["lut"] == 9
    assert r["util_lut"] == pytest.approx(3813 / 53200)
    assert r["util_bram36"] == pytest.approx(4 / 140)
    assert r["fits"] is True


def test_cycles_latency_ops_and_power_match_hand_count() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), spike_rate=0.25)
    assert r["cycles_sampling"] == 544
    assert r["cycles_per_layer"] == [552, 36]
    assert r["cycles"] == 1132
    assert r["cycles_io"] == 144
    assert r["latency_us"] == pytest.approx(12.76)
    assert r["ops_per_inference"] == 8704
    assert r["gops"] == pytest.approx(0.682132, rel=1e-5)
    assert r["gops_per_dsp"] == pytest.approx(r["gops"])  # DSP 0 counts as one
    assert r["synops_per_inference"] == 2112
    assert r["power_dynamic_w"] == pytest.approx(0.0349094)
    assert r["power_w"] == pytest.approx(0.1799094)
    assert r["power_total_w"] == pytest.approx(0.1799094 + 1.53)
    assert r["energy_uj"] == pytest.approx(2.295644, rel=1e-6)


def test_two_lanes_share_the_event_loop() -> None:
    r = estimate(AcceleratorConfig(**DESIGN, sample_lanes=2), spike_rate=0.25)
    assert r["cycles_per_layer"][1] == pytest.approx(24)
    assert r["cycles_sampling"] == 272  # one round, one weight sample per lane


def test_measured_activity_overrides_spike_rate() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), activity=[64, 2.0], spike_rate=0.9)
    assert r["cycles_per_layer"][1] == 20 + 2 * 2 * 2
