"""Short texts shared by findings and fix plans."""

from __future__ import annotations

from collections.abc import Sequence

NAME_CAP = 10  # names written into a cause or a command


def names_text(names: Sequence[str], cap: int = NAME_CAP) -> str:
    """`a, b, c` or `a, b, c and 4997 more`."""
    shown = ", ".join(names[:cap])
    rest = len(names) - cap
    return f"{shown} and {rest} more" if rest > 0 else shown
