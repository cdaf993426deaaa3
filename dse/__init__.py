"""dse: design-space exploration of Bayesian binary spiking networks for Zynq-7000."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dse")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
