"""A study names its calibration profile: the packaged Yosys RTL one by name, or a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dse.errors import StudyInputError
from dse.schema import parse_study
from hwmodel.calibration import load_calibration
from hwmodel.estimate import estimate
from hwmodel.profiles import profile_file
from hwmodel.template import AcceleratorConfig

STUDIES = Path(__file__).parents[2] / "studies"


def _study(calibration: str) -> dict:
    data = yaml.safe_load((STUDIES / "quickstart.yaml").read_text())
    data.setdefault("evaluation", {})["calibration"] = calibration
    return data


def test_packaged_profile_by_name() -> None:
    cfg = parse_study(_study("yosys-rtl"))
    assert cfg.evaluation.calibration == "yosys-rtl"
    profile = load_calibration("yosys-rtl")
    assert profile.name == "yosys-rtl"
    # It was fitted by dse calibrate on at least 24 measured designs, and says how.
    assert profile.fit["command"].startswith("dse calibrate ")
    assert min(e["designs"] for e in profile.fit["loo"].values()) >= 24
    assert any("Yosys" in source or "yosys" in source for source in profile.fit["measured_by"])
    config = AcceleratorConfig(widths=(64, 32, 10), pe=4, timesteps=4, samples=2)
    by_name = estimate(config, calibration="yosys-rtl")
    by_path = estimate(config, calibration=str(profile_file("yosys-rtl")))
    assert by_name["lut"] == by_path["lut"] and by_name["ff"] == by_path["ff"]
    assert by_name["lut"] != estimate(config)["lut"]


def test_profile_file_still_works_and_bad_names_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "offsets": {"dsp": 2.0}}))
    assert parse_study(_study(str(path))).evaluation.calibration == path
    assert estimate(AcceleratorConfig(widths=(8, 4)), calibration=str(path))["dsp"] == 2
    with pytest.raises(StudyInputError, match=r"evaluation\.calibration.*yosys-rtl"):
        parse_study(_study("yosys"))


def test_studies_price_with_the_yosys_profile_unless_they_name_another() -> None:
    """The default is the measured profile; first principles stay available by name (the
    library's calibration=None), and a null is no name: one line saying what to write."""
    data = yaml.safe_load((STUDIES / "quickstart.yaml").read_text())
    data.get("evaluation", {}).pop("calibration", None)
    assert parse_study(data).evaluation.calibration == "yosys-rtl"
    cfg = parse_study(_study("first-principles"))
    assert cfg.evaluation.calibration == "first-principles"
    config = AcceleratorConfig(widths=(64, 32, 10), pe=4)
    first = estimate(config, calibration="first-principles")
    assert (first["lut"], first["ff"]) == (estimate(config)["lut"], estimate(config)["ff"])
    assert load_calibration("first-principles").fit == {}  # no measured error band
    with pytest.raises(StudyInputError, match=r"evaluation\.calibration") as error:
        parse_study(_study(None))
    assert "\n" not in str(error.value)
