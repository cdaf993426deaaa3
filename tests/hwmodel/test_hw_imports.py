"""The cost model stays torch-free and exports its public API."""

import subprocess
import sys

import hwmodel


def test_hwmodel_never_imports_torch() -> None:
    code = "import sys, hwmodel, hwmodel.calibration; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api() -> None:
    assert {"estimate", "estimate_table", "get_part", "fit_calibration"} <= set(hwmodel.__all__)
    assert all(hasattr(hwmodel, name) for name in hwmodel.__all__)
