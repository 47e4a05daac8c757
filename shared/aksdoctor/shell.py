"""Fix commands users paste into a shell: every value quoted, so names with odd characters stay one argument."""

from __future__ import annotations

import json
import shlex
from typing import Any


class Var(str):
    """A shell variable an earlier command of the same fix sets: written as "$NAME", never quoted as a value."""


def command(*argv: object) -> str:
    """Join argv into one copy-pasteable POSIX shell command, quoting each value that needs it."""
    return " ".join(f'"${arg}"' if isinstance(arg, Var) else shlex.quote(str(arg)) for arg in argv)


def json_text(value: Any) -> str:
    """Compact JSON, as it appears in a command argument such as `kubectl patch -p`."""
    return json.dumps(value, separators=(",", ":"))
