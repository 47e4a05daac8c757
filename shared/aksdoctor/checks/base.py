"""The check contract: metadata plus a pure function from facts to findings. Checks never call an API.

A check module registers itself with `@check(...)`. Its function receives a context that exposes only the facts
the check declared in `needs` (reading an undeclared fact is a programming error caught by the tests), and
builds findings with `ctx.finding(...)` so id, title, severity and docs always come from the catalog entry.
A check signals "does not apply here" with `raise NotApplicable(reason)` and "cannot tell" with
`raise Skipped(reason)`; a fact that could not be read skips the check with that fact's reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aksdoctor import kube
from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import Facts, LogLine, known_facts
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.sources.base import ClusterMeta

SCOPES = ("service", "cluster")


class NotApplicable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Skipped(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


RunFn = Callable[[Any], Iterable[Finding] | None]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    scope: str  # "service": once per LoadBalancer Service; "cluster": once per run
    needs: tuple[str, ...]  # without any of these the check is skipped
    optional: tuple[str, ...]  # prefetched too, but the check copes without them
    docs: tuple[str, ...]
    fix_action: str | None
    run: RunFn
    also_in_lb: bool  # cluster checks that also run under `lb` (nodes feed every backend pool)
    description: str
    yields_to: tuple[str, ...] = ()  # id globs: an error-level finding of these on the same resource replaces ours

    def applies_to(self, target_scope: str) -> bool:
        return self.scope == "service" or target_scope == "cluster" or self.also_in_lb


REGISTRY: dict[str, Check] = {}


def check(
    *,
    id: str,
    title: str,
    severity: str,
    scope: str,
    needs: Sequence[str],
    optional: Sequence[str] = (),
    docs: Sequence[str] = (),
    fix_action: str | None = None,
    also_in_lb: bool = False,
    yields_to: Sequence[str] = (),
) -> Callable[[RunFn], RunFn]:
    """Register a check function under a catalog id."""
    if scope not in SCOPES:
        raise ValueError(f"{id}: scope must be one of {SCOPES}")
    unknown = {*needs, *optional} - known_facts()
    if unknown:
        raise ValueError(f"{id}: unknown facts {sorted(unknown)}")

    def register(fn: RunFn) -> RunFn:
        if id in REGISTRY:
            raise ValueError(f"duplicate check id {id}")
        REGISTRY[id] = Check(
            id=id,
            title=title,
            severity=Severity.parse(severity),
            scope=scope,
            needs=tuple(needs),
            optional=tuple(optional),
            docs=tuple(docs),
            fix_action=fix_action,
            run=fn,
            also_in_lb=also_in_lb,
            yields_to=tuple(yields_to),
            description=(fn.__doc__ or "").strip(),
        )
        return fn

    return register


class UndeclaredFact(AssertionError):
    """A check read a fact it did not declare: prefetch would have missed it."""


class CheckContext:
    """What a check sees: its declared facts, "now", and a finding builder."""

    def __init__(self, check_def: Check, facts: Facts):
        self.check = check_def
        self.facts = facts

    def fact(self, name: str) -> Any:
        if name not in self.check.needs and name not in self.check.optional:
            raise UndeclaredFact(f"check {self.check.id} reads undeclared fact {name!r}")
        return self.facts.get(name)

    def fact_or(self, name: str, default: Any = None) -> Any:
        """A declared fact, or `default` when it could not be read (for facts declared `optional`)."""
        try:
            return self.fact(name)
        except FactUnavailable:
            return default

    def cluster_meta(self) -> ClusterMeta:
        """Who the cluster is (optional fact `cluster`, which the check declares); empty when unknown."""
        return self.fact_or("cluster", ClusterMeta())

    @property
    def now(self) -> datetime:
        return self.fact("now")

    @property
    def nodes(self) -> list[dict]:
        return self.fact("nodes")

    @property
    def default_resource(self) -> str:
        return f"Cluster {self.facts.target.cluster}".strip()

    def finding(
        self,
        cause: str,
        evidence: Iterable[Evidence] = (),
        *,
        fix: Fix | None = None,
        resource: str | None = None,
        severity: Severity | str | None = None,
        title: str | None = None,
        docs: Sequence[str] = (),
    ) -> Finding:
        if isinstance(severity, str):
            severity = Severity.parse(severity)
        return Finding(
            id=self.check.id,
            severity=severity or self.check.severity,
            title=title or self.check.title,
            resource=resource or self.default_resource,
            cause=cause,
            evidence=tuple(evidence),
            fix=fix,
            docs=tuple(dict.fromkeys([*self.check.docs, *docs])),
        )


class ServiceContext(CheckContext):
    """A check's view of one LoadBalancer Service and what belongs to it."""

    def __init__(self, check_def: Check, facts: Facts, service: Mapping[str, Any]):
        super().__init__(check_def, facts)
        self.service = service

    @property
    def key(self) -> str:
        return kube.key(self.service)

    @property
    def default_resource(self) -> str:
        return kube.ref("Service", self.service)

    @property
    def pods(self) -> list[dict]:
        self.fact("pods")
        return self.facts.pods_for(self.service)

    @property
    def endpoint_slices(self) -> list[dict]:
        self.fact("endpointslices")
        return self.facts.endpoint_slices_for(self.service)

    @property
    def endpoints(self) -> list[dict]:
        self.fact("endpoints")
        return self.facts.endpoints_for(self.service)

    @property
    def events(self) -> list[dict]:
        """This Service's events, newest first."""
        self.fact("events")
        return self.facts.events_for("Service", self.service)

    @property
    def log_lines(self) -> list[LogLine]:
        """Controller log lines naming this Service."""
        self.fact("provider_logs")
        return self.facts.log_lines_for(self.service)


# ---- evidence helpers (one way to cite each kind of source) -------------------------------------------------


def event_evidence(event: Mapping[str, Any]) -> Evidence:
    inv = event.get("involvedObject") or {}
    when = kube.event_time(event)
    count = event.get("count") or 1
    parts = [event.get("type") or "", event.get("reason") or ""]
    if count and count > 1:
        parts.append(f"x{count}")
    if when:
        parts.append(f"last {kube.format_time(when)}")
    # Cluster-scoped objects (nodes) have no namespace in involvedObject, whatever namespace the event sits in.
    name = f"{inv['namespace']}/{inv.get('name', '')}" if inv.get("namespace") else inv.get("name", "")
    ref = f"{inv.get('kind', '')} {name}".strip()
    return Evidence("Event", f"{ref} ({' '.join(p for p in parts if p)})", event.get("message") or "")


def log_evidence(line: LogLine) -> Evidence:
    return Evidence("Log", f"{line.ref}:{line.number}", line.text.strip())


def field_evidence(kind: str, obj: Mapping[str, Any], path: str, value: Any) -> Evidence:
    """A field of a Kubernetes object: `Node aks-1` `spec.providerID = ""`."""
    return Evidence(kind, f"{kube.ref(kind, obj)} {path}", "<absent>" if value is None else f"{value}")


def label_evidence(node: Mapping[str, Any], key: str) -> Evidence:
    return field_evidence("Node", node, f"metadata.labels[{key}]", kube.labels(node).get(key))


def taint_evidence(node: Mapping[str, Any], taint: Mapping[str, Any]) -> Evidence:
    return field_evidence("Node", node, "spec.taints", kube.taint_text(taint))


def warning_events(events: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    return (e for e in events if e.get("type") == "Warning")
