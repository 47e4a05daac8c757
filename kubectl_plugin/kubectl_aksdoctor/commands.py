"""The sub-commands of `kubectl aksdoctor`; imported only after argument parsing (keeps `--help` fast)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

from aksdoctor import engine
from aksdoctor.errors import EXIT_UNREACHABLE, BadInputError, UsageError
from aksdoctor.facts import Facts
from aksdoctor.model import Target
from aksdoctor.render import FORMATS, render, should_color
from kubectl_aksdoctor.cli import exit_code, fail_on_threshold, parse_ids

SERVICE_PREFIXES = ("svc/", "service/", "services/", "service.v1/")


def diagnose(args: argparse.Namespace) -> int:
    """`lb` and `cluster`: validate everything that needs no network first, then read, check, render."""
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.output not in FORMATS:
        raise UsageError(f"unknown output format {args.output!r} (expected one of: {', '.join(FORMATS)})")
    threshold = fail_on_threshold(args.fail_on)
    include, exclude = parse_ids(args.check), parse_ids(args.skip)
    scope = "service" if args.command == "lb" else "cluster"
    engine.select_checks(scope, include, exclude)
    cloud_config_file = _cloud_config_file(args)
    namespace, name = _service_argument(args) if scope == "service" else (args.namespace, "")

    source, now, default_ns, cluster = _kube_source(args)
    azure, azure_reason = _azure_source(args, source)
    namespace = namespace or default_ns
    target = Target(scope, cluster, namespace if scope == "service" else "", name)
    facts = Facts(
        target=target,
        kube=source,
        now=now,
        azure=azure,
        azure_reason=azure_reason,
        azure_overrides=_azure_overrides(args),
        cloud_config_file=cloud_config_file,
    )
    progress = ProgressLine(sys.stderr) if args.output == "table" and sys.stderr.isatty() else None
    try:
        report = engine.run(facts, include=include, exclude=exclude, progress=progress)
    finally:
        if progress:
            progress.clear()
    if args.snapshot:
        report.notes.extend(source.snapshot_notes())
    report.notes.extend(f"Azure: {note}" for note in getattr(azure, "notes", ()))
    width = shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(render(report, args.output, color=should_color(sys.stdout), width=width))
    sys.stdout.flush()
    unreachable = getattr(azure, "unreachable", None)
    if unreachable:  # the report still shows what ran; the exit code says Azure was needed and not there
        print(f"error: {unreachable}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return exit_code(report.worst(), threshold)


def _service_argument(args: argparse.Namespace) -> tuple[str | None, str]:
    """`web`, `svc/web` or `shop/web` (with `-n` agreeing, if given)."""
    text = args.service
    for prefix in SERVICE_PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    namespace = args.namespace
    if "/" in text:
        ns, _, text = text.partition("/")
        if namespace and namespace != ns:
            raise UsageError(f"Service {args.service!r} names namespace {ns!r} but -n says {namespace!r}")
        namespace = ns
    if not text or "/" in text:
        raise UsageError(f"invalid Service {args.service!r} (expected NAME, svc/NAME or NAMESPACE/NAME)")
    return namespace, text


def _kube_source(args: argparse.Namespace) -> tuple[Any, datetime | None, str, str]:
    """(source, now, default namespace, cluster name) for a snapshot or a live cluster."""
    if args.snapshot:
        from aksdoctor.sources.snapshot import SnapshotSource

        snap = SnapshotSource(args.snapshot)
        return snap, None, "default", snap.cluster_meta().name
    from aksdoctor.sources.kube_live import KubeLiveSource

    live = KubeLiveSource.from_kubeconfig(
        config_file=args.kubeconfig, context=args.context, timeout=args.request_timeout
    )
    return live, datetime.now(timezone.utc), live.default_namespace, live.cluster_name


def _azure_source(args: argparse.Namespace, kube_source: Any) -> tuple[Any, str]:
    """(Azure source, why there is none): the snapshot itself, live ARM, or nothing with --no-azure.

    The live source is cheap to build: SDKs, DefaultAzureCredential and tokens come only when a check needs an
    Azure fact (and discovery found Azure nodes), so a cluster that is not on Azure never signs in."""
    if args.no_azure:
        return None, "Azure not queried (--no-azure)"
    if args.snapshot:
        return kube_source, ""
    from aksdoctor.sources.arm_clouds import resolve_cloud

    cloud, _ = resolve_cloud(args.cloud)
    if not args.verbose:  # DefaultAzureCredential logs every failed sign-in as a warning; the report says it once
        logging.getLogger("azure").setLevel(logging.ERROR)
    return _live_azure(cloud), ""


def _live_azure(cloud: Any) -> Any:
    from aksdoctor.sources.azure_live import AzureLiveSource

    return AzureLiveSource(cloud=cloud)


def _azure_overrides(args: argparse.Namespace) -> dict[str, str]:
    given = {
        "subscription": args.subscription,
        "cluster_name": args.cluster,
        "cluster_resource_group": args.resource_group,
    }
    return {k: v for k, v in given.items() if v}


def _cloud_config_file(args: argparse.Namespace) -> str | None:
    """--cloud-config FILE, checked before anything is read (a typo is bad input, exit 2)."""
    path = args.cloud_config
    if path and not os.path.isfile(os.path.expanduser(path)):
        raise BadInputError(f"--cloud-config: file not found: {path}")
    return path


class ProgressLine:
    """One self-erasing status line on a terminal's stderr while facts are read."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.shown = False

    def __call__(self, done: int, total: int, name: str) -> None:
        self.stream.write(f"\r\033[Kreading {name.replace('_', ' ')} ({done}/{total})")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
