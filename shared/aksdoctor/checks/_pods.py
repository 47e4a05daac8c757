"""What the checks on a Service's pods share: the pods that can still serve, and how findings name them."""

from __future__ import annotations

from collections.abc import Iterable

from aksdoctor import kube, shell
from aksdoctor.checks.base import NotApplicable, ServiceContext
from aksdoctor.text import names_text

MAX_LISTED = 5


def live_pods(ctx: ServiceContext) -> list[dict]:
    """The Service's pods that can still become endpoints; NotApplicable when there are none."""
    if not kube.spec(ctx.service).get("selector"):
        raise NotApplicable("Service has no selector (endpoints are managed by hand)")
    pods = [p for p in ctx.pods if not kube.pod_is_terminal(p)]
    if not pods:
        raise NotApplicable("no running pods selected (lb.no-endpoints covers that)")
    return pods


def workload_command(namespace: str, kind: str, name: str) -> str:
    return shell.command("kubectl", "-n", namespace, "get", kind.lower(), name, "-o", "yaml")


def pod_list(names: Iterable[str]) -> str:
    """`3 pod(s): a, b, c`, the names capped."""
    names = sorted(names)
    return f"{len(names)} pod(s): {names_text(names, MAX_LISTED)}"
