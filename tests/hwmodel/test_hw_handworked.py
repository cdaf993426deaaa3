"""A 2-layer design small enough to price by hand; the model must reproduce every figure.

Design: widths (64, 16, 4), P = 4 PEs, Q = 1 synapse per cycle, 1 sample lane, k = 4,
b = 8, reuse 1, 4-bit inputs, T = 2, S = 2 (repeat), memory sampling, xc7z020 at 100 MHz,
hidden spike rate 0.25 (4 of the 16 hidden neurons fire per timestep).

Plan: NPC = 4; rows: layer 0 ceil(16/4) = 4, layer 1 1; 2 rounds of 1 lane, 2 weight samples.
Current bits: layer 0 bit_length(64*15 = 960) + 1 = 11; layer 1 bit_length(16) + 1 = 6.
Storage kind by bank depth: <= 8 registers, <= 64 LUTRAM, else BRAM.

Arrays (width = elements x bits, depth, kind -> cost):
  image 4 x 64 LUTRAM, written: 2 LUT/bit = 8 LUT, 4 FF (registered read);
  keys 32 x 2 registers: 32 LUT, 64 FF.
  codes_0 16 x 256 BRAM ROM: 1 RAMB18;  signs_0 4 x 256 BRAM: 1 RAMB18.
  membrane_0 32 x 4 registers: 32 LUT (4:1 mux per bit), 128 FF;  current_0 44 x 4: 44, 176.
  threshold/bias/initial_0 32 x 4 register ROMs: 3 x 32 LUT.
  queue_addr_0 4 x 4 (addresses 0..15): 4 LUT, 16 FF;  queue_mask_0 4 x 4: 4 LUT, 16 FF.
  codes_1 16 x 16 LUTRAM ROM: 16 LUT, 16 FF;  signs_1 4 x 16 LUTRAM, written: 8 LUT, 4 FF.
  membrane_1 32 x 1: no mux, 32 FF;  current_1 24 x 1: 24 FF;  bias/initial_1: constants.
Components: weight memory 16 LUT, 16 FF + 1 RAMB18; sample memory 8 LUT, 4 FF + 1 RAMB18;
  neuron memory 32+44+96 = 172 LUT, 128+176+32+24 = 360 FF; spike buffers 16 LUT, 36 FF;
  PE per layer, 4 neurons each: layer 0 4 x (11 + 4*20 + 3*8) = 460, layer 1 4 x (6 + 4*15)
  = 264 -> 724 LUT (update bits: current + b + 1 = 20 and 15); the fire loops' pipeline
  registers per datapath: layer 0 20 (scaled) + 20 (sum) + 8 (saturated) + 1 (spike) = 49,
  layer 1 (output: written from the saturate stage) 15 + 15 = 30 -> 4 x 49 + 4 x 30 = 316 FF;
  PRNG 4 units shared by both layers' sampling loops: 4 x 220 = 880 LUT, x 96 = 384 FF;
  sampler 4 neurons x (4 + 1) + 0.5 x 1 more layer x (4*4 codes + 64 base + 32 key bits)
  = 20 + 56 = 76 LUT, 4 FF, and per loop that draws weights (sample_0, sample_1) 64 LUT of
  weight-index bases and a 32-bit word per pipeline stage up to the compare (the `sign`
  stage, 4 in both): + 2 x 64 = 128 LUT, + 32 x (4 + 4) = 256 FF -> 204 LUT, 260 FF;
  events (layer 1) 200 + 4 x 4 = 216 LUT, 100 + 3 x 4 = 112 FF;
  control 200 + 15 x 12 loops + 220 + 32 (keys) = 632 LUT, 200 + 10 x 12 + 96 + 64 = 480 FF;
  AXI, the RTL's AXI4-Lite wrapper: slave logic 50 LUT, 8 FF; result counter (10 words:
  2 runs x 4 scores + 2 counts) 4 FF; bus_pixels 4 x 64 LUTRAM, written: 8 LUT, 4 FF;
  bus_results 32 x 10 LUTRAM (a bus buffer is never registers), written: 64 LUT, 32 FF
  (the read-data register) -> 122 LUT, 48 FF, no RAMB18.
Totals: LUT 2990, FF 2016, BRAM18 2 (BRAM36 1.0), DSP 0, LUTRAM 8 + 16 + 8 + 72 = 104.
The HLS kernel's bus instead (one m_axi bundle): 900 LUT, 1300 FF, 2 RAMB18 -> LUT 3768,
  FF 3268, BRAM18 4, LUTRAM 32.

Cycles: each loop pass costs trip x II + depth + 2 (entry/exit), II = 1; the depth is the
loop's last register stage (hwmodel.pipeline):
  load_image 64 + 64 + 2 = 130; store_scores 2 x (4 + 65 + 2) = 142 (depth: the score
  selected and registered in stage 0, the beat in 1, the bus's 64); store_counts
  2 + 64 + 2 = 68; handshake 2 (start, done) -> I/O 342.
  keys 2 x (2 + 2 + 2) = 12 (key1, key2, key3 in stages 0-2); sample_0 2 x (256 + 4 + 2)
  = 524 (depth: the PRNG's select and three rounds in stages 0-3 while the BRAM read is in
  flight, the sign compared and written in 4); sample_1 2 x (16 + 4 + 2) = 44 -> sampling
  580.
  layer 0: reset 2 x (4 + 1 + 2) = 14, first_current 2 x (256 + 2 + 2) = 520 (the sign
  read from BRAM arrives in stage 2, added and written there), fire 4 passes x (4 + 5 + 2)
  = 44 (scale 0, integrate 1, saturate 2, fire 3, queue and a one-stage popcount of 4
  spikes 4, count 5) -> 578.
  layer 1: reset 2 x (1 + 1 + 2) = 8, events 4 passes x (0 + 3 + 2) + 4 events x 2 steps x 2
  rounds x 1 row = 20 + 16 = 36 (the walk in stage 0, the code address in 1, the LUTRAM
  sign read issued in 2 arrives in 3), fire 4 x (1 + 2 + 2) = 20 (the output layer writes
  from its saturate stage) -> 64.
  Total 342 + 580 + 578 + 64 = 1564; latency 15.64 us.
Ops: dense-equivalent 2 x 1088 x T 2 x runs 2 = 8704 -> 8704 / 15.64 us = 0.55652174 GOPS;
  synaptic ops 2*64*16 + 2*2*4*4 = 2112 per inference.
Power, every power class at the reference 12.5 % toggle rate (no fitted activity): dynamic
  2990 x (6.66 + 5.32) uW + 2016 x (0.59 + 5.32 + 4.68) uW + 1 x 1.33 mW = 0.05849964 W;
  + static 0.145 = 0.20349964 W; energy 0.20349964 W x 15.64 us = 3.1827 uJ.

With two sample lanes: one round, one weight sample per lane: sampling 6 + 262 + 22 = 290;
layer 1: reset 4, events 2 x 5 + 4 x 2 = 18, fire 2 x 5 = 10 -> 32.  A measured union of 7
inputs per timestep makes the events 10 + 14 = 24 -> 38.
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
    assert (r["lut"], r["ff"], r["bram18"], r["bram36"], r["dsp"]) == (2990, 2016, 2, 1.0, 0)
    assert r["lutram"] == 104
    comps = r["components"]
    assert comps["pe"]["lut"] == 724 and comps["pe"]["ff"] == 316
    assert comps["prng"]["lut"] == 880 and comps["prng"]["ff"] == 384
    assert comps["sampler"]["lut"] == 204 and comps["sampler"]["ff"] == 260
    assert comps["events"]["lut"] == 216 and comps["events"]["ff"] == 112
    assert comps["weight_memory"] == {"lut": 16, "ff": 16, "bram18": 1, "dsp": 0}
    assert comps["sample_memory"] == {"lut": 8, "ff": 4, "bram18": 1, "dsp": 0}
    assert comps["neuron_memory"]["lut"] == 172 and comps["neuron_memory"]["ff"] == 360
    assert comps["spike_buffers"]["lut"] == 16 and comps["spike_buffers"]["ff"] == 36
    assert comps["control"]["lut"] == 632 and comps["control"]["ff"] == 480
    assert comps["axi"] == {"lut": 122, "ff": 48, "bram18": 0, "dsp": 0}
    assert r["util_lut"] == pytest.approx(2990 / 53200)
    assert r["util_bram36"] == pytest.approx(1 / 140)
    assert r["fits"] is True


def test_the_hls_backend_prices_its_m_axi_bundle() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), spike_rate=0.25, backend="hls")
    assert r["components"]["axi"] == {"lut": 900, "ff": 1300, "bram18": 2, "dsp": 0}
    assert (r["lut"], r["ff"], r["bram18"], r["lutram"]) == (3768, 3268, 4, 32)


def test_cycles_latency_ops_and_power_match_hand_count() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), spike_rate=0.25)
    assert r["cycles_sampling"] == 580
    assert r["cycles_per_layer"] == [578, 64]
    assert r["cycles"] == 1564
    assert r["cycles_io"] == 342
    assert r["latency_us"] == pytest.approx(15.64)
    assert r["ops_per_inference"] == 8704
    assert r["gops"] == pytest.approx(0.55652174, rel=1e-6)
    assert r["gops_per_dsp"] == pytest.approx(r["gops"])  # DSP 0 counts as one
    assert r["synops_per_inference"] == 2112
    # Every class at the reference toggle rate (no fitted activity), 100 MHz: per LUT
    # 6.66 + 5.32 (signal) uW, per FF 0.59 + 5.32 + 4.68 (clock) uW, per BRAM36 1.33 mW:
    # 2990 x 11.98e-6 + 2016 x 10.59e-6 + 1 x 1.33e-3 = 0.0358202 + 0.02134944 + 0.00133.
    assert r["power_dynamic_w"] == pytest.approx(0.05849964)
    assert r["power_w"] == pytest.approx(0.145 + 0.05849964)
    assert r["power_total_w"] == pytest.approx(0.20349964 + 1.53)
    assert r["energy_pl_uj"] == pytest.approx(0.20349964 * 15.64, rel=1e-6)


def test_two_lanes_share_the_event_loop() -> None:
    r = estimate(AcceleratorConfig(**DESIGN, sample_lanes=2), spike_rate=0.25)
    assert r["cycles_per_layer"][1] == 32
    assert r["cycles_sampling"] == 290  # one round, one weight sample per lane
    union = estimate(AcceleratorConfig(**DESIGN, sample_lanes=2), [64, 4.0], loop_events=[64, 7])
    assert union["cycles_per_layer"][1] == 38


def test_measured_activity_overrides_spike_rate() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), activity=[64, 2.0], spike_rate=0.9)
    assert r["cycles_per_layer"][1] == 8 + 20 + 2 * 2 * 2 + 20
