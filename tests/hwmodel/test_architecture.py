import pytest

from hwmodel.architecture import ConvBlock, conv_shapes, flat_size, parse_blocks
from hwmodel.errors import HardwareInputError


def test_blocks_parse_from_text_and_print_back():
    blocks = parse_blocks("8p, 16")
    assert blocks == (ConvBlock(8, True), ConvBlock(16, False))
    assert ",".join(map(str, blocks)) == "8p,16"
    assert parse_blocks("") == ()


@pytest.mark.parametrize("bad", ["0", "p", "8q", "-4"])
def test_a_bad_block_names_the_field(bad):
    with pytest.raises(HardwareInputError, match="^conv"):
        parse_blocks(bad)


def test_shapes_follow_padding_and_floor_pooling():
    a, b = conv_shapes((1, 28, 28), parse_blocks("8p,16p"))
    assert (a.in_channels, a.height, a.width, a.out_height) == (1, 28, 28, 14)
    assert (b.in_channels, b.height, b.out_height, b.fan_in) == (8, 14, 7, 72)
    assert flat_size((1, 28, 28), parse_blocks("8p,16p")) == 16 * 7 * 7
    assert flat_size((3, 7, 7), parse_blocks("4p")) == 4 * 3 * 3  # odd side: floor
    assert flat_size((1, 8, 8), ()) == 64


def test_pooling_away_the_whole_map_is_refused():
    with pytest.raises(HardwareInputError, match="pools a 1x1 map"):
        conv_shapes((1, 2, 2), parse_blocks("4p,4p"))
