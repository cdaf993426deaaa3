"""Study-file schema: broken files give one line per problem naming path, value and fix."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from dse.errors import StudyInputError
from dse.schema import load_study_file, parse_study
from dse.space import grid_search_space, suggest_design

FIXTURES = Path(__file__).parent / "fixtures"
STUDIES = Path(__file__).parents[2] / "studies"


def _error_lines(name: str) -> list[str]:
    with pytest.raises(StudyInputError) as info:
        load_study_file(FIXTURES / name)
    return str(info.value).splitlines()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "bad_ranges.yaml",
            [
                "bad_ranges.yaml: search.timesteps.low: -3 is not allowed; use an integer between",
                "search.levels.0: 1 is not allowed; use an integer between 2 and 256",
                "search.threshold_scale.low: 0 is not allowed; use a number > 0",
                "search.ensemble: 'both' is not allowed; use one of time, repeat",
                "search.clock_mhz.high: 100 is not allowed; use a value >= low (200)",
                "search.part: 'xc9z999' is not allowed; use a Zynq-7000 part",
                "n_trials: 0 is not allowed; input should be greater than or equal to 1",
            ],
        ),
        (
            "bad_fields.yaml",
            [
                "search.widths: unknown field",
                "objectives.0.metric: 'acuracy' is not allowed",
                "objectives.1.direction: 'lower' is not allowed; input should be 'minimize' or",
                "sampler.name: 'annealing' is not allowed",
                "serch: unknown field",
            ],
        ),
        ("bad_training.yaml", ["training.epochs: 0 must be"]),
        ("bad_grid.yaml", ["search.clock_mhz: {'low': 50.0, 'high': 150.0} is not allowed; add"]),
        ("bad_syntax.yaml", ["bad_syntax.yaml: line 3: not valid YAML"]),
        ("missing_objectives.yaml", ["objectives: missing"]),
    ],
)
def test_broken_files_give_one_line_per_problem(name: str, expected: list[str]) -> None:
    lines = _error_lines(name)
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected, strict=True):
        assert want in line
        assert line.startswith(f"{name}: ")
        assert "Traceback" not in line


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(StudyInputError, match="no such study file"):
        load_study_file(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(StudyInputError, match="must be a YAML mapping"):
        load_study_file(tmp_path / "list.yaml")


def _minimal(**extra) -> dict:
    return {"name": "s", "objectives": [{"metric": "accuracy", "direction": "maximize"}], **extra}


def test_defaults_and_storage_url(tmp_path: Path) -> None:
    cfg = parse_study(_minimal())
    assert cfg.out_dir == Path("runs/s")
    assert cfg.storage_url() == f"sqlite:///{Path('runs/s/study.db').resolve()}"
    assert cfg.sampler_name == "tpe"  # one objective
    two = parse_study(
        _minimal(
            output_dir=str(tmp_path),
            objectives=[
                {"metric": "accuracy", "direction": "maximize"},
                {"metric": "power_w", "direction": "minimize"},
            ],
        )
    )
    assert two.sampler_name == "nsga2"
    assert two.storage_url() == f"sqlite:///{tmp_path.resolve()}/study.db"
    assert parse_study(_minimal(storage="postgresql://u@h/db")).storage_url() == (
        "postgresql://u@h/db"
    )


def test_duplicate_objective_and_ood_need() -> None:
    dup = [{"metric": "ece", "direction": "minimize"}] * 2
    with pytest.raises(StudyInputError, match="objectives: 'ece' is not allowed; list each"):
        parse_study(_minimal(objectives=dup))
    ood = [{"metric": "ood_auroc", "direction": "maximize"}]
    with pytest.raises(StudyInputError, match="set dataset.ood"):
        parse_study(_minimal(objectives=ood))


def test_space_draws_conditional_widths_and_clamps_time_samples() -> None:
    cfg = parse_study(
        _minimal(
            search={
                "depth": {"low": 1, "high": 3},
                "width": {"low": 8, "high": 64, "log": True},
                "threshold_scale": {"low": 0.5, "high": 2.0},
                "timesteps": [2, 4],
                "samples": [8],
                "ensemble": ["time", "repeat"],
                "sample_lanes": [1, 2, 4],
            }
        )
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    depths, lanes = set(), set()
    for _ in range(30):
        trial = study.ask()
        design = suggest_design(trial, cfg.knobs)
        depth = design["depth"]
        depths.add(depth)
        widths = [trial.params[f"width_{i}"] for i in range(depth)]
        assert design["width"] == widths and all(8 <= w <= 64 for w in widths)
        assert f"width_{depth}" not in trial.params
        assert len(design["threshold_scale"]) == depth
        expected = min(8, design["timesteps"]) if design["ensemble"] == "time" else 8
        assert design["samples"] == expected
        if design["ensemble"] == "time":  # one weight sample at a time: one lane, not drawn
            assert design["sample_lanes"] == 1 and "sample_lanes" not in trial.params
        else:
            assert design["sample_lanes"] == trial.params["sample_lanes"]
            lanes.add(design["sample_lanes"])
        assert design["k_bits"] == 8  # fixed knobs keep their defaults, not searched
        study.tell(trial, 0.0)
        # a FrozenTrial reads back the same design (how `dse export` rebuilds a trial)
        assert suggest_design(study.trials[-1], cfg.knobs) == design
    assert depths == {1, 2, 3} and lanes == {1, 2, 4}


def test_grid_space_lists_every_value() -> None:
    cfg = parse_study(
        _minimal(
            search={
                "depth": [1, 2],
                "width": [16, 32],
                "clock_mhz": {"low": 100, "high": 200, "step": 50},
                "timesteps": {"low": 2, "high": 6, "step": 2},
            },
            sampler={"name": "grid"},
        )
    )
    grid = grid_search_space(cfg.knobs)
    assert grid == {
        "timesteps": [2, 4, 6],
        "depth": [1, 2],
        "clock_mhz": [100.0, 150.0, 200.0],
        "width_0": [16, 32],
        "width_1": [16, 32],
    }


SHIPPED = ("quickstart", "mnist", "mnist98", "fashion_mnist", "paper", "mnist_conv", "fashion_conv")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_studies_are_valid(name: str) -> None:
    cfg = load_study_file(STUDIES / f"{name}.yaml")
    assert cfg.name
    assert cfg.sampler.name is not None  # every shipped study names its sampler
    energies = [o.metric for o in cfg.objectives if o.metric.startswith("energy")]
    assert energies in ([], ["energy_pl_uj"])  # the PL figure, the one the search changes


def test_energy_uj_is_refused_with_its_three_successors(tmp_path: Path) -> None:
    """A study written before the energy was split says which figure to pick, in one line."""
    path = tmp_path / "old.yaml"
    path.write_text(
        "name: old\nobjectives:\n  - {metric: accuracy, direction: maximize}\n"
        "  - {metric: energy_uj, direction: minimize}\n"
    )
    with pytest.raises(StudyInputError) as info:
        load_study_file(path)
    assert str(info.value) == (
        "old.yaml: objectives.1.metric: energy_uj is now three figures; use energy_pl_uj "
        "(programmable logic only), energy_soc_uj (PL + processing system) or energy_board_uj "
        "(the PYNQ-Z2 board)"
    )
    for metric in ("energy_pl_uj", "energy_soc_uj", "energy_board_uj"):
        parse_study(_minimal(objectives=[{"metric": metric, "direction": "minimize"}]), "new.yaml")


def test_mnist98_trains_once_and_searches_hardware_exact_designs_at_t_8_or_less() -> None:
    """The anchor study's promise (docs/bayesian.md, "MNIST to 98 %"): one architecture, trained
    by BayesBiNN and by STE (the posterior mode derives from the BayesBiNN model: three cache
    entries), the integer model, the front on the whole test set, T <= 8, the xc7z020 only,
    and its largest Bernoulli codes and widest membranes still fit that part at the smallest
    parallelism."""
    from dse.objective import count_models
    from hwmodel.estimate import estimate
    from hwmodel.template import AcceleratorConfig

    cfg = load_study_file(STUDIES / "mnist98.yaml")
    knobs = cfg.knobs
    assert count_models(cfg) == 3
    assert cfg.evaluation.mode == "integer" and cfg.dataset.max_test is None
    assert max(knobs["timesteps"].grid_values()) <= 8
    assert knobs["part"].grid_values() == ["xc7z020clg400-1"]
    largest = AcceleratorConfig(
        widths=(784, 512, 512, 10),
        pe=min(knobs["pe"].grid_values()),
        k_bits=max(knobs["k_bits"].grid_values()),
        membrane_bits=max(knobs["membrane_bits"].grid_values()),
        sampling="memory",
        ensemble="time",
        timesteps=8,
        samples=8,
    )
    profile = cfg.evaluation.calibration  # as the study prices it (by default yosys-rtl)
    assert estimate(largest, util_cap=cfg.constraints.util_cap, calibration=profile)["fits"] == 1


def test_every_shipped_study_is_checked() -> None:
    """A study added to studies/ joins SHIPPED, so that the loader checks it."""
    assert {path.stem for path in STUDIES.glob("*.yaml")} == set(SHIPPED)


@pytest.mark.parametrize("name", ["mnist_conv", "fashion_conv"])
def test_conv_studies_search_fronts_on_the_xc7z020_at_t_8_or_less(name: str) -> None:
    cfg = load_study_file(STUDIES / f"{name}.yaml")
    knobs = cfg.knobs
    assert set(knobs["conv"].choices) == {"8p,16p", "16p,32p"}
    assert max(knobs["timesteps"].grid_values()) <= 8
    assert knobs["part"].fixed == "xc7z020clg400-1"
    assert cfg.evaluation.mode == "integer"
    assert cfg.dataset.max_selection is None  # designs compared on the whole selection split
