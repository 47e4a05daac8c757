"""Version information shared by both front-ends: one version, the git commit, Python and library versions.

Library versions come from installed distribution metadata, so reporting them imports none of the libraries.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from aksdoctor import __version__

LIBRARIES = (
    "kubernetes",
    "azure-identity",
    "azure-mgmt-network",
    "azure-mgmt-compute",
    "azure-mgmt-containerservice",
    "PyYAML",
)


def build_info() -> dict[str, Any]:
    return {
        "version": __version__,
        "commit": _commit(),
        "python": platform.python_version(),
        "libraries": library_versions(),
    }


def library_versions() -> dict[str, str]:
    """Versions baked in by a release build (reading distribution metadata costs a frozen binary ~35 ms), else
    read from the installed distributions."""
    try:
        from aksdoctor._commit import LIBRARIES as baked  # type: ignore[import-not-found]

        return dict(baked)
    except ImportError:
        pass
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {name: version(name) for name in LIBRARIES}


def _commit() -> str:
    """The commit baked in at build time, else the checkout's HEAD when running from a git clone."""
    try:
        from aksdoctor._commit import COMMIT  # type: ignore[import-not-found]  # written by release builds

        return COMMIT
    except ImportError:
        pass
    here = Path(__file__).resolve().parent
    if not any((p / ".git").exists() for p in here.parents):
        return ""
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
