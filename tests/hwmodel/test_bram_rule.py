"""The block-RAM rule against what Yosys's synth_xilinx built for memories of many shapes.

Each count below was measured: a `rom_style`/`ram_style = "block"` memory of that depth x
width (random contents, a registered read, as the plan's block arrays are read), synthesized
alone with `synth_xilinx -family xc7`, RAMB18E1 + 2 x RAMB36E1.  The first table set the rule;
the second was measured after it, on shapes drawn at random, without changing it.
tests/hls/test_bram_synth.py synthesizes fresh shapes through the design's own memory modules.
"""

import pytest

from hwmodel.resources import bram18

ROMS_FITTED = {
    (2304, 5): 1, (3072, 5): 1, (3073, 5): 1, (2304, 9): 2, (1500, 7): 1, (4096, 5): 2,
    (2049, 9): 2, (1024, 20): 2, (600, 30): 2, (5000, 3): 1, (1100, 10): 1, (700, 13): 1,
    (9000, 2): 1, (2600, 12): 2, (1300, 11): 1, (1000, 17): 1, (3000, 16): 3, (6000, 6): 2,
    (4500, 8): 2, (2000, 24): 3, (12544, 32): 24, (1800, 14): 2, (3500, 10): 2, (800, 40): 3,
    (2500, 27): 4, (7000, 7): 3, (1536, 48): 4,
}  # fmt: skip
ROMS_UNSEEN = {
    (2717, 20): 4, (3299, 7): 2, (658, 69): 4, (836, 47): 3, (4839, 8): 3, (4221, 28): 7,
    (372, 12): 1, (3617, 54): 12,
}  # fmt: skip
RAMS_FITTED = {
    (2304, 5): 2, (1300, 11): 2, (5000, 3): 2, (2000, 24): 3, (1500, 20): 3, (3000, 40): 8,
    (3451, 37): 9,
}  # fmt: skip
RAMS_UNSEEN = {(351, 16): 1, (436, 36): 1, (1803, 4): 1}


@pytest.mark.parametrize(("shape", "count"), [*ROMS_FITTED.items(), *ROMS_UNSEEN.items()])
def test_a_rom_packs_rows_into_block_words_as_yosys_does(shape, count) -> None:
    assert bram18(*shape, rom=True) == count


@pytest.mark.parametrize(("shape", "count"), [*RAMS_FITTED.items(), *RAMS_UNSEEN.items()])
def test_a_written_memory_takes_its_cheapest_block_shape(shape, count) -> None:
    assert bram18(*shape, rom=False) == count
