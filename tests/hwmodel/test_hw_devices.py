"""Device catalog: every Zynq-7000 part, full part strings, one-line errors."""

import json
from importlib import resources

import pytest

from hwmodel.devices import PARTS, get_part
from hwmodel.errors import HardwareInputError

ALL = ["xc7z007s", "xc7z012s", "xc7z014s", "xc7z010", "xc7z015", "xc7z020", "xc7z030"]
ALL += ["xc7z035", "xc7z045", "xc7z100"]


def test_catalog_holds_every_zynq7000_part_with_sources() -> None:
    assert list(PARTS) == ALL
    data = json.loads(resources.files("hwmodel").joinpath("data/devices.json").read_text())
    assert set(data["_sources"]) >= {"resources", "static_w", "ps_w", "lutram"}


def test_z020_and_z045_match_vivado_available_columns() -> None:
    z020 = get_part("xc7z020clg400-1")
    assert (z020.lut, z020.ff, z020.bram36, z020.dsp, z020.lutram) == (
        53200,
        106400,
        140,
        220,
        17400,
    )
    assert (z020.device, z020.package, z020.speed_grade) == ("xc7z020", "clg400", "-1")
    assert z020.bram18 == 280
    z045 = get_part("XC7Z045FFG900-2")
    assert (z045.lut, z045.ff, z045.bram36, z045.dsp) == (218600, 437200, 545, 900)
    assert z045.fabric == "Kintex-7"


def test_part_strings_resolve_back() -> None:
    for device, part in PARTS.items():
        for name in part.part_strings():
            assert get_part(name).device == device


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("xc7z999clg400-1", "xc7z007s, xc7z012s"),
        ("artix", "known Zynq-7000 part"),
        ("xc7z020ffg900-1", "package 'ffg900'"),
        ("xc7z100ffg900-3", "speed grade '-3'"),
    ],
)
def test_bad_parts_are_one_line_errors(name: str, fragment: str) -> None:
    with pytest.raises(HardwareInputError) as err:
        get_part(name)
    assert fragment in str(err.value) and "\n" not in str(err.value)
