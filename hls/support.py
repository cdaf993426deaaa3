"""What the backends build: the RTL backend builds convolutional fronts (docs/rtl.md, "The
convolutional core"), the HLS kernel dense networks only.  Every command that writes or reads an
HLS project refuses a convolutional design with one line, rather than a wrong kernel or a
traceback."""

from __future__ import annotations

from collections.abc import Iterable

from hwmodel.errors import HardwareInputError


def refuse_conv(conv: str | Iterable[object] | None, where: str) -> None:
    """Raise a one-line HardwareInputError naming `where` when `conv` (text such as "8p,16p",
    blocks, or design.json's entry) describes a convolutional front, which the HLS kernel
    does not build."""
    text = conv if isinstance(conv, str) else ",".join(map(str, conv or ()))
    if text:
        raise HardwareInputError(
            f"{where}: conv {text!r} is a convolutional design, and the HLS backend builds "
            "dense designs only; export it with --backend rtl (Verilog), or as a NIR file "
            "(--backend nir)"
        )
