"""Writing an HLS project: one guarded writer (nothing lands outside the project folder) and
the Jinja2 environment that renders the templates in `hls/templates`."""

from __future__ import annotations

from pathlib import Path

import jinja2

from hwmodel.errors import HardwareInputError

__all__ = ["TEMPLATE_DIR", "ProjectWriter", "render"]

TEMPLATE_DIR = Path(__file__).parent / "templates"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # C++, Tcl, Python and Markdown, never HTML
)


def _times(expr: str, factor: int) -> str:
    """Verilog for `expr * factor` (a constant) as a sum of shifts: the plan builds constant
    products in fabric (`HardwarePlan.dsp` is 0), and Yosys maps some `x * 9` to a DSP48E1."""
    bits = [b for b in range(int(factor).bit_length()) if factor >> b & 1]
    return " + ".join(f"({expr} << {b})" if b else expr for b in bits) or "0"


_ENV.filters["times"] = _times


def render(template: str, context: dict) -> str:
    """Render one template (a path under hls/templates) with `context`."""
    return _ENV.get_template(template).render(**context)


class ProjectWriter:
    """Every file of a project goes through `write`, which refuses paths that leave `root`.

    The root must be empty or absent unless `force` is set, so an export never silently
    mixes with another project (or with a user's files).
    """

    def __init__(self, root: str | Path, force: bool = False) -> None:
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise HardwareInputError(f"--out: {root} is a file; name a directory")
        if root.is_dir() and any(root.iterdir()) and not force:
            raise HardwareInputError(
                f"--out: {root} is not empty; choose an empty directory or pass --force"
            )
        self.root = root.resolve()  # created by the first write, after every check has passed

    def path(self, relative: str | Path) -> Path:
        """The resolved path of `relative` inside the project; raises if it would escape."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            raise HardwareInputError(
                f"project file: {str(relative)!r} resolves outside {self.root}; "
                "use a plain relative name"
            )
        return target

    def write(self, relative: str | Path, text: str) -> Path:
        """Write `text` to `relative` (parents created) and return the path."""
        target = self.path(relative)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise HardwareInputError(
                f"--out: cannot write {target} ({exc.strerror}); choose a writable directory"
            ) from None
        return target
