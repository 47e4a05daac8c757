"""What every mode of `az aks doctor` (diagnose, --fix, --collect) shares with az: progress on stderr, core errors as
az errors, and an exit code set after the result has been printed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.cli.core.azclierror import AzureConnectionError, InvalidArgumentValueError, ValidationError

from aksdoctor.errors import AksdoctorError, UnreachableError, UsageError


@contextmanager
def progress(cli_ctx, message: str) -> Iterator[Any]:
    """az's progress controller (a spinner on stderr, drawn only on a terminal); yields `report(message)`."""
    controller = cli_ctx.get_progress_controller(det=False)
    controller.begin(message=message)
    try:
        yield lambda text: controller.add(message=text)
    finally:
        controller.end()


def az_error(exc: AksdoctorError) -> Exception:
    """Core errors as az errors: bad arguments, an unreachable endpoint, else input that cannot be read."""
    if isinstance(exc, UsageError):
        return InvalidArgumentValueError(str(exc))
    if isinstance(exc, UnreachableError):
        return AzureConnectionError(str(exc))
    return ValidationError(str(exc))


def fail_after_output(cli_ctx, error: Exception) -> None:
    """Make az exit non-zero (1) without losing the result.

    az prints a command's result after the command returns, then raises EVENT_CLI_SUCCESSFUL_EXECUTE (the event
    azure-cli-core itself uses to print a next-page token after a result). An error raised from that event goes
    through az's own error handling: `ERROR: ...` on stderr and exit code 1, the result already on stdout. The
    handlers remove themselves when the invocation ends, so a long-lived CLI object is left as it was.
    """
    from knack.events import EVENT_CLI_POST_EXECUTE, EVENT_CLI_SUCCESSFUL_EXECUTE

    def raise_after_output(*_: Any, **__: Any) -> None:
        remove()
        raise error

    def remove(*_: Any, **__: Any) -> None:
        cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, raise_after_output)
        cli_ctx.unregister_event(EVENT_CLI_POST_EXECUTE, remove)

    cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, raise_after_output)
    cli_ctx.register_event(EVENT_CLI_POST_EXECUTE, remove)


def fail_if_azure_unreachable(cli_ctx, azure: Any) -> bool:
    """Azure was needed and out of reach: the result shows what was done, the exit code says what was not."""
    unreachable = getattr(azure, "unreachable", None)
    if unreachable:
        fail_after_output(cli_ctx, AzureConnectionError(unreachable))
    return bool(unreachable)
