"""The measuring tools: Yosys synthesis and its clock estimate, parsers of Vitis HLS and Vivado
reports, measured.json, and the calibration of the cost model over a spread of designs."""
