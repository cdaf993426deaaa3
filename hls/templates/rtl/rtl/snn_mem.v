// Memories of the plan's three storage kinds, one module each way they are used (static, not
// generated).  STYLE is the plan's kind: 0 registers, 1 distributed RAM (LUTRAM), 2 block RAM;
// the ram_style / rom_style attribute tells Yosys and Vivado which.  LATENCY is the read
// latency in cycles (hwmodel.plan.READ_LATENCY: registers 0, LUTRAM 1, block RAM 2; the event
// queues are read combinationally, LATENCY 0, whatever their kind).
`default_nettype none

// One write port and one read port; contents start at zero (FPGA configuration clears them).
module snn_ram #(
    parameter integer WIDTH = 1,
    parameter integer DEPTH = 2,
    parameter integer AW = 1,
    parameter integer STYLE = 0,
    parameter integer LATENCY = 0
) (
    input  wire             clk,
    input  wire             we,
    input  wire [AW-1:0]    waddr,
    input  wire [WIDTH-1:0] wdata,
    input  wire [AW-1:0]    raddr,
    output wire [WIDTH-1:0] rdata
);
  wire [WIDTH-1:0] word;
  integer i;
  generate
    if (STYLE == 2) begin : g_block
      (* ram_style = "block" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      initial for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
      always @(posedge clk) if (we) mem[waddr] <= wdata;
      if (LATENCY == 0) begin : g_async
        assign word = mem[raddr];
      end else begin : g_sync
        reg [WIDTH-1:0] q;
        always @(posedge clk) q <= mem[raddr];
        assign word = q;
      end
    end else if (STYLE == 1) begin : g_distributed
      (* ram_style = "distributed" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      initial for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
      always @(posedge clk) if (we) mem[waddr] <= wdata;
      if (LATENCY == 0) begin : g_async
        assign word = mem[raddr];
      end else begin : g_sync
        reg [WIDTH-1:0] q;
        always @(posedge clk) q <= mem[raddr];
        assign word = q;
      end
    end else begin : g_registers
      (* ram_style = "logic" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      initial for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
      always @(posedge clk) if (we) mem[waddr] <= wdata;
      assign word = mem[raddr];
    end
    // Block RAM: a second register (the RAMB's output register).
    if (LATENCY == 2) begin : g_out_reg
      reg [WIDTH-1:0] q2;
      always @(posedge clk) q2 <= word;
      assign rdata = q2;
    end else begin : g_out_wire
      assign rdata = word;
    end
  endgenerate
endmodule

// A read-only table initialised from a $readmemh file (INIT, relative to the working folder).
module snn_rom #(
    parameter integer WIDTH = 1,
    parameter integer DEPTH = 2,
    parameter integer AW = 1,
    parameter integer STYLE = 0,
    parameter integer LATENCY = 0,
    parameter INIT = ""
) (
    input  wire             clk,
    input  wire [AW-1:0]    raddr,
    output wire [WIDTH-1:0] rdata
);
  wire [WIDTH-1:0] word;
  generate
    if (STYLE == 2) begin : g_block
      (* rom_style = "block" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      initial if (INIT != "") $readmemh(INIT, mem);
      reg [WIDTH-1:0] q;
      always @(posedge clk) q <= mem[raddr];
      assign word = q;
    end else if (STYLE == 1) begin : g_distributed
      // A LUT-sized ROM is logic (one LUT6 per bit and 64 words); Yosys maps no read-only
      // LUTRAM, and Vivado builds its distributed ROMs the same way.
      (* rom_style = "logic" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      initial if (INIT != "") $readmemh(INIT, mem);
      reg [WIDTH-1:0] q;
      always @(posedge clk) q <= mem[raddr];
      assign word = q;
    end else begin : g_registers
      (* rom_style = "logic" *) reg [WIDTH-1:0] mem[0:DEPTH-1];
      initial if (INIT != "") $readmemh(INIT, mem);
      assign word = mem[raddr];
    end
    if (LATENCY == 2) begin : g_out_reg
      reg [WIDTH-1:0] q2;
      always @(posedge clk) q2 <= word;
      assign rdata = q2;
    end else begin : g_out_wire
      assign rdata = word;
    end
  endgenerate
endmodule

`default_nettype wire
