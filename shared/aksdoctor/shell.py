"""Fix commands users paste into a shell: every value quoted, so names with odd characters stay one argument."""

from __future__ import annotations

import shlex


def command(*argv: object) -> str:
    """Join argv into one copy-pasteable POSIX shell command, quoting each value that needs it."""
    return " ".join(shlex.quote(str(arg)) for arg in argv)
