"""`kubectl aksdoctor fix ACTION` and `kubectl aksdoctor collect`: parsers (cheap to import) and command bodies
(heavy imports inside)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any

from aksdoctor.errors import EXIT_OK, EXIT_UNREACHABLE, UsageError

FIX_FORMATS = ("table", "json", "yaml", "markdown")

EXAMPLES_FIX = """examples:
  {prog} fix exclude-virtual-nodes                    the plan: requests, commands, blast radius
  {prog} fix exclude-virtual-nodes --yes              apply it, then re-run node.virtual-not-excluded
  {prog} fix restart-tunnel --yes --timeout 3m        wait up to 3 minutes for new agents to be ready
  {prog} fix release-kured-lock --snapshot b.tar.gz   plan from a snapshot (never applied)
  {prog} fix reset-sp-credential --yes --years 2      new SP secret, handed to the cluster, never printed
  {prog} fix grant-network-role --yes                 the role Azure denied the cloud provider identity

actions: {actions}
exit codes: 0 planned, nothing to do, or applied and verified; 1 applied but the re-check still fails, or a step
failed; 2 usage (unknown action, --yes with --snapshot, what the plan must read is forbidden); 3 cluster unreachable
or not authenticated.
"""
EXAMPLES_COLLECT = """examples:
  {prog} collect                                      ./aksdoctor-snapshot-<time>.tar.gz
  {prog} collect -d ./bundle --anonymize              a directory; names, IPs and subscription ids replaced
  {prog} cluster --snapshot bundle.tar.gz             the same findings, offline

Secrets are never written: no Secret objects, no kubeconfig, and secret-looking values (env, annotations,
azure.json, log lines, Azure tags) become "<redacted>". Azure resources and the service principal's Graph
application are included (without --no-azure); of its credentials only ids, names and dates are kept.
"""


def _positive_int(text: str) -> int:
    """argparse type for counts that must be 1 or more (a 0-year secret would be expired on arrival)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def add_parsers(sub: Any, common: argparse.ArgumentParser, prog: str) -> None:
    from aksdoctor.fixes import action_names

    fmt = argparse.RawDescriptionHelpFormatter
    fix = sub.add_parser(
        "fix",
        parents=[common],
        help="plan a fix action (dry run); apply it with --yes",
        description="Plan a fix: the exact requests, the equivalent commands, blast radius and rollback. "
        "Nothing changes without --yes; after applying, the checks the action addresses are re-run.",
        epilog=EXAMPLES_FIX.format(prog=prog, actions=", ".join(action_names())),
        formatter_class=fmt,
    )
    fix.add_argument("action", metavar="ACTION", help="the fix action (see below)")
    fix.add_argument("--yes", action="store_true", help="apply the plan (default: show it only)")
    fix.add_argument(
        "--timeout",
        metavar="DURATION",
        default="120s",
        help="how long to wait for the re-check to pass when the change takes time (pods restarting): "
        "90, 90s, 5m (default 120s)",
    )
    secret = fix.add_argument_group("reset-sp-credential")
    secret.add_argument(
        "--years", type=_positive_int, metavar="N", help="lifetime of the new secret in years (default 1)"
    )
    secret.add_argument("--end-date", metavar="DATE", help="end of the new secret (YYYY-MM-DD or RFC 3339)")
    secret.add_argument(
        "--show-secret", action="store_true", help="print the new secret once, on stderr (never in the report)"
    )
    secret.add_argument(
        "--remove-expired",
        action="store_true",
        help="also delete the application's expired password credentials (after the cluster has the new one)",
    )
    collect = sub.add_parser(
        "collect",
        parents=[common],
        help="write a redacted snapshot for offline analysis or support",
        description="Write a snapshot of the cluster (the objects the checks read, events, controller and tunnel "
        "logs) with secrets redacted, as a .tar.gz or a directory.",
        epilog=EXAMPLES_COLLECT.format(prog=prog),
        formatter_class=fmt,
    )
    where = collect.add_mutually_exclusive_group()
    where.add_argument("-f", "--file", metavar="FILE.tar.gz", help="write a .tar.gz (default: a new one in .)")
    where.add_argument("-d", "--dir", metavar="DIR", help="write a directory (new or empty)")
    collect.add_argument(
        "--anonymize",
        action="store_true",
        help="also replace subscription ids, IP addresses and cluster / node / namespace / workload names",
    )


# ---- fix ----------------------------------------------------------------------------------------------------


def fix(args: argparse.Namespace) -> int:
    """Validate without the network first (action, format, --yes with --snapshot), then plan and maybe apply."""
    from aksdoctor.fixes import action_names, get_action
    from aksdoctor.fixes.render import render_fix
    from aksdoctor.fixes.runner import run_fix

    _logging(args)
    action = get_action(args.action)
    if action is None:
        raise UsageError(f"unknown fix action {args.action!r} (expected one of: {', '.join(action_names())})")
    if args.output not in FIX_FORMATS:
        raise UsageError(f"unknown output format {args.output!r} for fix (expected one of: {', '.join(FIX_FORMATS)})")
    if args.yes and args.snapshot:
        raise UsageError("--yes cannot be used with --snapshot: a snapshot can be planned from, never applied to")
    timeout = parse_duration(args.timeout)
    _check_action_flags(action, args)
    azure = None if args.snapshot or args.no_azure or not _needs_azure(action) else _azure_session(args)
    facts_factory, writer, cluster = _fix_sources(args, action, azure)
    if hasattr(action, "configured"):  # Azure actions: their flags, live reads while planning, the secret's way out
        reader = writer if azure is not None else None
        action = action.configured(vars(args), reader=reader, reveal=_reveal)
    waiting = _StderrLine() if args.output == "table" and sys.stderr.isatty() else None
    try:
        run = run_fix(
            action,
            facts_factory,
            writer=writer,
            apply=args.yes,
            source="snapshot" if args.snapshot else "live",
            cluster=cluster,
            timeout=timeout,
            on_wait=waiting,
        )
    finally:
        if waiting:
            waiting.clear()
    sys.stdout.write(render_fix(run, args.output))
    sys.stdout.flush()
    return run.exit_code


def _fix_sources(args: argparse.Namespace, action: Any, azure: Any = None) -> tuple[Any, Any, str]:
    """(facts factory, writer or None, cluster name). Each call of the factory reads the cluster (and, with an
    Azure session, Azure) afresh; the writer then writes to both."""
    from aksdoctor.facts import Facts
    from aksdoctor.model import Target
    from kubectl_aksdoctor.commands import _azure_overrides

    if args.snapshot:
        from aksdoctor.sources.snapshot import SnapshotSource

        snap = SnapshotSource(args.snapshot)
        cluster = snap.cluster_meta().name

        def offline() -> Facts:
            return Facts(
                target=Target("cluster", cluster),
                kube=snap,
                azure=None if args.no_azure else snap,
                azure_reason="Azure not queried (--no-azure)",
                azure_overrides=_azure_overrides(args),
            )

        return offline, None, cluster
    from aksdoctor.sources.kube_live import KubeLiveSource
    from aksdoctor.sources.kube_writer import KubeWriter

    first = KubeLiveSource.from_kubeconfig(
        config_file=args.kubeconfig, context=args.context, timeout=args.request_timeout
    )
    sources = [first]

    def facts() -> Facts:
        source = sources.pop() if sources else _fresh(first, args.request_timeout)
        return Facts(
            target=Target("cluster", first.cluster_name),
            kube=source,
            now=datetime.now(timezone.utc),
            azure=azure.source() if azure is not None else None,
            azure_reason="Azure not queried (--no-azure)" if args.no_azure else "no Azure source",
            azure_overrides=_azure_overrides(args),
            cloud_config_file=getattr(args, "cloud_config", None),
        )

    writer: Any = KubeWriter(first.api_client, timeout=args.request_timeout, kubeconfig_user=_kubeconfig_user(args))
    if azure is not None:
        from aksdoctor.fixes.base import KUBERNETES, Writers

        apis = getattr(action, "apis", ())
        writer = Writers({KUBERNETES: writer, **{a: w for a, w in azure.writers().items() if a in apis}})
    return facts, writer, first.cluster_name


RESET_FLAGS = ("years", "end_date", "show_secret", "remove_expired")


def _check_action_flags(action: Any, args: argparse.Namespace) -> None:
    """An action-specific flag given to another action is a usage error (it would be silently ignored)."""
    given = [f for f in RESET_FLAGS if getattr(args, f, None) not in (None, False)]
    stray = [f for f in given if f not in getattr(action, "flags", ())]
    if stray:
        flags = ", ".join("--" + f.replace("_", "-") for f in stray)
        raise UsageError(f"{flags} only apply to reset-sp-credential, not {action.name}")


def _needs_azure(action: Any) -> bool:
    return any(n.startswith("azure_") or n == "graph_objects" for n in action.needs)


def _azure_session(args: argparse.Namespace) -> Any:
    """One Azure sign-in for the run's reads and writes (the cloud as `cluster` resolves it)."""
    from aksdoctor.sources.arm_clouds import resolve_cloud
    from aksdoctor.sources.arm_writer import AzureSession

    cloud, _ = resolve_cloud(args.cloud)
    if not args.verbose:  # DefaultAzureCredential logs every failed sign-in as a warning; the run says it once
        import logging

        logging.getLogger("azure").setLevel(logging.ERROR)
    return AzureSession(cloud=cloud, subscription_id=args.subscription)


def _reveal(text: str) -> None:
    """A secret the user asked to see (--show-secret): stderr, once; never the report on stdout."""
    sys.stderr.write(text)
    sys.stderr.flush()


def _fresh(source: Any, timeout: float) -> Any:
    """A new source on the same client: sources cache what they read, a re-check must not."""
    return type(source)(
        source.api_client, default_namespace=source.default_namespace, cluster_name=source.cluster_name, timeout=timeout
    )


def _kubeconfig_user(args: argparse.Namespace) -> str:
    """The context's user entry, for the audit record when the server cannot say who we are. Best effort."""
    from kubernetes.config import list_kube_config_contexts

    paths = args.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    try:
        contexts, active = list_kube_config_contexts(os.path.expanduser(paths))
    except Exception:  # in-cluster, unreadable: the SelfSubjectReview still names the user
        return ""
    wanted = args.context or (active or {}).get("name")
    ctx = next((c for c in contexts or () if c.get("name") == wanted), None) or {}
    return str((ctx.get("context") or {}).get("user") or "")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `5m`, `1h` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", str(text))
    if not match:
        raise UsageError(f"--timeout: {text!r} is not a duration (e.g. 90s, 5m)")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


class _StderrLine:
    """One self-erasing line on a terminal's stderr while the re-check waits."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, text: str) -> None:
        sys.stderr.write(f"\r\033[K{text}")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# ---- collect ------------------------------------------------------------------------------------------------


def collect(args: argparse.Namespace) -> int:
    import json

    from aksdoctor.collect import collect as write_bundle
    from aksdoctor.collect import default_name
    from aksdoctor.sources.kube_live import KubeLiveSource

    _logging(args)
    if args.snapshot:
        raise UsageError("collect reads a live cluster; --snapshot cannot be used with it")
    if args.output not in ("table", "json"):
        raise UsageError(f"unknown output format {args.output!r} for collect (expected table or json)")
    archive = not args.dir
    destination = args.dir or args.file or default_name()
    if archive and not destination.endswith((".tar.gz", ".tgz")):
        raise UsageError(f"-f {destination}: the bundle is a gzipped tar; name it *.tar.gz")
    source = KubeLiveSource.from_kubeconfig(
        config_file=args.kubeconfig, context=args.context, timeout=args.request_timeout
    )
    from kubectl_aksdoctor.commands import _azure_overrides, _azure_source

    azure, _ = _azure_source(args, source)
    result = write_bundle(
        source,
        destination,
        archive=archive,
        anonymize=args.anonymize,
        cloud_config_file=getattr(args, "cloud_config", None),
        azure=azure,
        azure_overrides=_azure_overrides(args),
    )
    code = _azure_exit(azure)
    if args.output == "json":
        print(json.dumps(result.to_dict(), indent=2))
        return code
    total = sum(result.objects.values())
    in_azure = f", {sum(result.azure.values())} Azure/Graph object(s)" if result.azure else ""
    print(
        f"wrote {result.path}: {total} objects ({', '.join(f'{n} {k}' for k, n in result.objects.items())}){in_azure}, "
        f"{result.logs} log(s), {result.files} node file(s); {result.redacted} value(s) redacted"
        + ("; anonymized" if result.anonymized else "")
    )
    for note in result.notes:
        print(f"  note: {note}")
    return code


def _azure_exit(azure: Any) -> int:
    """Azure out of reach: the bundle is written without it, and the exit code says so (as `cluster` does)."""
    unreachable = getattr(azure, "unreachable", None)
    if unreachable:
        print(f"error: {unreachable}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK


def _logging(args: argparse.Namespace) -> None:
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
