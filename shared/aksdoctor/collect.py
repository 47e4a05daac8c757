"""Write a snapshot (README.md, "Snapshots") from a live cluster, secrets redacted, as a directory or a .tar.gz.

The bundle holds what the checks read, through the same source methods the facts use, so `--snapshot BUNDLE`
gives the findings the live run gave: Services, pods, EndpointSlices, Endpoints, nodes, events, DaemonSets,
Deployments, the controller-manager / cloud-controller-manager logs and the tunnel agents' log tails, the cloud
config as files/azure.json, and snapshot.yaml with what the source knew of the cluster. With an Azure source, also
every Azure kind the checks read (azure/<kind>.json, through the same facts and discovery as a live run) and the
service principal's Graph application (graph/applications.json). A kind that could not be read is left out (its
checks are skipped offline as they were live) and named in snapshot.yaml's notes.

Redaction (knowledge/collect.yaml): no Secret object is ever written; env values with secret-looking names,
values of secret-named keys (aadClientSecret), PEM blocks, bearer tokens, JWTs and `password=`-style text become
"<redacted>", inside last-applied-configuration annotations too; kubeconfig credentials are never read. Azure
resources go through the same redaction (tags included); Graph credentials keep keyId, name and dates only.
`anonymize` then replaces subscription and other GUIDs, IPv4 addresses, and the names of the cluster, resource
groups, nodes, namespaces and workloads with stand-ins, consistently across every file (a mapping that lives
only as long as the run).
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from aksdoctor import __version__, knowledge, kube, tunnel
from aksdoctor.errors import FactUnavailable, UsageError
from aksdoctor.kube import SYSTEM_NAMESPACE
from aksdoctor.sources.base import AZURE_KINDS, AzureSource, KubeSource, LogText

LOG_TAIL_LINES = 2000
ARCHIVE_ROOT = "aksdoctor-snapshot"
# file stem -> how the live source lists it (kubernetes/; the snapshot reader types files by stem)
KINDS: tuple[tuple[str, Callable[[KubeSource], list[dict]]], ...] = (
    ("nodes", lambda s: s.list_nodes()),
    ("services", lambda s: s.list_services()),
    ("deployments", lambda s: s.list_deployments()),
    ("daemonsets", lambda s: s.list_daemonsets()),
    ("pods", lambda s: s.list_pods()),
    ("endpointslices", lambda s: s.list_endpoint_slices()),
    ("endpoints", lambda s: s.list_endpoints()),
    ("events", lambda s: s.list_events()),
)


@dataclass
class CollectResult:
    path: str
    objects: dict[str, int] = field(default_factory=dict)  # file -> objects written
    logs: int = 0
    files: int = 0
    redacted: int = 0
    anonymized: bool = False
    notes: list[str] = field(default_factory=list)
    azure: dict[str, int] = field(default_factory=dict)  # azure/ and graph/ file -> objects written

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "objects": self.objects,
            "azure": self.azure,
            "logs": self.logs,
            "files": self.files,
            "redacted": self.redacted,
            "anonymized": self.anonymized,
            "notes": self.notes,
        }


def collect(
    source: KubeSource,
    destination: str | Path,
    *,
    archive: bool | None = None,
    anonymize: bool = False,
    now: datetime | None = None,
    cloud_config_file: str | None = None,
    log_tail: int = LOG_TAIL_LINES,
    azure: AzureSource | None = None,
    azure_overrides: Mapping[str, str] | None = None,
) -> CollectResult:
    """Read everything first (so anonymizing knows every name), then write the bundle atomically: nothing is
    left at `destination` unless the whole bundle was written. UnreachableError ends it (exit 3). `azure` adds the
    Azure resources and Graph objects (`azure_overrides`: --subscription, --cluster, -g)."""
    dest = Path(destination)
    archive = dest.name.endswith((".tar.gz", ".tgz")) if archive is None else archive
    _refuse_existing(dest)
    captured = now or datetime.now(timezone.utc)
    result = CollectResult(str(dest), anonymized=anonymize)
    objects: dict[str, list[dict]] = {}
    for stem, read in KINDS:
        try:
            objects[stem] = read(source)
        except FactUnavailable as exc:
            result.notes.append(f"{stem} not collected: {exc.reason}")
    logs = _logs(source, objects.get("pods"), log_tail, result.notes)
    read = _AlreadyRead(source, objects)
    node_files = _node_files(read, cloud_config_file, result.notes)  # type: ignore[arg-type]
    meta = _meta(source, captured, result.notes)
    clouds = _azure(read, azure, azure_overrides, cloud_config_file, captured, result.notes) if azure else {}

    redactor = Redactor(Anonymizer() if anonymize else None)
    if redactor.anonymizer:
        redactor.anonymizer.learn(objects, meta)
        redactor.anonymizer.learn_azure([r for items in clouds.values() for r in items])
    bundle = _TarBundle(dest) if archive else _DirBundle(dest)
    try:
        for stem, items in objects.items():
            kept = [o for o in (redactor.obj(item) for item in items) if o is not None]
            bundle.add(f"kubernetes/{stem}.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": kept}))
            result.objects[stem] = len(kept)
        for log in logs:
            parts = (
                [log.namespace, log.pod, f"{log.container}.log"] if log.container else [log.namespace, f"{log.pod}.log"]
            )
            bundle.add("logs/" + "/".join(redactor.path_part(p) for p in parts), redactor.text(log.text))
        result.logs = len(logs)
        for name, text in node_files.items():
            bundle.add(f"files/{name}", redactor.file(name, text))
        result.files = len(node_files)
        for rel, items in clouds.items():
            redact = redactor.graph if rel.startswith("graph/") else redactor.value
            bundle.add(rel, json.dumps([redact(item) for item in items], indent=1))
            result.azure[rel] = len(items)
        meta["collector"] = {
            "tool": "aksdoctor",
            "version": __version__,
            "anonymized": anonymize,
            "redacted": redactor.count,
            "notes": list(result.notes),
        }
        result.redacted = redactor.count
        bundle.add("snapshot.yaml", yaml.safe_dump(redactor.value(meta), sort_keys=False))
        bundle.commit()
    except BaseException:
        bundle.abort()
        raise
    return result


def default_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{ARCHIVE_ROOT}-{stamp}.tar.gz"


def _refuse_existing(dest: Path) -> None:
    if dest.is_dir() and any(dest.iterdir()):
        raise UsageError(f"{dest} exists and is not empty; name a new directory")
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists; name a new file")


# ---- reading --------------------------------------------------------------------------------------------------


def _logs(source: KubeSource, pods: list[dict] | None, tail: int, notes: list[str]) -> list[LogText]:
    """Controller-manager logs as the provider_logs fact reads them, plus the tunnel agents' log tails."""
    logs: list[LogText] = []
    try:
        logs += source.controller_logs()
    except FactUnavailable as exc:
        notes.append(f"controller logs not collected: {exc.reason}")
    if pods is None:
        return logs
    seen = {(log.namespace, log.pod, log.container) for log in logs}
    for pod in pods:
        if kube.namespace(pod) != SYSTEM_NAMESPACE or not tunnel.component_of(pod):
            continue
        for container in kube.containers(pod):
            key = (SYSTEM_NAMESPACE, kube.name(pod), container.get("name") or "")
            if key in seen:
                continue
            text = _pod_log(source, *key, tail=tail, notes=notes)
            if text is not None:
                logs.append(LogText(f"{key[0]}/{key[1]}/{key[2]}", text, *key))
    return logs


def _pod_log(source: Any, namespace: str, pod: str, container: str, *, tail: int, notes: list[str]) -> str | None:
    """One container's log tail through the live source's client; None (and a note) when it cannot be read."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    core = getattr(source, "core", None)
    if core is None:
        return None
    try:
        response = core.read_namespaced_pod_log(
            pod,
            namespace,
            container=container,
            tail_lines=tail,
            _preload_content=False,
            _request_timeout=getattr(source, "timeout", None),
        )
        try:
            return response.data.decode("utf-8", errors="replace")
        finally:
            response.release_conn()
    except (ApiException, HTTPError, OSError) as exc:
        status = getattr(exc, "status", None)
        notes.append(
            f"log of {namespace}/{pod}/{container} not collected: " + (f"HTTP {status}" if status else "unreachable")
        )
        return None


def _node_files(source: KubeSource, cloud_config_file: str | None, notes: list[str]) -> dict[str, str]:
    """The cloud config as files/azure.json: the file given, else what the source reads (azure-cloud-provider)."""
    if cloud_config_file:
        try:
            return {"azure.json": Path(cloud_config_file).expanduser().read_text(encoding="utf-8")}
        except (OSError, UnicodeDecodeError) as exc:
            notes.append(f"cloud config not collected: cannot read {cloud_config_file}: {exc}")
            return {}
    reader = getattr(source, "cloud_config", None)
    if reader is None:
        return {}
    try:
        _, text = reader()
    except FactUnavailable as exc:
        notes.append(f"cloud config not collected: {exc.reason}")
        return {}
    return {"azure.json": text}


def azure_file(kind: str) -> str:
    """azure/<kind>.json named as the snapshot reader recognises an empty capture: loadBalancers, vmssVms, ..."""
    first, *rest = kind.split("_")
    return f"azure/{first}{''.join(w.capitalize() for w in rest)}.json"


class _AlreadyRead:
    """The Kubernetes source, answering with the nodes and Services collect has read already (Azure discovery
    needs them) and reading the cloud config once (files/azure.json and the service principal both need it)."""

    def __init__(self, source: KubeSource, objects: Mapping[str, list[dict]]):
        self._source = source
        self._objects = objects
        self._cloud_config: tuple[str, str] | FactUnavailable | None = None

    def cloud_config(self) -> tuple[str, str]:
        if self._cloud_config is None:
            try:
                self._cloud_config = self._source.cloud_config()
            except FactUnavailable as exc:
                self._cloud_config = exc
        if isinstance(self._cloud_config, FactUnavailable):
            raise self._cloud_config
        return self._cloud_config

    def list_nodes(self) -> list[dict]:
        return self._objects["nodes"] if "nodes" in self._objects else self._source.list_nodes()

    def list_services(self) -> list[dict]:
        return self._objects["services"] if "services" in self._objects else self._source.list_services()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def _azure(
    source: _AlreadyRead,
    azure: AzureSource,
    overrides: Mapping[str, str] | None,
    cloud_config_file: str | None,
    captured: datetime,
    notes: list[str],
) -> dict[str, list[dict]]:
    """Every Azure kind and the Graph objects, read as a live `cluster` run reads them (same facts, discovery and
    call budget), in parallel. A kind that cannot be read is noted and left out."""
    from aksdoctor.facts import Facts
    from aksdoctor.model import Target

    facts = Facts(
        target=Target("cluster", source.cluster_meta().name),
        kube=source,  # type: ignore[arg-type]
        azure=azure,
        azure_overrides=overrides,
        now=captured,
        cloud_config_file=cloud_config_file,
    )
    wanted = {azure_file(kind): f"azure_{kind}" for kind in AZURE_KINDS}
    wanted["graph/applications.json"] = "graph_objects"
    facts.prefetch(wanted.values())
    out: dict[str, list[dict]] = {}
    for rel, name in wanted.items():
        try:
            out[rel] = list(facts.get(name))
        except FactUnavailable as exc:
            notes.append(f"{rel} not collected: {exc.reason}")
    notes.extend(f"Azure: {note}" for note in getattr(azure, "notes", ()))
    return out


def _meta(source: KubeSource, captured: datetime, notes: list[str]) -> dict[str, Any]:
    """snapshot.yaml: exactly what the live source knew of the cluster (so offline runs name it the same way)."""
    meta = source.cluster_meta()
    cluster = {
        "name": meta.name,
        "resourceGroup": meta.resource_group,
        "subscriptionId": meta.subscription_id,
        "nodeResourceGroup": meta.node_resource_group,
        "location": meta.location,
    }
    doc: dict[str, Any] = {"capturedAt": kube.format_time(captured), "cluster": {k: v for k, v in cluster.items() if v}}
    try:
        version = source.server_version()
    except FactUnavailable as exc:
        notes.append(f"server version not collected: {exc.reason}")
        version = None
    if version:
        doc["kubernetesVersion"] = version
    return doc


# ---- redaction ------------------------------------------------------------------------------------------------


def _rules() -> dict[str, Any]:
    return knowledge.load("collect")


def _words_pattern(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


class Redactor:
    """Walks objects and texts, replacing secret values; counts what it replaced."""

    def __init__(self, anonymizer: Anonymizer | None = None):
        rules = _rules()
        self.placeholder: str = rules["placeholder"]
        self.anonymizer = anonymizer
        self.count = 0
        self._key_words = _words_pattern(rules["key_words"])
        self._not_secret = tuple(s.lower() for s in rules["not_secret_suffixes"])
        self._env_words = _words_pattern(rules["env_words"])
        self._json_annotations = set(rules["json_annotations"])
        self._drop = set(rules["drop_metadata"])
        self._never = set(rules["never_collect"])
        flags = "|".join(re.escape(f) for f in rules["secret_flags"])
        self._bare_flag = re.compile(rf"--?(?:{flags})", re.IGNORECASE)
        patterns = [(re.compile(p["regex"]), int(p["keep"])) for p in rules["text_patterns"]]
        patterns.append((re.compile(rf"(?i)(--?(?:{flags})(?:=|\s+))[^\s\"',]+"), 1))
        self._subs = [(pattern.sub, self._replacer(keep)) for pattern, keep in patterns]
        self._secret_keys: dict[str, bool] = {}

    def secret_key(self, key: str) -> bool:
        known = self._secret_keys.get(key)
        if known is None:
            lowered = key.lower()
            known = not lowered.endswith(self._not_secret) and bool(self._key_words.search(lowered))
            self._secret_keys[key] = known
        return known

    def obj(self, obj: Mapping[str, Any]) -> dict | None:
        """A Kubernetes object, redacted (and anonymized); None for kinds never collected (Secrets)."""
        if obj.get("kind") in self._never:
            return None
        return self.value(obj)

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return self._mapping(value)
        if isinstance(value, list):
            return self._list(value)
        if isinstance(value, str):
            if key and self.secret_key(key) and value and value != self.placeholder:
                self.count += 1
                return self.placeholder
            return self.text(value)
        return value

    def _list(self, items: list[Any]) -> list[Any]:
        """Items in turn; in an argument list the value after a bare secret flag (`--token X`) goes too."""
        out: list[Any] = []
        after_flag = False
        for item in items:
            if after_flag and isinstance(item, str) and item and not item.startswith("-"):
                self.count += 1
                out.append(self.placeholder)
                after_flag = False
                continue
            after_flag = isinstance(item, str) and bool(self._bare_flag.fullmatch(item))
            out.append(self.value(item))
        return out

    def _mapping(self, value: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        is_env = (
            isinstance(value.get("name"), str)
            and isinstance(value.get("value"), str)
            and set(value) <= {"name", "value"}
        )
        for k, v in value.items():
            if k in self._drop:
                continue
            if k == "annotations" and isinstance(v, dict):
                out[k] = self._annotations(v)
            elif is_env and k == "value" and v and self._env_words.search(value["name"]):
                self.count += 1
                out[k] = self.placeholder
            else:
                out[k] = self.value(v, str(k))
        return out

    def _annotations(self, annotations: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in annotations.items():
            if key in self._json_annotations and isinstance(val, str):
                try:
                    parsed = json.loads(val)
                except ValueError:
                    self.count += 1  # cannot be checked for secrets: left out
                    continue
                out[key] = json.dumps(self.value(parsed), separators=(",", ":"))
            else:
                out[key] = self.value(val, key)
        return out

    def text(self, text: str) -> str:
        for sub, replace in self._subs:
            text = sub(replace, text)
        return self._anon(text)

    def _replacer(self, keep: int) -> Callable[[re.Match[str]], str]:
        """Keeps the first `keep` groups (a key and its `=`) and replaces the rest of the match."""

        def replace(match: re.Match[str]) -> str:
            kept = "".join(match.group(i) or "" for i in range(1, keep + 1))
            if match.group(0)[len(kept) :] == self.placeholder:
                return match.group(0)
            self.count += 1
            return kept + self.placeholder

        return replace

    def _anon(self, text: str) -> str:
        return self.anonymizer.text(text) if self.anonymizer else text

    def path_part(self, part: str) -> str:
        return self._anon(part)

    def graph(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A Microsoft Graph object: credential entries keep keyId, name and dates, never the secret, its hint or the
        certificate; then redacted like any object."""
        fields = set(_rules()["graph_credential_fields"])
        out = dict(obj)
        for key in ("passwordCredentials", "keyCredentials"):
            if isinstance(out.get(key), list):
                out[key] = [self._credential(c, fields) if isinstance(c, dict) else c for c in out[key]]
        return self.value(out)

    def _credential(self, cred: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
        out = dict(cred)
        for key in out:
            if key in fields and out[key] not in (None, "", self.placeholder):
                out[key] = self.placeholder
                self.count += 1
        return out

    def file(self, name: str, text: str) -> str:
        """A node file: a JSON/YAML mapping (azure.json) redacted by key, else as text."""
        suffix = PurePosixPath(name).suffix.lower()
        try:
            doc = yaml.safe_load(text) if suffix in (".json", ".yaml", ".yml") else None
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, dict):
            return json.dumps(self.value(doc), indent=2) + "\n"
        return self.text(text)


# ---- anonymization --------------------------------------------------------------------------------------------

_GUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_WORD = re.compile(r"[A-Za-z0-9]+")
_RESOURCE_GROUP = re.compile(r"/resourceGroups/([^/]+)", re.I)


class Anonymizer:
    """Consistent stand-ins for one run: the same original always becomes the same replacement."""

    def __init__(self) -> None:
        rules = _rules()["anonymize"]
        self._system_ns = set(rules["system_namespaces"])
        self._keep_ips = set(rules["keep_ips"])
        self._min_length = int(rules["min_name_length"])
        self._names: dict[str, str] = {}
        self._longest = 0  # most word runs in one registered name
        self._counters: Counter[str] = Counter()
        self._guids: dict[str, str] = {}
        self._ips: dict[str, str] = {}

    def learn(self, objects: Mapping[str, list[dict]], meta: Mapping[str, Any]) -> None:
        """Register the names that identify the customer: cluster, resource groups, nodes, namespaces, workloads."""
        cluster = meta.get("cluster") or {}
        self._add("cluster", cluster.get("name"))
        for key in ("resourceGroup", "nodeResourceGroup"):
            self._add("rg", cluster.get(key))
        for node in objects.get("nodes", ()):
            self._add("node", kube.name(node))
            self._add("rg", kube.labels(node).get("kubernetes.azure.com/cluster"))
        for stem in ("services", "deployments", "daemonsets", "pods", "events"):
            for obj in objects.get(stem, ()):
                ns = kube.namespace(obj)
                if ns and ns not in self._system_ns:
                    self._add("ns", ns)
                    if stem in ("services", "deployments", "daemonsets"):
                        self._add("app", kube.name(obj))

    def learn_azure(self, resources: Iterable[Mapping[str, Any]]) -> None:
        """Resource groups named in Azure ids (a bring-your-own VNet's or IPs' group identifies the customer too)."""
        for resource in resources:
            match = _RESOURCE_GROUP.search(str(resource.get("id") or ""))
            if match:
                self._add("rg", match.group(1))

    def _add(self, category: str, name: str | None) -> None:
        if not name or len(name) < self._min_length or name.lower() in self._names or name in self._system_ns:
            return
        self._counters[category] += 1
        self._names[name.lower()] = f"{category}-{self._counters[category]}"
        self._longest = max(self._longest, len(_WORD.findall(name)))

    def text(self, text: str) -> str:
        text = _GUID.sub(lambda m: self._guid(m.group(0)), text)
        text = _IPV4.sub(lambda m: self._ip(m.group(0)), text)
        return self._replace_names(text) if self._names else text

    def _replace_names(self, text: str) -> str:
        """Each registered name where it stands as a whole (not inside a longer alphanumeric word), longest first:
        `web` in `web-5c9d-x` and in `shop/web`, not in `webhook`. Word runs are tried, not every position."""
        runs = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        out: list[str] = []
        done = 0
        i = 0
        while i < len(runs):
            start = runs[i][0]
            for j in range(min(len(runs), i + self._longest) - 1, i - 1, -1):
                found = self._names.get(text[start : runs[j][1]].lower())
                if found:
                    out += [text[done:start], found]
                    done, i = runs[j][1], j
                    break
            i += 1
        return "".join(out) + text[done:] if out else text

    def _guid(self, guid: str) -> str:
        key = guid.lower()
        if key not in self._guids:
            self._guids[key] = f"00000000-0000-4000-8000-{len(self._guids) + 1:012d}"
        return self._guids[key]

    def _ip(self, text: str) -> str:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            return text  # 999.1.2.3 is a version or an id, not an address
        if text in self._keep_ips or address.is_loopback or address.is_link_local:
            return text
        if text not in self._ips:
            n = len(self._ips) + 1
            base = ipaddress.IPv4Address("10.0.0.0" if address.is_private else "198.18.0.0")
            self._ips[text] = str(base + n)
        return self._ips[text]


# ---- writing --------------------------------------------------------------------------------------------------


class _DirBundle:
    """Files written into a hidden sibling directory, renamed into place by `commit`."""

    def __init__(self, dest: Path):
        self.dest = dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))

    def add(self, rel: str, text: str) -> None:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(self) -> None:
        if self.dest.is_dir():
            self.dest.rmdir()  # empty (checked before reading)
        os.replace(self.tmp, self.dest)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class _TarBundle:
    """A .tar.gz with everything under one top folder, written to a temporary file renamed by `commit`."""

    def __init__(self, dest: Path):
        self.dest = dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        os.close(fd)
        self.tmp = Path(name)
        self.tar = tarfile.open(self.tmp, "w:gz")  # noqa: SIM115 (closed in commit/abort)
        self.mtime = time.time()

    def add(self, rel: str, text: str) -> None:
        data = text.encode("utf-8")
        info = tarfile.TarInfo(f"{ARCHIVE_ROOT}/{rel}")
        info.size = len(data)
        info.mtime = int(self.mtime)
        info.mode = 0o644
        self.tar.addfile(info, io.BytesIO(data))

    def commit(self) -> None:
        self.tar.close()
        os.replace(self.tmp, self.dest)

    def abort(self) -> None:
        self.tar.close()
        self.tmp.unlink(missing_ok=True)
