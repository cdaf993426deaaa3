"""dse: design-space exploration of Bayesian binary spiking networks for Zynq-7000.

The Python API (`dse.run`, `dse.load`, `dse.trials`, `dse.export`, `dse.import_nir`) lives in
`dse.api` and is imported on first use, so that ``import dse`` (and ``dse --help``) stays fast.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("dse")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

_API = ("run", "load", "trials", "export", "import_nir")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Load the API module on first access of one of its functions (PEP 562)."""
    if name in _API:
        from dse import api

        return getattr(api, name)
    raise AttributeError(f"module 'dse' has no attribute {name!r}")
