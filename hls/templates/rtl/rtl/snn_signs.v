// The weight signs of one row word in every lane (static, not generated): the counter-based
// PRNG of hwmodel/template.py, bit for bit, as a four-stage pipeline (the inputs registered,
// three rounds), each unit's word scaled to k bits, then the k-bit Bernoulli comparison of
// every neuron.  `base_in` is the weight index of the row's first neuron four stages before
// `base_cmp` (the same item), whose stage also brings the row's NPC codes.
`default_nettype none

module snn_signs #(
    parameter integer NPC = 1,
    parameter integer LANES = 1,
    parameter integer UNITS = 1,
    parameter integer K = 1,
    parameter integer LOG2_REUSE = 0,
    parameter [31:0] KEY_C3 = 32'd0
) (
    input  wire                   clk,
    input  wire [LANES*32-1:0]    keys,
    input  wire [31:0]            base_in,
    input  wire [31:0]            base_cmp,
    input  wire [NPC*K-1:0]       codes,
    output wire [LANES*NPC-1:0]   plus
);
  function [31:0] xorshift32(input [31:0] x);
    reg [31:0] y;
    begin
      y = x ^ (x << 13);
      y = y ^ (y >> 17);
      xorshift32 = y ^ (y << 5);
    end
  endfunction

  // r = (word * (2^K - 1)) >> 32 on 0 .. 2^K - 2: a shift and a subtraction.
  function [K-1:0] scaled(input [31:0] word);
    reg [31+K:0] wide;
    begin
      wide = {word, {K{1'b0}}} - {{K{1'b0}}, word};
      scaled = wide[31+K:32];
    end
  endfunction

  // Stage 1 registers the driving loop's keys and base (the core selects them by its state);
  // stages 2-4: the words of the groups first .. first + UNITS - 1 of the row window, per lane.
  reg [LANES*32-1:0] keys_r = 0;
  reg [31:0] base_r = 0;
  always @(posedge clk) begin
    keys_r <= keys;
    base_r <= base_in;
  end
  reg [LANES*UNITS*32-1:0] x1 = 0, x2 = 0, word = 0;
  wire [31:0] first_group = base_r >> LOG2_REUSE;
  integer ln, u;
  always @(posedge clk)
    for (ln = 0; ln < LANES; ln = ln + 1)
      for (u = 0; u < UNITS; u = u + 1) begin
        x1[(ln*UNITS+u)*32 +: 32] <= xorshift32(first_group + u + keys_r[ln*32 +: 32]);
        x2[(ln*UNITS+u)*32 +: 32] <= xorshift32(x1[(ln*UNITS+u)*32 +: 32] +
                                                {keys_r[ln*32 +: 16], keys_r[ln*32+16 +: 16]});
        word[(ln*UNITS+u)*32 +: 32] <= xorshift32(x2[(ln*UNITS+u)*32 +: 32] + KEY_C3);
      end

  // Each unit's random number; each neuron p of the row takes its group's, unit
  // ((base + p) >> log2 reuse) - first, and its weight is +1 when that number is below its code.
  localparam [31:0] REUSE_MASK = (32'd1 << LOG2_REUSE) - 1;
  wire [LANES*UNITS*K-1:0] r;
  genvar gl, gp, gu;
  generate
    for (gu = 0; gu < LANES * UNITS; gu = gu + 1) begin : g_unit
      assign r[gu*K +: K] = scaled(word[gu*32 +: 32]);
    end
    for (gp = 0; gp < NPC; gp = gp + 1) begin : g_p
      // ((base + p) >> log2 reuse) - (base >> log2 reuse), from the base's low bits alone.
      wire [31:0] group_offset = ((base_cmp & REUSE_MASK) + gp) >> LOG2_REUSE;
      for (gl = 0; gl < LANES; gl = gl + 1) begin : g_lane
        reg [K-1:0] mine;
        integer v;
        always @* begin
          mine = r[gl*UNITS*K +: K];
          for (v = 1; v < UNITS; v = v + 1) if (group_offset == v) mine = r[(gl*UNITS+v)*K +: K];
        end
        assign plus[gl*NPC + gp] = mine < codes[gp*K +: K];
      end
    end
  endgenerate
endmodule

`default_nettype wire
