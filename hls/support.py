"""What the backends build: the HLS kernel builds convolutional fronts (docs/rtl.md, "The
convolutional kernel"), the RTL core dense networks only, until its convolutional front lands
(issue 23).  Every command that writes or reads an RTL project refuses a convolutional design
with one line, rather than a wrong core or a traceback."""

from __future__ import annotations

from collections.abc import Iterable

from hwmodel.errors import HardwareInputError


def refuse_conv(conv: str | Iterable[object] | None, where: str) -> None:
    """Raise a one-line HardwareInputError naming `where` when `conv` (text such as "8p,16p",
    blocks, or design.json's entry) describes a convolutional front, which the RTL core does
    not build."""
    text = conv if isinstance(conv, str) else ",".join(map(str, conv or ()))
    if text:
        raise HardwareInputError(
            f"{where}: conv {text!r} is a convolutional design, and the RTL backend builds "
            "dense designs only (issue 23); export it with --backend hls (Vitis HLS, run by "
            "`dse csim`), or as a NIR file (--backend nir)"
        )
