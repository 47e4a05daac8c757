"""The one snapshot source (README.md, "Snapshots"): a directory or .tar.gz, or a `kubectl cluster-info dump` tree.

Files are parsed only when a fact needs them: a file's name (`pods.json`) and folder (a namespace in a
cluster-info dump) tell which kinds and namespaces it can hold, so `lb` on a large snapshot reads its own
namespace and the nodes, not every pod and event of the cluster. Files that give no such hint are always read.
"""

from __future__ import annotations

import tarfile
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from aksdoctor import kube
from aksdoctor.azure import resources as arm
from aksdoctor.errors import BadInputError, FactUnavailable
from aksdoctor.kube import SYSTEM_NAMESPACE
from aksdoctor.sources.base import AZURE_KINDS, AzureScope, ClusterMeta, LogText
from aksdoctor.sources.documents import MalformedDocument, arm_records, kube_objects, list_kind, parse_text

KUBE_SUFFIXES = (".yaml", ".yml", ".json")
SECTION_DIRS = ("kubernetes", "azure", "graph", "logs", "files")
# Plural resource names (as kubectl and cluster-info dump name files) -> kind.
FILE_KINDS = {
    "services": "Service",
    "pods": "Pod",
    "nodes": "Node",
    "events": "Event",
    "endpoints": "Endpoints",
    "endpointslices": "EndpointSlice",
    "daemonsets": "DaemonSet",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "replicationcontrollers": "ReplicationController",
    "statefulsets": "StatefulSet",
    "configmaps": "ConfigMap",
    "namespaces": "Namespace",
    "secrets": "Secret",
}
CONTROLLER_LOG_MARKERS = ("cloud-controller-manager", "kube-controller-manager", "controller-manager")


@dataclass
class _KubeFile:
    path: str  # relative, for messages
    text_loader: Any
    kind_hint: str | None
    namespace_hint: str | None
    loaded: bool = False


class SnapshotSource:
    """Kubernetes, Azure, Graph, logs and node files read from a snapshot; implements `KubeSource`."""

    def __init__(self, location: str | Path):
        self.location = str(location)
        self.problems: list[str] = []  # malformed files, reported in the run's notes
        self.ignored: list[str] = []
        self._lock = threading.RLock()
        self._files: list[_KubeFile] = []
        self._objects: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self._captured: set[str] = set()
        self._azure: list[dict] | None = None
        self._graph: list[dict] | None = None
        self._azure_texts: list[tuple[str, Any]] = []
        self._graph_texts: list[tuple[str, Any]] = []
        self._logs: list[LogText] = []
        self._node_files: dict[str, str] = {}
        self._meta_doc: dict[str, Any] = {}
        self._has_kube = False
        self._index(Path(location))

    # ---- layout -------------------------------------------------------------------------------------

    def _index(self, root: Path) -> None:
        if not root.exists():
            raise BadInputError(f"snapshot not found: {root}")
        entries = _tar_entries(root) if root.is_file() else _dir_entries(root)
        if not entries:
            raise BadInputError(f"snapshot is empty: {root}")
        prefix = _snapshot_root(entries.keys()) if root.is_file() else PurePosixPath()
        inside: dict[str, tuple[tuple[str, ...], Any]] = {}
        for rel, loader in sorted(entries.items()):
            parts = PurePosixPath(rel).parts
            if parts[: len(prefix.parts)] == prefix.parts and len(parts) > len(prefix.parts):
                inside[rel] = (parts[len(prefix.parts) :], loader)
            else:
                self.ignored.append(rel)
        ours = bool({"snapshot.yaml", *SECTION_DIRS} & {parts[0] for parts, _ in inside.values()})
        for rel, (parts, loader) in inside.items():
            self._route(rel, parts, loader, ours)
        if not any(f.kind_hint == "Node" and f.namespace_hint is None for f in self._files):
            # Folders mean namespaces only in the cluster-info dump layout (nodes.json beside namespace folders).
            for entry in self._files:
                entry.namespace_hint = None

    def _route(self, rel: str, parts: tuple[str, ...], loader: Any, ours: bool) -> None:
        head, fname = parts[0], parts[-1]
        suffix = PurePosixPath(fname).suffix.lower()
        if ours and parts == ("snapshot.yaml",):
            self._meta_doc = self._read_meta(rel, loader)
        elif ours and head == "azure" and suffix == ".json":
            self._azure_texts.append((rel, loader))
        elif ours and head == "graph" and suffix == ".json":
            self._graph_texts.append((rel, loader))
        elif ours and head == "logs" and suffix in (".log", ".txt"):
            self._add_log(parts[1:], loader)
        elif ours and head == "files":
            self._node_files["/".join(parts[1:])] = loader
        elif (not ours or head == "kubernetes") and fname == "logs.txt" and len(parts) >= 3:
            # cluster-info dump: <ns>/<pod>/logs.txt
            inner = parts[1:] if ours else parts
            self._add_log((inner[-3], inner[-2] + ".log"), loader)
        elif (not ours or head == "kubernetes") and suffix in KUBE_SUFFIXES:
            inner = parts[1:] if ours else parts
            stem = PurePosixPath(fname).stem.lower()
            ns_hint = inner[-2] if len(inner) >= 2 else None
            self._files.append(_KubeFile(rel, loader, FILE_KINDS.get(stem), ns_hint))
            self._has_kube = True
        else:
            self.ignored.append(rel)

    def _read_meta(self, rel: str, loader: Any) -> dict[str, Any]:
        try:
            docs = parse_text(loader(), suffix=".yaml")
        except MalformedDocument as exc:
            self.problems.append(f"{rel}: {exc}")
            return {}
        if docs and isinstance(docs[0], dict):
            return docs[0]
        self.problems.append(f"{rel}: expected a mapping")
        return {}

    def _add_log(self, parts: tuple[str, ...], loader: Any) -> None:
        if len(parts) < 2:
            return
        namespace, rest = parts[0], parts[1:]
        pod = PurePosixPath(rest[0]).stem if len(rest) == 1 else rest[0]
        container = PurePosixPath(rest[1]).stem if len(rest) >= 2 else ""
        ref = f"{namespace}/{pod}" + (f"/{container}" if container else "")
        self._logs.append(LogText(ref=ref, text=loader, namespace=namespace, pod=pod, container=container))

    # ---- Kubernetes objects -------------------------------------------------------------------------

    def _objects_of(self, kind: str, namespace: str | None = None) -> list[dict]:
        """Objects of a kind (optionally one namespace); raises FactUnavailable when the kind was not captured."""
        with self._lock:
            for entry in self._files:
                if entry.loaded or entry.kind_hint not in (None, kind):
                    continue
                # cluster-info dump folders are namespaces: a hinted file of another namespace can't hold ours
                if namespace is not None and entry.kind_hint and entry.namespace_hint not in (None, namespace):
                    continue
                self._load(entry)
            if kind not in self._captured:
                raise FactUnavailable(f"not in snapshot: {FILE_KIND_NAMES.get(kind, kind)}")
            by_ns = self._objects[kind]
            if namespace is None:
                return [obj for objs in by_ns.values() for obj in objs]
            return list(by_ns.get(namespace, ()))

    def _load(self, entry: _KubeFile) -> None:
        entry.loaded = True
        try:
            docs = parse_text(entry.text_loader(), suffix=PurePosixPath(entry.path).suffix.lower())
        except (MalformedDocument, UnicodeDecodeError) as exc:
            self.problems.append(f"{entry.path}: {exc}")
            return
        if entry.kind_hint:
            self._captured.add(entry.kind_hint)
        for doc in docs:
            declared = list_kind(doc)
            if declared:
                self._captured.add(declared)
            for obj in kube_objects(doc):
                kind = obj["kind"]
                if kind == "Event":
                    obj = kube.normalize_event(obj)
                self._captured.add(kind)
                self._objects[kind][kube.namespace(obj)].append(obj)

    # ---- KubeSource ---------------------------------------------------------------------------------

    def server_version(self) -> str | None:
        return self.cluster_meta().kubernetes_version or None

    def get_service(self, namespace: str, name: str) -> dict | None:
        for svc in self._objects_of("Service", namespace):
            if kube.name(svc) == name:
                return svc
        return None

    def namespace_exists(self, namespace: str) -> bool | None:
        try:
            if any(kube.name(ns) == namespace for ns in self._objects_of("Namespace")):
                return True
        except FactUnavailable:
            pass
        with self._lock:
            self._load_all()
            return any(namespace in by_ns for by_ns in self._objects.values())

    def _load_all(self) -> None:
        for entry in self._files:
            if not entry.loaded:
                self._load(entry)

    def list_services(self) -> list[dict]:
        return self._objects_of("Service")

    def list_pods(self, namespace: str | None = None, selector: Mapping[str, str] | None = None) -> list[dict]:
        pods = self._objects_of("Pod", namespace)
        if selector is None:
            return pods
        return [p for p in pods if kube.selector_matches(selector, kube.labels(p))]

    def list_endpoint_slices(self, namespace: str | None = None, service: str | None = None) -> list[dict]:
        slices = self._objects_of("EndpointSlice", namespace)
        if service is None:
            return slices
        return [s for s in slices if kube.labels(s).get("kubernetes.io/service-name") == service]

    def list_endpoints(self, namespace: str | None = None, name: str | None = None) -> list[dict]:
        eps = self._objects_of("Endpoints", namespace)
        return eps if name is None else [e for e in eps if kube.name(e) == name]

    def list_nodes(self) -> list[dict]:
        return self._objects_of("Node")

    def list_events(
        self, namespace: str | None = None, involved_kind: str | None = None, involved_name: str | None = None
    ) -> list[dict]:
        events = self._objects_of("Event", namespace)
        if involved_kind is None and involved_name is None:
            return events
        return [
            e
            for e in events
            if (involved_kind is None or (e.get("involvedObject") or {}).get("kind") == involved_kind)
            and (involved_name is None or (e.get("involvedObject") or {}).get("name") == involved_name)
        ]

    def list_daemonsets(self) -> list[dict]:
        return self._objects_of("DaemonSet")

    def list_deployments(self, namespace: str | None = None) -> list[dict]:
        return self._objects_of("Deployment", namespace)

    def controller_logs(self) -> list[LogText]:
        wanted = [log for log in self._logs if any(m in log.pod for m in CONTROLLER_LOG_MARKERS)]
        if not wanted:
            raise FactUnavailable("not in snapshot: controller-manager or cloud-controller-manager logs")
        return [self._read_log(log) for log in wanted]

    def snapshot_notes(self) -> list[str]:
        """What a report should say about the snapshot itself: malformed files, and files it did not recognise."""
        notes = [f"malformed snapshot file {p}" for p in self.problems]
        if self.ignored:
            more = f" and {len(self.ignored) - 5} more" if len(self.ignored) > 5 else ""
            notes.append(
                f"ignored {len(self.ignored)} unrecognised snapshot file(s): {', '.join(self.ignored[:5])}{more}"
            )
        return notes

    def logs(self) -> list[LogText]:
        """Every log in the snapshot (kubelet journals, kube-system pods), read."""
        return [self._read_log(log) for log in self._logs]

    def _read_log(self, log: LogText) -> LogText:
        text = log.text if isinstance(log.text, str) else log.text()
        return LogText(ref=log.ref, text=text, namespace=log.namespace, pod=log.pod, container=log.container)

    def cluster_meta(self) -> ClusterMeta:
        doc = self._meta_doc
        cluster = doc.get("cluster") if isinstance(doc.get("cluster"), dict) else {}
        captured = doc.get("capturedAt")
        return ClusterMeta(
            name=str(cluster.get("name") or ""),
            resource_group=str(cluster.get("resourceGroup") or ""),
            subscription_id=str(cluster.get("subscriptionId") or ""),
            node_resource_group=str(cluster.get("nodeResourceGroup") or ""),
            location=str(cluster.get("location") or ""),
            kubernetes_version=str(doc.get("kubernetesVersion") or ""),
            captured_at=kube.format_time(captured) if hasattr(captured, "tzinfo") else str(captured or ""),
        )

    # ---- Azure, Graph, node files -------------------------------------------------------------------

    def azure_resources(self, resource_type: str | None = None) -> list[dict]:
        """ARM resources in REST shape, optionally of one (case-insensitive) type."""
        with self._lock:
            if self._azure is None:
                self._azure = [arm.normalize(r) for r in self._records(self._azure_texts, arm_records)]
        if resource_type is None:
            return list(self._azure)
        wanted = resource_type.lower()
        return [r for r in self._azure if arm.resource_type(r) == wanted]

    def resources(self, kind: str, scope: AzureScope) -> list[dict]:
        """AzureSource: every captured resource of the kind (a snapshot holds just this cluster's resources)."""
        found = self.azure_resources(AZURE_KINDS[kind])
        if not found and not self._azure_file_named(kind):
            raise FactUnavailable(f"not in snapshot: Azure {kind.replace('_', ' ')}")
        return found

    def _azure_file_named(self, kind: str) -> bool:
        """An empty list is still a capture when its file is named after the kind (loadBalancers.json)."""
        names = {kind.replace("_", ""), AZURE_KINDS[kind].rsplit("/", 1)[-1]}
        return any(
            PurePosixPath(rel).stem.lower().replace("_", "").replace("-", "") in names for rel, _ in self._azure_texts
        )

    def graph_objects(self, app_ids: Iterable[str] = ()) -> list[dict]:
        """Microsoft Graph application / servicePrincipal objects (those of `app_ids` when given)."""
        with self._lock:
            if self._graph is None:
                self._graph = list(self._records(self._graph_texts, _graph_records))
        if not self._graph_texts:
            raise FactUnavailable("not in snapshot: Microsoft Graph objects")
        wanted = {a.lower() for a in app_ids}
        return [g for g in self._graph if not wanted or str(g.get("appId", "")).lower() in wanted]

    def cloud_config(self) -> tuple[str, str]:
        """KubeSource: files/azure.json (the shallowest one), else the captured kube-system/azure-cloud-provider
        Secret's `cloud-config`."""
        from aksdoctor.azure import cloud_config

        found = sorted((n.count("/"), n) for n in self._node_files if PurePosixPath(n).name.lower() == "azure.json")
        if found:
            name = found[0][1]
            return f"azure.json (snapshot files/{name})", self._node_files[name]()
        try:
            secrets = self._objects_of("Secret", SYSTEM_NAMESPACE)
        except FactUnavailable:
            secrets = []
        where = f"Secret {SYSTEM_NAMESPACE}/{cloud_config.SECRET_NAME}"
        for secret in secrets:
            if kube.name(secret) == cloud_config.SECRET_NAME:
                return where, cloud_config.from_secret(secret, where)
        raise FactUnavailable(f"not in snapshot: files/azure.json or {where}")

    def node_file(self, name: str) -> str | None:
        loader = self._node_files.get(name)
        return loader() if loader else None

    @property
    def has_azure(self) -> bool:
        return bool(self._azure_texts)

    def _records(self, texts: Iterable[tuple[str, Any]], extract: Any) -> Iterable[dict]:
        for rel, loader in texts:
            try:
                docs = parse_text(loader(), suffix=".json")
            except (MalformedDocument, UnicodeDecodeError) as exc:
                self.problems.append(f"{rel}: {exc}")
                continue
            for doc in docs:
                yield from extract(doc)


FILE_KIND_NAMES = {kind: plural for plural, kind in FILE_KINDS.items()}


def _graph_records(doc: Any) -> Iterable[dict]:
    if isinstance(doc, list):
        for item in doc:
            yield from _graph_records(item)
    elif isinstance(doc, dict):
        if isinstance(doc.get("value"), list):
            yield from _graph_records(doc["value"])
        elif doc.get("appId") or doc.get("id"):
            yield doc


def _dir_entries(root: Path) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for path in root.rglob("*"):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            entries[rel] = _file_reader(path)
    return entries


def _file_reader(path: Path) -> Any:
    return lambda: path.read_text(encoding="utf-8")


def _tar_entries(path: Path) -> dict[str, Any]:
    """Members of a .tar.gz read into memory once (a snapshot is small enough; random access is not)."""
    try:
        with tarfile.open(path, "r:*") as tar:
            out: dict[str, Any] = {}
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    continue
                handle = tar.extractfile(member)
                data = handle.read() if handle else b""
                out[name.as_posix().removeprefix("./")] = _bytes_reader(data)
            return out
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadInputError(f"cannot read snapshot archive {path}: {exc}") from None


def _bytes_reader(data: bytes) -> Any:
    return lambda: data.decode("utf-8")


def _snapshot_root(paths: Iterable[str]) -> PurePosixPath:
    """Where the snapshot starts inside an archive: the shallowest folder holding snapshot.yaml, a section
    folder or a cluster-info dump's nodes.json (archives usually wrap everything in one folder)."""
    markers = {"snapshot.yaml", "nodes.json", *SECTION_DIRS}
    best: PurePosixPath | None = None
    for rel in paths:
        parts = PurePosixPath(rel).parts
        for depth, part in enumerate(parts):
            if part in markers:
                candidate = PurePosixPath(*parts[:depth])
                if best is None or len(candidate.parts) < len(best.parts):
                    best = candidate
                break
    return best if best is not None else PurePosixPath()
