"""The PyInstaller archive of this platform for tests, built at most once per test session.

Building takes about a minute, so it happens only when AKSDOCTOR_BUILD_BINARY=1 (CI sets it); otherwise tests
use an archive already in dist/ (from `python kubectl_plugin/build.py`), or skip.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "kubectl_plugin" / "build.py"
DIST = REPO / "dist"
BUILD_ENV = "AKSDOCTOR_BUILD_BINARY"


def load_build() -> ModuleType:
    """kubectl_plugin/build.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("aksdoctor_build", BUILD_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()


def building() -> bool:
    return os.environ.get(BUILD_ENV) == "1"


def run_build(dist: Path, log: Path) -> tuple[Path | None, str]:
    """Run the build script into `dist`: (archive, "") or (None, why it failed, with the log's tail)."""
    if importlib.util.find_spec("PyInstaller") is None:
        return None, f"{BUILD_ENV}=1 but PyInstaller is not installed: pip install 'pyinstaller>=6.22,<7'"
    with open(log, "w") as out:
        result = subprocess.run(
            [sys.executable, str(BUILD_SCRIPT), "--dist", str(dist)], stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        return None, f"build failed ({result.returncode}):\n" + "\n".join(log.read_text().splitlines()[-30:])
    return dist / build.archive_name(*build.go_platform()), ""


@functools.cache
def _session_archive() -> tuple[Path | None, str]:
    """Built once per session; a failed build is remembered too, so it fails every test that needs it at once."""
    if building():
        DIST.mkdir(exist_ok=True)
        return run_build(DIST, DIST / "build.log")
    archive = DIST / build.archive_name(*build.go_platform())
    return (archive, "") if archive.is_file() else (None, "")


def archive_or_skip() -> Path:
    archive, error = _session_archive()
    if error:
        pytest.fail(error)
    if archive is None:
        pytest.skip(
            f"no built binary archive in dist/: set {BUILD_ENV}=1 to build one in the test session (about a "
            "minute), or run `python kubectl_plugin/build.py` first"
        )
    return archive
