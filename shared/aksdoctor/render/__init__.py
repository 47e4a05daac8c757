"""Turn a Report into text in one of the output formats.

Each format lives in its own module, imported only when asked for: `kubectl aksdoctor version` and `--help`
must not pay for yaml or xml imports.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from aksdoctor.errors import UsageError

if TYPE_CHECKING:
    from aksdoctor.model import Report

_MODULES = {
    "table": "table",
    "json": "jsondoc",
    "yaml": "yamldoc",
    "markdown": "markdown",
    "sarif": "sarif",
    "junit": "junit",
}
FORMATS = tuple(_MODULES)


def render(report: Report, fmt: str, *, color: bool = False, width: int = 100) -> str:
    """The report as text in `fmt`; `color` and `width` only shape the human table."""
    if fmt not in _MODULES:
        raise UsageError(f"unknown output format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    if fmt == "table":
        return module.render(report, color=color, width=width)
    return module.render(report)


def should_color(stream: Any) -> bool:
    """ANSI colour only on a terminal, unless NO_COLOR (https://no-color.org) is set or TERM is dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
