// The weight signs of one row word in every lane (static, not generated): the counter-based
// PRNG of hwmodel/template.py, bit for bit, as a three-stage pipeline, then the k-bit
// Bernoulli comparison.  `base_in` is the weight index of the row's first neuron three stages
// before `base_cmp` (the same item), whose stage also brings the row's NPC codes.
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

  // r = (word * (2^K - 1)) >> 32, a shift and a subtraction; +1 when r < code.
  function weight_positive(input [K-1:0] code, input [31:0] word);
    reg [31+K:0] wide;
    begin
      wide = {word, {K{1'b0}}} - {{K{1'b0}}, word};
      weight_positive = wide[31+K:32] < code;
    end
  endfunction

  // Words of the groups first .. first + UNITS - 1 of the row window, per lane.
  reg [LANES*UNITS*32-1:0] x1 = 0, x2 = 0, word = 0;
  wire [31:0] first_group = base_in >> LOG2_REUSE;
  integer ln, u;
  always @(posedge clk)
    for (ln = 0; ln < LANES; ln = ln + 1)
      for (u = 0; u < UNITS; u = u + 1) begin
        x1[(ln*UNITS+u)*32 +: 32] <= xorshift32(first_group + u + keys[ln*32 +: 32]);
        x2[(ln*UNITS+u)*32 +: 32] <= xorshift32(x1[(ln*UNITS+u)*32 +: 32] +
                                                {keys[ln*32 +: 16], keys[ln*32+16 +: 16]});
        word[(ln*UNITS+u)*32 +: 32] <= xorshift32(x2[(ln*UNITS+u)*32 +: 32] + KEY_C3);
      end

  // Each neuron p of the row takes the word of its group, unit ((base + p) >> log2 reuse) - first.
  wire [31:0] first_cmp = base_cmp >> LOG2_REUSE;
  genvar gl, gp;
  generate
    for (gp = 0; gp < NPC; gp = gp + 1) begin : g_p
      wire [31:0] group_offset = ((base_cmp + gp) >> LOG2_REUSE) - first_cmp;
      for (gl = 0; gl < LANES; gl = gl + 1) begin : g_lane
        reg [31:0] w;
        integer v;
        always @* begin
          w = word[gl*UNITS*32 +: 32];
          for (v = 1; v < UNITS; v = v + 1) if (group_offset == v) w = word[(gl*UNITS+v)*32 +: 32];
        end
        assign plus[gl*NPC + gp] = weight_positive(codes[gp*K +: K], w);
      end
    end
  endgenerate
endmodule

`default_nettype wire
