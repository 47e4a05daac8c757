"""`az aks doctor --fix ACTION` and `az aks doctor --collect DEST`: the core's fix runner and collect, on the same
ARM-fetched, in-memory cluster credentials and az login as the diagnosis.

A fix plans by default (no request but reads) and applies only with `--yes`, then re-runs the checks the action
addresses. Kubernetes writes go through the cluster's API client, ARM and Graph writes through az's credential
(only the writers of the APIs the action uses). The fix run, with its audit record, is the command's result; a fix
applied but not verified, partly applied or failed prints that result first and then exits 1, as az errors do.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

from azure.cli.core.azclierror import AzureConnectionError, UserFault
from knack.log import get_logger

from aksdoctor.fixes import runner
from aksdoctor.fixes.base import StepStatus
from aksdoctor.model import Status
from azext_aksdoctor import _az, _client_factory, _cluster
from azext_aksdoctor.custom import NO_AZURE_REASON

logger = get_logger(__name__)


class FixNotDoneError(UserFault):
    """The fix was applied, but not completely, or the checks it addresses still fail."""


# ---- --fix ------------------------------------------------------------------------------------------------------


def fix(
    cmd,
    resource_group: str,
    name: str,
    action_name: str,
    flags: dict[str, Any],
    yes: bool,
    timeout: float,
    snapshot: str | None,
    admin: bool,
    no_azure: bool,
) -> dict[str, Any]:
    """Plan (and with `yes` apply) one fix action; arguments were validated (`--yes` never comes with a snapshot)."""
    from aksdoctor.fixes import get_action

    cli_ctx = cmd.cli_ctx
    action = get_action(action_name)
    with _az.progress(cli_ctx, f"{'Applying' if yes else 'Planning'} {action_name}") as progress:
        if snapshot:
            run = _fix_snapshot(action, flags, snapshot, no_azure)
        else:
            with _cluster.live_cluster(cli_ctx, resource_group, name, admin=admin, progress=progress) as cluster:
                run = _fix_live(cli_ctx, cluster, action, flags, yes, timeout, no_azure, progress)
    _conclude(cli_ctx, run)
    return run.to_dict()


def _fix_snapshot(action: Any, flags: dict[str, Any], path: str, no_azure: bool) -> runner.FixRun:
    """A plan from a snapshot: what the action would do to the cluster the snapshot was taken of."""
    from aksdoctor.facts import Facts
    from aksdoctor.model import Target
    from aksdoctor.sources.snapshot import SnapshotSource

    snap = SnapshotSource(path)
    cluster = snap.cluster_meta().name

    def offline() -> Facts:
        return Facts(
            target=Target("cluster", cluster), kube=snap, azure=None if no_azure else snap, azure_reason=NO_AZURE_REASON
        )

    if hasattr(action, "configured"):  # Azure actions: their flags; no live reads, no writer
        action = action.configured(flags, reveal=_reveal)
    return runner.run_fix(action, offline, writer=None, source="snapshot", cluster=cluster)


def _fix_live(
    cli_ctx,
    cluster: _cluster.LiveCluster,
    action: Any,
    flags: dict[str, Any],
    yes: bool,
    timeout: float,
    no_azure: bool,
    progress: Any,
) -> runner.FixRun:
    """Each call of the facts factory reads the cluster (and Azure) afresh, so the re-check sees the change."""
    from aksdoctor.facts import Facts
    from aksdoctor.fixes.base import KUBERNETES, Writers
    from aksdoctor.model import Target
    from aksdoctor.sources.kube_writer import KubeWriter

    azure_action = hasattr(action, "configured")
    azure = _client_factory.cf_azure_session(cli_ctx) if azure_action and not no_azure else None

    def facts() -> Facts:
        return Facts(
            target=Target("cluster", cluster.mc.name),
            kube=cluster.kube_source(),
            now=datetime.now(timezone.utc),
            azure=azure.source() if azure is not None else None,
            azure_reason=NO_AZURE_REASON,
            azure_overrides=cluster.azure_overrides(),
        )

    writer: Any = KubeWriter(cluster.api, timeout=_cluster.REQUEST_TIMEOUT, kubeconfig_user=cluster.access.user)
    if azure is not None:
        writer = Writers({KUBERNETES: writer, **{a: w for a, w in azure.writers().items() if a in action.apis}})
    if azure_action:  # its flags, live Azure reads while planning, and the way out for a secret asked for
        action = action.configured(flags, reader=writer if azure is not None else None, reveal=_reveal)
    name = cluster.mc.name
    return runner.run_fix(action, facts, writer=writer, apply=yes, cluster=name, timeout=timeout, on_wait=progress)


def _reveal(text: str) -> None:
    """A secret the user asked to see (--show-secret): stderr, once. Never the result, and never a logger: az copies
    log records into its command log files."""
    sys.stderr.write(text)
    sys.stderr.flush()


def _conclude(cli_ctx, run: runner.FixRun) -> None:
    """Say what a dry run did not do; make a fix that did not fully work exit non-zero after its result."""
    if run.outcome == runner.PLANNED:
        how = (
            "run it against the cluster (without --snapshot) with --yes to apply it"
            if run.source == "snapshot"
            else "add --yes to apply it"
        )
        logger.warning("Dry run: nothing was changed. The plan has %d step(s); %s.", len(run.plan.steps), how)
        return
    error = _not_done(run)
    if error is not None:
        _az.fail_after_output(cli_ctx, error)


def _not_done(run: runner.FixRun) -> Exception | None:
    result, verification = run.result, run.verification
    if run.outcome == runner.UNREACHABLE:
        reason = (result.unreachable if result else "") or (verification.reason if verification else "")
        return AzureConnectionError(
            f"{run.action} stopped: {reason}",
            recommendation="The result lists which steps were done; run the same command without --yes to see what "
            "is left to do.",
        )
    if run.outcome in (runner.PARTIAL, runner.FAILED) and result is not None:
        done = result.count(StepStatus.DONE)
        failed = next((o for o in result.outcomes if o.status is StepStatus.FAILED), None)
        first = f"; step {failed.index + 1} ({failed.target}): {failed.detail}" if failed and failed.detail else ""
        return FixNotDoneError(
            f"{run.action} was {'partly applied' if done else 'not applied'}: {done} of {len(result.outcomes)} "
            f"step(s) done{first}",
            recommendation="The result lists every step's status; fix the cause and run the same command again "
            "(what is done already is not planned again).",
        )
    if run.outcome == runner.NOT_VERIFIED and verification is not None:
        open_checks = ", ".join(
            f"{c.id} {c.status.value}"
            for c in verification.checks
            if c.status not in (Status.PASSED, Status.NOT_APPLICABLE)
        )
        why = "; ".join(text for text in (open_checks, verification.reason) if text)
        return FixNotDoneError(
            f"{run.action} was applied, but the re-check of {', '.join(run.addresses)} does not pass"
            + (f": {why}" if why else ""),
            recommendation="The verification in the result shows what still fails; when the change takes time, run "
            "az aks doctor again later or use a longer --timeout.",
        )
    return None


# ---- --collect --------------------------------------------------------------------------------------------------


def collect(
    cmd, resource_group: str, name: str, destination: str, *, anonymize: bool, admin: bool, no_azure: bool
) -> dict[str, Any]:
    """A redacted snapshot of the live cluster (and its Azure resources) at `destination`: a .tar.gz, else a new or
    empty directory. `az aks doctor --snapshot DESTINATION` reads it back."""
    from aksdoctor.collect import collect as write_bundle

    cli_ctx = cmd.cli_ctx
    with (
        _az.progress(cli_ctx, "Collecting") as progress,
        _cluster.live_cluster(cli_ctx, resource_group, name, admin=admin, progress=progress) as cluster,
    ):
        azure = None if no_azure else _client_factory.cf_azure_source(cli_ctx)
        progress(f"Writing {destination}")
        result = write_bundle(
            cluster.kube_source(),
            destination,
            anonymize=anonymize,
            azure=azure,
            azure_overrides=cluster.azure_overrides(),
        )
    _az.fail_if_azure_unreachable(cli_ctx, azure)
    return result.to_dict()
