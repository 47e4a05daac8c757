"""Errors that end a run, each with its exit code (README.md, "Exit codes"). Front-ends print `str(err)` only."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class AksdoctorError(Exception):
    """Base class: a clear one-line message and an exit code; never shown as a traceback."""

    exit_code = EXIT_USAGE


class UsageError(AksdoctorError):
    """Bad flags or arguments (unknown check id, unknown output format)."""


class BadInputError(AksdoctorError):
    """The thing asked about does not exist or cannot be read (unknown Service, unreadable snapshot)."""


class UnreachableError(AksdoctorError):
    """The cluster or Azure could not be reached or authenticated when a check needed it."""

    exit_code = EXIT_UNREACHABLE


class FactUnavailable(Exception):
    """A fact could not be read (forbidden, not in the snapshot, no Azure credentials).

    The checks that need it become `skipped: <reason>`; the run goes on.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
