"""report.html in a real browser: headless Chromium runs its scripts and the plots draw.

Needs Debian's `chromium` (`.ci/run` installs it); skipped with the reason where absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

from dse.browser import dump_dom, find_chromium
from dse.report import write_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        find_chromium() is None, reason="no chromium on PATH (Debian: apt-get install chromium)"
    ),
]


def _objective(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_categorical("part", ["xc7z010clg400-1", "xc7z020clg400-1"])
    trial.set_user_attr("accuracy_se", 0.02)
    trial.set_user_attr("selection_images", 360)
    trial.set_constraint("power_w", x - 0.9)
    return 0.5 + 0.4 * x, 1.0 + 100.0 * x * x


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="browser",
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=1),
    )
    study.set_metric_names(["accuracy", "energy_pl_uj"])
    study.optimize(_objective, n_trials=20)
    return write_report(study, tmp_path_factory.mktemp("report"))["report.html"]


def test_report_plots_draw_without_script_errors(report: Path) -> None:
    dom = dump_dom(report)
    assert _script_error(dom) is None
    figures = report.read_text().count("Plotly.newPlot(")
    assert figures >= 4  # front, parallel coordinates, hypervolume, importances
    drawn = len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', dom))
    assert drawn == figures  # plotly.js marks every div it drew into
    assert len(re.findall(r'class="main-svg"', dom)) >= 2 * figures  # plot and hover layers
    assert "PL energy per inference (µJ)" in dom and "Accuracy (%)" in dom  # axes, units
    assert ">xc7z010<" in dom  # a categorical axis labelled with its (shortened) values


def test_a_script_error_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a page whose script throws carries the marker."""
    page = tmp_path / "broken.html"
    text = report_head() + "<script>undefinedFunction();</script></body></html>"
    page.write_text(text, encoding="utf-8")
    assert "undefinedFunction" in _script_error(dump_dom(page, budget_ms=1000))


def _script_error(dom: str) -> str | None:
    """The message the page's window.onerror put on the <html> element, if any."""
    found = re.search(r'<html[^>]*\sdata-js-error="([^"]*)"', dom)
    return None if found is None else found.group(1)


def report_head() -> str:
    """The opening of a report page up to its body (with the error handler)."""
    from dse.report import _TEMPLATE

    page = _TEMPLATE.render(plotly_js="", figures=[], notes=[])
    return page[: page.index("<body>") + len("<body>")]
