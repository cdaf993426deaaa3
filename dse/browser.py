"""Headless Chromium: render an HTML page to its DOM or to a PNG, offline.

Used by `dse report --png` (docs/pareto.png is the report's own figure, drawn by plotly.js
in a real browser) and by the browser test of report.html. Plotly 7 exports images with
Kaleido 1, which itself drives an installed Chrome; calling Chromium directly needs no
further package. Every network feature is off and the profile is a throwaway directory.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import plotly.graph_objects as go
import plotly.offline

from dse.errors import StudyInputError

_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome executable on PATH, or None."""
    return next((path for name in _NAMES if (path := shutil.which(name))), None)


def _run(args: list[str], timeout_s: float) -> str:
    browser = find_chromium()
    if browser is None:
        raise StudyInputError(
            "--png: no Chromium on PATH; install it (Debian: apt-get install chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="dse-chromium-") as profile:
        done = subprocess.run(
            [browser, *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout


def dump_dom(page: Path, budget_ms: int = 10_000, timeout_s: float = 120) -> str:
    """The page's DOM after its scripts ran for `budget_ms` of virtual time."""
    return _run(
        [f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri()], timeout_s
    )


def figure_png(
    fig: go.Figure, png: Path, width: int = 1000, height: int = 600, scale: int = 2
) -> Path:
    """Draw `fig` at width x height CSS pixels in Chromium and save it as a PNG (x `scale`)."""
    fig = go.Figure(fig).update_layout(width=width, height=height)
    body = fig.to_html(full_html=False, include_plotlyjs=False, config={"staticPlot": True})
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<script>{plotly.offline.get_plotlyjs()}</script></head>"
        f'<body style="margin:0">{body}</body></html>'
    )
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dse-png-") as tmp:
        html = Path(tmp) / "figure.html"
        html.write_text(page, encoding="utf-8")
        _run(
            [
                f"--window-size={width},{height}",
                f"--force-device-scale-factor={scale}",
                "--virtual-time-budget=10000",
                f"--screenshot={png}",
                html.as_uri(),
            ],
            timeout_s=120,
        )
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")
    return png
