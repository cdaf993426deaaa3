"""What dse writes into and reads from NIR files beyond NIR's own fields (docs/interop.md).

NIR (PyPI `nir`) has no field for three things dse's neurons need, so dse states them in
node metadata, and its importer honours them in any file:

* ``reset``: ``"subtract"`` - the neuron subtracts its threshold when it fires.  NIR's IF and
  LIF text resets the membrane *to* ``v_reset``; a reader that does that computes another
  network whenever a membrane overshoots its threshold.  ``"zero"`` (the OR gate after a
  pooled convolution) resets to ``v_reset = 0``, as NIR's text says.
* ``fire``: ``"v >= v_threshold"`` or ``"v > v_threshold"`` - when the neuron fires.  NIR's
  text (and snnTorch) fire above the threshold; dse's converted networks fire at it.
* ``v_initial``: the membrane at the start of a run (dse's conversion starts it at half the
  threshold; NIR has no initial state, so a reader that ignores this starts at 0).

The graph's metadata says what the file is (``format``, ``producer``), how to run it
(``timesteps``, ``input``, ``output``) and which weights it holds (``weights``): NIR has no
weight sampling or ensembles, so a Bayesian design is exported as one weight sample or its
mode.
"""

from __future__ import annotations

from typing import Any

from models.errors import ModelInputError

__all__ = [
    "FIRE_AT",
    "FIRE_ABOVE",
    "FORMAT",
    "KEY_FIRE",
    "KEY_INITIAL",
    "KEY_RESET",
    "RESET_SUBTRACT",
    "RESET_ZERO",
    "require_nir",
]

FORMAT = "dse-snn/1"
KEY_RESET = "reset"
KEY_FIRE = "fire"
KEY_INITIAL = "v_initial"
RESET_SUBTRACT = "subtract"
RESET_ZERO = "zero"  # to v_reset = 0, NIR's own rule: the OR gates of a pooled block
FIRE_AT = "v >= v_threshold"
FIRE_ABOVE = "v > v_threshold"


def require_nir() -> Any:
    """The `nir` module, or one ModelInputError line saying how to install it."""
    try:
        import nir
    except ImportError:
        raise ModelInputError(
            "nir: the NIR package is not installed; pip install nir (or dse's [nir] extra: "
            "pip install -e '.[nir]')"
        ) from None
    return nir
