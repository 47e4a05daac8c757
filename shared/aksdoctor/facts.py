"""Facts: each kind of data is read once (one list call per kind), memoised, and fetched in parallel up front.

Checks declare the facts they need; the engine prefetches the union. The number of API calls is therefore
bounded by the number of fact kinds, never by the number of checks, Services or nodes. Per-Service views
(its pods, slices, events, log lines) are built from indexes over those lists, so `cluster` on thousands of
Services stays linear.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aksdoctor import kube
from aksdoctor.errors import FactUnavailable, UnreachableError
from aksdoctor.kube import SYSTEM_NAMESPACE
from aksdoctor.model import Target
from aksdoctor.sources.base import AZURE_KINDS, AzureScope, AzureSource, ClusterMeta, KubeSource

FactFn = Callable[["Facts"], Any]
_FACTS: dict[str, FactFn] = {}


def fact(name: str) -> Callable[[FactFn], FactFn]:
    def register(fn: FactFn) -> FactFn:
        _FACTS[name] = fn
        return fn

    return register


def known_facts() -> frozenset[str]:
    return frozenset(_FACTS)


@dataclass(frozen=True)
class LogLine:
    ref: str
    number: int
    text: str


Progress = Callable[[int, int, str], None]


class Facts:
    """Memoised facts for one run. Thread-safe: prefetch fills it from a pool of workers."""

    def __init__(
        self,
        *,
        target: Target,
        kube: KubeSource | None,
        azure: AzureSource | None = None,
        azure_reason: str = "no Azure source",
        azure_overrides: Mapping[str, str] | None = None,
        now: datetime | None = None,
        cloud_config_file: str | None = None,
    ):
        self.target = target
        self.kube = kube
        self.azure = azure
        self.azure_reason = azure_reason  # why Azure facts are unavailable when `azure` is None
        self.azure_overrides = dict(azure_overrides or {})  # subscription, cluster_name, cluster_resource_group
        self._now = now
        self.cloud_config_file = cloud_config_file  # --cloud-config: read instead of what the source holds
        self._values: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._derived: dict[str, Any] = {}

    # ---- access -------------------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        if name not in _FACTS:
            raise KeyError(f"unknown fact {name!r}")
        with self._guard:
            lock = self._locks[name]
        with lock:
            if name not in self._values and name not in self._errors:
                try:
                    self._values[name] = _FACTS[name](self)
                except (FactUnavailable, UnreachableError) as exc:
                    self._errors[name] = exc
        if name in self._errors:
            raise self._errors[name]
        return self._values[name]

    def get_or(self, name: str, default: Any = None) -> Any:
        """The fact, or `default` when it is unavailable."""
        try:
            return self.get(name)
        except FactUnavailable:
            return default

    def reason(self, name: str) -> str | None:
        """Why a fact is unavailable (None when it was read)."""
        try:
            self.get(name)
        except FactUnavailable as exc:
            return exc.reason
        return None

    def prefetch(self, names: Iterable[str], *, progress: Progress | None = None, workers: int = 8) -> None:
        """Read the named facts in parallel; an unreachable endpoint ends the run (exit 3)."""
        wanted = sorted(set(names))
        done = 0
        lock = threading.Lock()

        def fetch(name: str) -> None:
            nonlocal done
            try:
                self.get(name)
            except FactUnavailable:
                pass
            finally:
                with lock:
                    done += 1
                    if progress:
                        progress(done, len(wanted), name)

        if not wanted:
            return
        with ThreadPoolExecutor(max_workers=min(workers, len(wanted))) as pool:
            for future in [pool.submit(fetch, n) for n in wanted]:
                future.result()

    def derived(self, key: str, build: Callable[[], Any]) -> Any:
        """An index built once from facts (e.g. pods by namespace and label)."""
        with self._guard:
            lock = self._locks["derived:" + key]
        with lock:
            if key not in self._derived:
                self._derived[key] = build()
            return self._derived[key]

    # ---- per-Service views --------------------------------------------------------------------------

    def pods_for(self, service: Mapping[str, Any]) -> list[dict]:
        """Pods the Service's selector picks (running or not), via a (namespace, label) index."""
        selector = kube.spec(service).get("selector") or {}
        if not selector:
            return []
        index = self.derived("pods-by-label", lambda: _label_index(self.get("pods")))
        ns = kube.namespace(service)
        candidates = min((index.get((ns, k, v), ()) for k, v in selector.items()), key=len)
        return [p for p in candidates if kube.selector_matches(selector, kube.labels(p))]

    def endpoint_slices_for(self, service: Mapping[str, Any]) -> list[dict]:
        index = self.derived(
            "slices-by-service",
            lambda: _group(
                self.get("endpointslices"),
                lambda s: (kube.namespace(s), kube.labels(s).get("kubernetes.io/service-name", "")),
            ),
        )
        return index.get((kube.namespace(service), kube.name(service)), [])

    def endpoints_for(self, service: Mapping[str, Any]) -> list[dict]:
        index = self.derived("endpoints-by-name", lambda: _group(self.get("endpoints"), kube.key))
        return index.get(kube.key(service), [])

    def events_for(self, kind: str, obj: Mapping[str, Any]) -> list[dict]:
        """Events about one object, newest first."""
        index = self.derived("events-by-object", lambda: _group(self.get("events"), _involved_key))
        events = index.get((kind, kube.namespace(obj), kube.name(obj)), [])
        return sorted(events, key=lambda e: kube.event_time(e) or _EPOCH, reverse=True)

    def log_lines_for(self, service: Mapping[str, Any]) -> list[LogLine]:
        """Controller log lines that name this Service (`ns/name` as the provider writes it)."""
        index = self.derived("log-lines-by-service", lambda: _service_log_index(self.get("provider_logs")))
        return index.get(kube.key(service), [])

    def now(self) -> datetime:
        return self.get("now")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# How the provider names a Service in its log lines: `ensure(ns/name)`, `service(ns/name)`, `"ns/name"`.
_SERVICE_IN_LOG = re.compile(r"[(\"' \[=]([a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)[)\"' \]:,]")


def _label_index(pods: Iterable[dict]) -> dict[tuple[str, str, str], list[dict]]:
    index: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for pod in pods:
        ns = kube.namespace(pod)
        for k, v in kube.labels(pod).items():
            index[(ns, k, v)].append(pod)
    return index


def _group(objs: Iterable[dict], key_fn: Callable[[dict], Any]) -> dict[Any, list[dict]]:
    out: dict[Any, list[dict]] = defaultdict(list)
    for obj in objs:
        out[key_fn(obj)].append(obj)
    return out


def _involved_key(event: Mapping[str, Any]) -> tuple[str, str, str]:
    inv = event.get("involvedObject") or {}
    return (inv.get("kind") or "", inv.get("namespace") or kube.namespace(event), inv.get("name") or "")


def _service_log_index(logs: Iterable[Any]) -> dict[str, list[LogLine]]:
    index: dict[str, list[LogLine]] = defaultdict(list)
    for log in logs:
        for number, text in enumerate(log.text.splitlines(), start=1):
            if "/" not in text:
                continue
            seen = {m.group(1) for m in _SERVICE_IN_LOG.finditer(text)}
            for svc in seen:
                index[svc].append(LogLine(log.ref, number, text))
    return index


# ---- fact definitions (one source call each) ------------------------------------------------------------


def _kube(facts: Facts) -> KubeSource:
    if facts.kube is None:
        raise FactUnavailable("no Kubernetes source")
    return facts.kube


def _is_service_scope(facts: Facts) -> bool:
    return facts.target.scope == "service"


@fact("services")
def _services(facts: Facts) -> list[dict]:
    """The LoadBalancer Services under diagnosis: the one named, or all of them."""
    if _is_service_scope(facts):
        svc = _kube(facts).get_service(facts.target.namespace, facts.target.name)
        return [svc] if svc else []
    return [s for s in _kube(facts).list_services() if kube.is_load_balancer(s)]


@fact("pods")
def _pods(facts: Facts) -> list[dict]:
    if _is_service_scope(facts):
        services = facts.get("services")
        selector = kube.spec(services[0]).get("selector") if services else None
        if not selector:
            return []
        return _kube(facts).list_pods(facts.target.namespace, selector)
    return _kube(facts).list_pods()


@fact("endpointslices")
def _slices(facts: Facts) -> list[dict]:
    if _is_service_scope(facts):
        return _kube(facts).list_endpoint_slices(facts.target.namespace, facts.target.name)
    return _kube(facts).list_endpoint_slices()


@fact("endpoints")
def _endpoints(facts: Facts) -> list[dict]:
    if _is_service_scope(facts):
        return _kube(facts).list_endpoints(facts.target.namespace, facts.target.name)
    return _kube(facts).list_endpoints()


@fact("events")
def _events(facts: Facts) -> list[dict]:
    if _is_service_scope(facts):
        return _kube(facts).list_events(facts.target.namespace, "Service", facts.target.name)
    return _kube(facts).list_events()


@fact("nodes")
def _nodes(facts: Facts) -> list[dict]:
    return _kube(facts).list_nodes()


@fact("daemonsets")
def _daemonsets(facts: Facts) -> list[dict]:
    return _kube(facts).list_daemonsets()


@fact("system_pods")
def _system_pods(facts: Facts) -> list[dict]:
    """kube-system pods: tunnel agents, device plugins, cloud-node-manager, kured."""
    return _kube(facts).list_pods(SYSTEM_NAMESPACE)


@fact("system_deployments")
def _system_deployments(facts: Facts) -> list[dict]:
    return _kube(facts).list_deployments(SYSTEM_NAMESPACE)


@fact("provider_logs")
def _provider_logs(facts: Facts) -> list[Any]:
    """Tails of controller-manager / cloud-controller-manager logs (absent on AKS: the CCM runs off-cluster)."""
    return _kube(facts).controller_logs()


@fact("cluster")
def _cluster(facts: Facts) -> ClusterMeta:
    return _kube(facts).cluster_meta()


@fact("version")
def _version(facts: Facts) -> str:
    """The API server's version; a snapshot without one falls back to the newest kubelet version."""
    version = _kube(facts).server_version()
    if version:
        return version
    try:
        kubelets = [kube.status(n).get("nodeInfo", {}).get("kubeletVersion") for n in facts.get("nodes")]
    except FactUnavailable:
        kubelets = []
    from aksdoctor.versions import parse_version

    parsed = [(parse_version(v), v) for v in kubelets if v]
    parsed = [(p, v) for p, v in parsed if p]
    if not parsed:
        raise FactUnavailable("Kubernetes version unknown (no server version and no node kubeletVersion)")
    return max(parsed)[1]


@fact("cloud_config")
def _cloud_config(facts: Facts) -> Any:
    """The Azure cloud provider's config (a CloudConfig): --cloud-config FILE, else azure.json or the secret."""
    from aksdoctor.azure import cloud_config

    if facts.cloud_config_file:
        return cloud_config.load_file(facts.cloud_config_file)
    where, text = _kube(facts).cloud_config()
    return cloud_config.parse(text, where)


@fact("now")
def _now(facts: Facts) -> datetime:
    """The run's "now": the clock for live runs; capturedAt, else the newest event, for snapshots."""
    if facts._now is not None:
        return facts._now
    captured = kube.parse_time(facts.get("cluster").captured_at) if facts.kube else None
    if captured:
        return captured
    try:
        newest = max((t for t in map(kube.event_time, facts.get("events")) if t), default=None)
    except FactUnavailable:
        newest = None
    if newest is None:
        raise FactUnavailable("no capture time: snapshot.yaml has no capturedAt and there are no events")
    return newest


# ---- Azure facts (one list call per resource group and kind; never per VM, NIC or Service) ---------------------


def _azure(facts: Facts) -> AzureSource:
    if facts.azure is None:
        raise FactUnavailable(facts.azure_reason)
    return facts.azure


@fact("azure_scope")
def _azure_scope(facts: Facts) -> AzureScope:
    """Subscription, node resource group and the other groups to read, discovered from the cluster."""
    from aksdoctor.azure.discovery import discover

    _azure(facts)
    nodes = facts.get_or("nodes", ())
    services = facts.get_or("services", ())
    cluster = facts.get_or("cluster", ClusterMeta())
    scope = discover(nodes, services, cluster, **facts.azure_overrides)
    if not scope.subscription_id or not scope.node_resource_group:
        raise FactUnavailable(
            "cannot tell the cluster's Azure subscription and node resource group (no Azure providerIDs on the "
            "nodes); pass --subscription and --cluster/--resource-group"
        )
    return scope


def _azure_kind_fact(kind: str) -> FactFn:
    def read(facts: Facts) -> list[dict]:
        return _azure(facts).resources(kind, facts.get("azure_scope"))

    read.__doc__ = f"Azure {kind.replace('_', ' ')} in the cluster's resource groups."
    return read


for _kind in AZURE_KINDS:
    fact(f"azure_{_kind}")(_azure_kind_fact(_kind))


@fact("graph_objects")
def _graph_objects(facts: Facts) -> list[dict]:
    """Microsoft Graph objects of the service principal(s) the cluster signs in with; no call (and none) when it
    uses a managed identity."""
    from aksdoctor.azure.identity import service_principals

    app_ids = [sp.app_id for sp in service_principals(facts.get)]
    if not app_ids:
        return []
    return _azure(facts).graph_objects(app_ids)
