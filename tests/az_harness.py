"""An in-process Azure CLI with the `aksdoctor` extension loaded from this repository (packaging.md 1.6).

azure-cli-core reads its config and extension folders when it is imported, so this module points them at a
private temporary home and imports it; import it before anything else that imports `azure.cli.core`. The
extension folder is laid out as `az extension add` leaves it (`<dir>/aksdoctor/azext_aksdoctor` plus a
dist-info), with the package linked to the source tree. Only azure-cli-core is installed, not the command modules
of the full CLI: an empty `azure.cli.command_modules` package and `use_command_index=false` keep it from looking
for them. The environment is set only while az runs, so other tests see the real one.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from aksdoctor import __version__

ROOT = Path(__file__).resolve().parents[1]
EXTENSION_PACKAGE = ROOT / "az_extension" / "azext_aksdoctor"


def _home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="aksdoctor-az-"))
    atexit.register(shutil.rmtree, home, True)
    ext = home / "extensions" / "aksdoctor"
    ext.mkdir(parents=True)
    (ext / "azext_aksdoctor").symlink_to(EXTENSION_PACKAGE, target_is_directory=True)
    info = ext / f"aksdoctor-{__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: aksdoctor\nVersion: {__version__}\n")
    modules = home / "stub" / "azure" / "cli" / "command_modules"
    modules.mkdir(parents=True)
    (modules / "__init__.py").write_text("")
    return home


HOME = _home()
EXTENSION_DIR = HOME / "extensions" / "aksdoctor"
ENV = {
    "AZURE_CONFIG_DIR": str(HOME / "config"),
    "AZURE_EXTENSION_DIR": str(HOME / "extensions"),
    "AZURE_CORE_COLLECT_TELEMETRY": "false",
    "AZURE_CORE_USE_COMMAND_INDEX": "false",
    "AZURE_CORE_NO_COLOR": "true",
}
# az appends each extension folder to sys.path when it loads it; doing it now lets tests patch the extension.
sys.path.extend([str(HOME / "stub"), str(EXTENSION_DIR)])
with mock.patch.dict(os.environ, ENV):
    from azure.cli.core.mock import DummyCli


@dataclass(frozen=True)
class AzResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def az(*args: str) -> AzResult:
    """Run one `az ...` command line in-process, as the `az` script does (a fresh CLI object each time)."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, ENV), redirect_stdout(out), redirect_stderr(err), _console_logging():
        try:
            code = DummyCli().invoke(list(args), out_file=out)
        except SystemExit as exc:  # argparse and -h end with SystemExit, as in the real `az`
            code = exc.code
    return AzResult(code, out.getvalue(), err.getvalue())


@contextmanager
def _console_logging() -> Iterator[None]:
    """Let knack set up its console log handlers for this run (on the redirected stderr), then put back the
    handlers that were there: knack configures logging only when the root logger has none, and pytest's own
    handlers (or the previous run's) would otherwise swallow az's `ERROR:` lines."""
    from knack.log import cli_logger_names

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in cli_logger_names)]
    saved = [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers = []
    try:
        yield
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
