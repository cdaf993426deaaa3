"""What the HLS and RTL backends build: dense networks only, until the kernels of the
convolutional front land (issue 23).  Every command that writes or reads a project refuses a
convolutional design with one line, rather than a wrong kernel or a traceback."""

from __future__ import annotations

from collections.abc import Iterable

from hwmodel.errors import HardwareInputError


def refuse_conv(conv: str | Iterable[object] | None, where: str) -> None:
    """Raise a one-line HardwareInputError naming `where` when `conv` (text such as "8p,16p",
    blocks, or design.json's entry) describes a convolutional front."""
    text = conv if isinstance(conv, str) else ",".join(map(str, conv or ()))
    if text:
        raise HardwareInputError(
            f"{where}: conv {text!r} is a convolutional design, and the HLS and RTL backends "
            'do not build convolutional layers yet (issue 23); choose a dense design (conv ""), '
            "or write this one as a NIR file (dse export --backend nir)"
        )
