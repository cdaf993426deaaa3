"""The RTL backend (`dse export --backend rtl`): the Verilog templates' values and memory files,
the Verilator simulation of an exported project (`dse sim`) and its switching activity."""
