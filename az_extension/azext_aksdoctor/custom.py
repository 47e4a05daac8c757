"""`az aks doctor`: run the aksdoctor engine on an AKS cluster with az's own login, or on a snapshot.

The command returns the JSON report (DESIGN.md section 5) as data, so az renders `-o json|yaml|table|tsv|none`
and applies `--query`. An exit code that depends on the report (`--fail-on`, Azure unreachable) is set after
the report has been printed: see `_fail_after_output`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from azure.cli.core.azclierror import AzureConnectionError, InvalidArgumentValueError, UserFault, ValidationError

from aksdoctor.errors import AksdoctorError, UnreachableError, UsageError
from aksdoctor.model import Report, Severity, Target

NO_AZURE_REASON = "Azure not queried (--no-azure)"


class FindingsAtThresholdError(UserFault):
    """The diagnosis ran and found problems at or above `--fail-on`."""


def aks_doctor(
    cmd,
    resource_group_name,
    name,
    service=None,
    check=None,
    skip=None,
    fail_on="error",
    snapshot=None,
    admin=False,
    no_azure=False,
):
    """Arguments arrive checked and normalised by `_validators.validate_doctor`."""
    namespace, _, service_name = (service or "").partition("/")
    target = Target("service" if service else "cluster", name, namespace, service_name)
    include, exclude = check or [], skip or []
    try:
        if snapshot:
            report, azure = _diagnose_snapshot(cmd, snapshot, target, include, exclude, no_azure)
        else:
            report, azure = _diagnose_live(cmd, resource_group_name, target, include, exclude, admin, no_azure)
    except AksdoctorError as exc:
        raise _az_error(exc) from None
    report.notes.extend(f"Azure: {note}" for note in getattr(azure, "notes", ()))
    unreachable = getattr(azure, "unreachable", None)
    if unreachable:  # the report shows what ran; the exit code says Azure was needed and not there
        _fail_after_output(cmd.cli_ctx, AzureConnectionError(unreachable))
    else:
        _fail_on_findings(cmd.cli_ctx, report, fail_on)
    return report.to_dict()


def _diagnose_snapshot(
    cmd, path: str, target: Target, include: list[str], exclude: list[str], no_azure: bool
) -> tuple[Report, Any]:
    """Offline: the snapshot is the Kubernetes and the Azure source; its metadata names the cluster."""
    from aksdoctor.facts import Facts
    from aksdoctor.sources.snapshot import SnapshotSource

    snap = SnapshotSource(path)
    azure = None if no_azure else snap
    target = Target(target.scope, snap.cluster_meta().name or target.cluster, target.namespace, target.name)
    facts = Facts(target=target, kube=snap, azure=azure, azure_reason=NO_AZURE_REASON)
    with _progress(cmd.cli_ctx) as progress:
        report = _run(facts, include, exclude, progress)
    report.notes.extend(_snapshot_notes(snap))
    return report, azure


def _diagnose_live(
    cmd, resource_group: str, target: Target, include: list[str], exclude: list[str], admin: bool, no_azure: bool
) -> tuple[Report, Any]:
    """ARM for the cluster and its credentials, then the Kubernetes API (and Azure) read with them."""
    from aksdoctor.facts import Facts
    from azext_aksdoctor import _client_factory, _cluster, _kubeconfig

    cli_ctx = cmd.cli_ctx
    with _progress(cli_ctx) as progress:
        progress(f"Reading managed cluster {target.cluster}")
        mc = _cluster.get_managed_cluster(cli_ctx, resource_group, target.cluster)
        _cluster.check_running(mc, resource_group)
        progress("Getting cluster credentials")
        access = _kubeconfig.parse_kubeconfig(_cluster.get_kubeconfig(cli_ctx, resource_group, mc, admin=admin))
        # Entra ID clusters: a token for the AKS server application replaces the kubelogin exec plugin.
        token = _client_factory.aks_server_token(cli_ctx) if access.exec_plugin else ""
        subscription_id = _client_factory.subscription_id(cli_ctx)
        azure = None if no_azure else _client_factory.cf_azure_source(cli_ctx)
        with _kubeconfig.api_client(access, bearer_token=token) as api:
            facts = Facts(
                target=target,
                kube=_cluster.ManagedClusterKubeSource(
                    api, _cluster.cluster_meta(mc, resource_group, subscription_id), default_namespace=access.namespace
                ),
                azure=azure,
                azure_reason=NO_AZURE_REASON,
                azure_overrides={
                    "subscription": subscription_id,
                    "cluster_name": mc.name,
                    "cluster_resource_group": resource_group,
                },
                now=datetime.now(timezone.utc),
            )
            try:
                return _run(facts, include, exclude, progress), azure
            except UnreachableError as exc:
                raise _cluster.unreachable_error(str(exc), mc, resource_group) from None


def _run(facts: Any, include: list[str], exclude: list[str], progress: Any) -> Report:
    from aksdoctor import engine

    def fact_progress(done: int, total: int, name: str) -> None:
        progress(f"Reading {name.replace('_', ' ')} ({done}/{total})")

    return engine.run(facts, include=include, exclude=exclude, progress=fact_progress)


@contextmanager
def _progress(cli_ctx) -> Iterator[Any]:
    """az's progress controller (a spinner on stderr, drawn only on a terminal); yields `report(message)`."""
    controller = cli_ctx.get_progress_controller(det=False)
    controller.begin(message="Diagnosing")
    try:
        yield lambda message: controller.add(message=message)
    finally:
        controller.end()


def _snapshot_notes(snap: Any) -> list[str]:
    notes = [f"malformed snapshot file {p}" for p in snap.problems]
    if snap.ignored:
        shown = ", ".join(snap.ignored[:5]) + (f" and {len(snap.ignored) - 5} more" if len(snap.ignored) > 5 else "")
        notes.append(f"ignored {len(snap.ignored)} unrecognised snapshot file(s): {shown}")
    return notes


def _az_error(exc: AksdoctorError) -> Exception:
    """Core errors as az errors: bad arguments, an unreachable endpoint, else input that cannot be read."""
    if isinstance(exc, UsageError):
        return InvalidArgumentValueError(str(exc))
    if isinstance(exc, UnreachableError):
        return AzureConnectionError(str(exc))
    return ValidationError(str(exc))


def _fail_on_findings(cli_ctx, report: Report, fail_on: str) -> None:
    if fail_on == "none":
        return
    reached = [f for f in report.findings if f.severity >= Severity.parse(fail_on)]
    if reached:
        worst = max(f.severity for f in reached).label
        _fail_after_output(
            cli_ctx,
            FindingsAtThresholdError(
                f"{len(reached)} finding(s) at or above severity '{fail_on}' (worst: {worst})",
                recommendation="The exit code is 1 because of --fail-on; --fail-on none exits 0 with findings.",
            ),
        )


def _fail_after_output(cli_ctx, error: Exception) -> None:
    """Make az exit non-zero (1) without losing the report.

    az prints a command's result after the command returns, then raises EVENT_CLI_SUCCESSFUL_EXECUTE (the event
    azure-cli-core itself uses to print a next-page token after a result). An error raised from that event goes
    through az's own error handling: `ERROR: ...` on stderr and exit code 1, the report already on stdout. The
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
