"""The HLS backend (`dse export --backend hls`): the kernel's template values for Vitis HLS, and
the C-simulation of an exported project (`dse csim`) with Xilinx's ap_types headers."""
