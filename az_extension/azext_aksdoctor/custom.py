"""`az aks doctor`: run the aksdoctor engine on an AKS cluster with az's own login, or on a snapshot; with `--fix`
plan (and with `--yes` apply) a fix action, with `--collect` write a redacted snapshot (see `_actions.py`).

The command returns its result as data (the aksdoctor JSON report, the fix run, or what was
collected), so az renders `-o json|yaml|table|tsv|none` and applies `--query`. An exit code that depends on the
result (`--fail-on`, Azure unreachable, a fix that did not work) is set after the result has been printed: see
`_az.fail_after_output`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from azure.cli.core.azclierror import UserFault

from aksdoctor.errors import AksdoctorError
from aksdoctor.model import Report, Severity, Target
from azext_aksdoctor import _az

NO_AZURE_REASON = "Azure not queried (--no-azure)"
DEFAULT_FAIL_ON = "error"
DEFAULT_TIMEOUT = 120


class FindingsAtThresholdError(UserFault):
    """The diagnosis ran and found problems at or above `--fail-on`."""


def aks_doctor(
    cmd,
    resource_group_name,
    name,
    service=None,
    check=None,
    skip=None,
    fail_on=None,
    snapshot=None,
    admin=False,
    no_azure=False,
    fix=None,
    yes=False,
    timeout=None,
    years=None,
    end_date=None,
    show_secret=False,
    remove_expired=False,
    collect=None,
    anonymize=False,
):
    """Arguments arrive checked and normalised by `_validators.validate_doctor` (which also refuses combinations
    that make no sense, such as --fix with --service)."""
    from azext_aksdoctor import _actions

    try:
        if fix:
            flags = {"years": years, "end_date": end_date, "show_secret": show_secret, "remove_expired": remove_expired}
            timeout = DEFAULT_TIMEOUT if timeout is None else timeout
            return _actions.fix(cmd, resource_group_name, name, fix, flags, yes, timeout, snapshot, admin, no_azure)
        if collect:
            return _actions.collect(
                cmd, resource_group_name, name, collect, anonymize=anonymize, admin=admin, no_azure=no_azure
            )
        return _diagnose(cmd, resource_group_name, name, service, check, skip, fail_on, snapshot, admin, no_azure)
    except AksdoctorError as exc:
        raise _az.az_error(exc) from None


def _diagnose(
    cmd,
    resource_group: str,
    name: str,
    service: str | None,
    check: list[str] | None,
    skip: list[str] | None,
    fail_on: str | None,
    snapshot: str | None,
    admin: bool,
    no_azure: bool,
) -> dict[str, Any]:
    namespace, _, service_name = (service or "").partition("/")
    target = Target("service" if service else "cluster", name, namespace, service_name)
    include, exclude = check or [], skip or []
    if snapshot:
        report, azure = _diagnose_snapshot(cmd, snapshot, target, include, exclude, no_azure)
    else:
        report, azure = _diagnose_live(cmd, resource_group, target, include, exclude, admin, no_azure)
    report.notes.extend(f"Azure: {note}" for note in getattr(azure, "notes", ()))
    if not _az.fail_if_azure_unreachable(cmd.cli_ctx, azure):  # the report shows what ran either way
        _fail_on_findings(cmd.cli_ctx, report, fail_on or DEFAULT_FAIL_ON)
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
    with _az.progress(cmd.cli_ctx, "Diagnosing") as progress:
        report = _run(facts, include, exclude, progress)
    report.notes.extend(snap.snapshot_notes())
    return report, azure


def _diagnose_live(
    cmd, resource_group: str, target: Target, include: list[str], exclude: list[str], admin: bool, no_azure: bool
) -> tuple[Report, Any]:
    """ARM for the cluster and its credentials, then the Kubernetes API (and Azure) read with them."""
    from aksdoctor.facts import Facts
    from azext_aksdoctor import _client_factory, _cluster

    cli_ctx = cmd.cli_ctx
    with (
        _az.progress(cli_ctx, "Diagnosing") as progress,
        _cluster.live_cluster(cli_ctx, resource_group, target.cluster, admin=admin, progress=progress) as cluster,
    ):
        azure = None if no_azure else _client_factory.cf_azure_source(cli_ctx)
        facts = Facts(
            target=target,
            kube=cluster.kube_source(),
            azure=azure,
            azure_reason=NO_AZURE_REASON,
            azure_overrides=cluster.azure_overrides(),
            now=datetime.now(timezone.utc),
        )
        return _run(facts, include, exclude, progress), azure


def _run(facts: Any, include: list[str], exclude: list[str], progress: Any) -> Report:
    from aksdoctor import engine

    def fact_progress(done: int, total: int, name: str) -> None:
        progress(f"Reading {name.replace('_', ' ')} ({done}/{total})")

    return engine.run(facts, include=include, exclude=exclude, progress=fact_progress)


def _fail_on_findings(cli_ctx, report: Report, fail_on: str) -> None:
    if fail_on == "none":
        return
    reached = [f for f in report.findings if f.severity >= Severity.parse(fail_on)]
    if reached:
        worst = max(f.severity for f in reached).label
        _az.fail_after_output(
            cli_ctx,
            FindingsAtThresholdError(
                f"{len(reached)} finding(s) at or above severity '{fail_on}' (worst: {worst})",
                recommendation="The exit code is 1 because of --fail-on; --fail-on none exits 0 with findings.",
            ),
        )
