"""Live Kubernetes source on the official `kubernetes` client.

One paginated LIST per fact kind, narrowed by field/label selectors for a single Service; no per-object GETs
in loops. Responses are read as raw JSON (`_preload_content=False`): deserialising 50,000 pods into client
model classes costs more than the network. Errors become the tool's own: 403 -> the fact is unavailable
(checks that need it are skipped, the rest runs), 401 / connection failure -> UnreachableError (exit 3).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from aksdoctor import kube
from aksdoctor.errors import BadInputError, FactUnavailable, UnreachableError
from aksdoctor.kube import SYSTEM_NAMESPACE
from aksdoctor.sources.base import ClusterMeta, LogText

PAGE_SIZE = 500
LOG_TAIL_LINES = 2000
CONTROLLER_POD_MARKERS = ("cloud-controller-manager", "kube-controller-manager")
DEFAULT_KUBECONFIG = "~/.kube/config"


class _NotFound(FactUnavailable):
    """404: the object does not exist, or the cluster does not serve the resource."""


class _Expired(FactUnavailable):
    """410 on a continue token: the list must start over."""


class KubeLiveSource:
    """Reads a live cluster through a configured `kubernetes.client.ApiClient`."""

    def __init__(
        self, api_client: Any, *, default_namespace: str = "default", cluster_name: str = "", timeout: float = 10.0
    ):
        from kubernetes import client

        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.discovery = client.DiscoveryV1Api(api_client)
        self.version_api = client.VersionApi(api_client)
        self.default_namespace = default_namespace
        self.cluster_name = cluster_name
        self.timeout = (min(float(timeout), 5.0), float(timeout))  # (connect, read): fail fast on a dead host
        self._system_pods: list[dict] | FactUnavailable | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_kubeconfig(
        cls, *, config_file: str | None = None, context: str | None = None, timeout: float = 10.0
    ) -> KubeLiveSource:
        """kubectl's rules: --kubeconfig, else $KUBECONFIG (several files merged), else ~/.kube/config, else
        in-cluster service account. Exec plugins (kubelogin) run through the client's ExecProvider."""
        from kubernetes import client

        if config_file and not os.path.isfile(os.path.expanduser(config_file)):
            raise BadInputError(f"kubeconfig not found: {config_file}")
        paths = config_file or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
        cfg = client.Configuration()
        if not config_file and not _any_file(paths) and "KUBERNETES_SERVICE_HOST" in os.environ:
            namespace, cluster = _load_incluster(cfg)
        else:
            namespace, cluster = _load_kubeconfig(cfg, paths, context)
        cfg.retries = 0  # a dead API server fails the run at once instead of after urllib3's backoff
        return cls(client.ApiClient(cfg), default_namespace=namespace, cluster_name=cluster, timeout=timeout)

    # ---- plumbing -----------------------------------------------------------------------------------

    def _fetch(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """Run one API call, read its body, and translate failures; `what` reads like "list pods in namespace shop"."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            response = fn(*args, _request_timeout=self.timeout, _preload_content=False, **kwargs)
            try:
                return response.data  # the body is read here, so a read timeout is translated too
            finally:
                response.release_conn()
        except ApiException as exc:
            if exc.status == 403:
                raise FactUnavailable(f"forbidden: {what}") from None
            if exc.status == 401:
                raise UnreachableError(
                    f"the API server at {self._host} rejected the credentials (401 Unauthorized); "
                    "refresh them (az aks get-credentials, kubelogin) and retry"
                ) from None
            if exc.status == 404:
                raise _NotFound(f"not served by this cluster: {what}") from None
            if exc.status == 410:
                raise _Expired(f"{what} failed: HTTP 410 {status_message(exc)}") from None
            if not exc.status:  # the client reports TLS failures as status 0
                raise UnreachableError(f"cannot reach the API server at {self._host}: {_reason(exc)}") from None
            raise FactUnavailable(f"{what} failed: HTTP {exc.status} {status_message(exc)}".rstrip()) from None
        except Urllib3Error as exc:
            raise UnreachableError(f"cannot reach the API server at {self._host}: {_reason(exc)}") from None
        except (OSError, ConfigException) as exc:  # refreshing a token (exec plugin, service account) failed
            raise UnreachableError(f"cannot authenticate to the API server: {_first_line(exc)}") from None

    def _get_json(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        data = self._fetch(what, fn, *args, **kwargs)
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise FactUnavailable(f"{what} failed: the answer is not a JSON object (a proxy in the way?)")
        return doc

    @property
    def _host(self) -> str:
        return self.api_client.configuration.host

    def _list(self, what: str, fn: Callable[..., Any], *args: Any, kind: str, **kwargs: Any) -> list[dict]:
        """All pages of a LIST (limit/continue); a continue token that expired restarts the list once."""
        items: list[dict] = []
        token: str | None = None
        restarted = False
        while True:
            try:
                page = self._get_json(what, fn, *args, limit=PAGE_SIZE, _continue=token, **kwargs)
            except _Expired:
                if not token or restarted:
                    raise
                items, token, restarted = [], None, True
                continue
            api_version = page.get("apiVersion")
            for item in page.get("items") or ():
                item.setdefault("apiVersion", api_version)  # list items come kind-less; kubectl -o json adds both
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    # ---- KubeSource ---------------------------------------------------------------------------------

    def server_version(self) -> str | None:
        return self._get_json("read the server version", self.version_api.get_code).get("gitVersion")

    def get_service(self, namespace: str, name: str) -> dict | None:
        what = f"get service {name} in namespace {namespace}"
        try:
            svc = self._get_json(what, self.core.read_namespaced_service, name, namespace)
        except _NotFound:
            return None
        svc.setdefault("kind", "Service")
        return svc

    def namespace_exists(self, namespace: str) -> bool | None:
        try:
            self._get_json(f"get namespace {namespace}", self.core.read_namespace, namespace)
        except _NotFound:
            return False
        except FactUnavailable:
            return None
        return True

    def list_services(self) -> list[dict]:
        return self._list("list services", self.core.list_service_for_all_namespaces, kind="Service")

    def list_pods(self, namespace: str | None = None, selector: Mapping[str, str] | None = None) -> list[dict]:
        if namespace == SYSTEM_NAMESPACE and selector is None:
            return self._kube_system_pods()
        return self._list_maybe_namespaced(
            "pods",
            namespace,
            self.core.list_namespaced_pod,
            self.core.list_pod_for_all_namespaces,
            kind="Pod",
            **({"label_selector": kube.label_selector_text(selector)} if selector else {}),
        )

    def _kube_system_pods(self) -> list[dict]:
        """kube-system pods are read once and shared by the system-pod fact and the log reader (a failure too)."""
        with self._lock:
            if self._system_pods is None:
                try:
                    self._system_pods = self._list(
                        f"list pods in namespace {SYSTEM_NAMESPACE}",
                        self.core.list_namespaced_pod,
                        SYSTEM_NAMESPACE,
                        kind="Pod",
                    )
                except FactUnavailable as exc:
                    self._system_pods = exc
            if isinstance(self._system_pods, FactUnavailable):
                raise FactUnavailable(self._system_pods.reason)
            return self._system_pods

    def list_endpoint_slices(self, namespace: str | None = None, service: str | None = None) -> list[dict]:
        extra = {"label_selector": f"kubernetes.io/service-name={service}"} if service else {}
        return self._list_maybe_namespaced(
            "endpointslices",
            namespace,
            self.discovery.list_namespaced_endpoint_slice,
            self.discovery.list_endpoint_slice_for_all_namespaces,
            kind="EndpointSlice",
            **extra,
        )

    def list_endpoints(self, namespace: str | None = None, name: str | None = None) -> list[dict]:
        extra = {"field_selector": f"metadata.name={name}"} if name else {}
        return self._list_maybe_namespaced(
            "endpoints",
            namespace,
            self.core.list_namespaced_endpoints,
            self.core.list_endpoints_for_all_namespaces,
            kind="Endpoints",
            **extra,
        )

    def list_nodes(self) -> list[dict]:
        return self._list("list nodes", self.core.list_node, kind="Node")

    def list_events(
        self, namespace: str | None = None, involved_kind: str | None = None, involved_name: str | None = None
    ) -> list[dict]:
        selectors = []
        if involved_kind:
            selectors.append(f"involvedObject.kind={involved_kind}")
        if involved_name:
            selectors.append(f"involvedObject.name={involved_name}")
        extra = {"field_selector": ",".join(selectors)} if selectors else {}
        events = self._list_maybe_namespaced(
            "events",
            namespace,
            self.core.list_namespaced_event,
            self.core.list_event_for_all_namespaces,
            kind="Event",
            **extra,
        )
        return [kube.normalize_event(e) for e in events]

    def list_daemonsets(self) -> list[dict]:
        return self._list("list daemonsets", self.apps.list_daemon_set_for_all_namespaces, kind="DaemonSet")

    def list_deployments(self, namespace: str | None = None) -> list[dict]:
        return self._list_maybe_namespaced(
            "deployments",
            namespace,
            self.apps.list_namespaced_deployment,
            self.apps.list_deployment_for_all_namespaces,
            kind="Deployment",
        )

    def controller_logs(self) -> list[LogText]:
        """Tails of (cloud-)controller-manager containers, when they run as visible pods (not on AKS).

        A container whose log cannot be read (not started yet, denied) is left out; the fact fails only when
        no log at all could be read.
        """
        pods = [p for p in self._kube_system_pods() if any(m in kube.name(p) for m in CONTROLLER_POD_MARKERS)]
        if not pods:
            raise FactUnavailable(
                "no controller-manager pods visible (on AKS the cloud controller manager runs in the managed "
                "control plane; its logs are in the cluster's diagnostic settings)"
            )
        logs: list[LogText] = []
        failures: list[FactUnavailable] = []
        for pod in pods:
            for container in kube.containers(pod):
                cname = container.get("name", "")
                ref = f"{kube.key(pod)}/{cname}"
                try:
                    data = self._fetch(
                        f"read logs of {ref}",
                        self.core.read_namespaced_pod_log,
                        kube.name(pod),
                        SYSTEM_NAMESPACE,
                        container=cname,
                        tail_lines=LOG_TAIL_LINES,
                    )
                except FactUnavailable as exc:
                    failures.append(exc)
                    continue
                text = data.decode("utf-8", errors="replace")
                logs.append(LogText(ref, text, SYSTEM_NAMESPACE, kube.name(pod), cname))
        if not logs and failures:
            raise FactUnavailable(failures[0].reason)
        return logs

    def cluster_meta(self) -> ClusterMeta:
        return ClusterMeta(name=self.cluster_name)

    def cloud_config(self) -> tuple[str, str]:
        """One GET of the kube-system/azure-cloud-provider secret (self-managed clusters). AKS has none: its cloud
        config lives on the nodes (/etc/kubernetes/azure.json) and in the managed control plane."""
        from aksdoctor.azure import cloud_config

        name = cloud_config.SECRET_NAME
        where = f"Secret {SYSTEM_NAMESPACE}/{name}"
        hint = "not self-managed or not readable; pass --cloud-config FILE (a copy of /etc/kubernetes/azure.json)"
        try:
            secret = self._get_json(
                f"get secret {name} in namespace {SYSTEM_NAMESPACE}",
                self.core.read_namespaced_secret,
                name,
                SYSTEM_NAMESPACE,
            )
        except _NotFound:
            raise FactUnavailable(f"no {where} ({hint})") from None
        except FactUnavailable as exc:
            raise FactUnavailable(f"{exc.reason} ({hint})") from None
        return where, cloud_config.from_secret(secret, where)

    def _list_maybe_namespaced(
        self,
        resource: str,
        namespace: str | None,
        namespaced: Callable[..., Any],
        everywhere: Callable[..., Any],
        *,
        kind: str,
        **kwargs: Any,
    ) -> list[dict]:
        if namespace:
            return self._list(f"list {resource} in namespace {namespace}", namespaced, namespace, kind=kind, **kwargs)
        return self._list(f"list {resource}", everywhere, kind=kind, **kwargs)


def _any_file(paths: str) -> bool:
    return any(os.path.isfile(os.path.expanduser(p)) for p in paths.split(os.pathsep) if p)


def _load_kubeconfig(cfg: Any, paths: str, context: str | None) -> tuple[str, str]:
    """Merge the kubeconfig file(s), pick the context, load its credentials into `cfg`: (namespace, cluster).

    The paths are resolved here, not by the client (which reads $KUBECONFIG once, at import), and parsed once.
    """
    import yaml
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    try:
        merger = KubeConfigMerger(paths)
        merged = merger.config
        if merged is None:
            raise BadInputError(
                f"no kubeconfig found (looked at {paths}) and not running inside a cluster; "
                "pass --kubeconfig or run: az aks get-credentials"
            )
        contexts = [c.value for c in merged.safe_get("contexts") or ()]
        wanted = context or _current_context(merger)
        if not wanted:
            raise BadInputError(f"kubeconfig has no current-context; pass --context ({_available(contexts)})")
        if not any(c.get("name") == wanted for c in contexts):
            raise BadInputError(f"context {wanted!r} not found in kubeconfig ({_available(contexts)})")
        loader = KubeConfigLoader(config_dict=merged, active_context=wanted, config_base_path=None)
        with _ExecPluginErrors() as exec_errors:
            loader.load_and_set(cfg)
        if exec_errors.messages:
            raise UnreachableError(f"cannot get credentials for context {wanted!r}: {exec_errors.messages[0]}")
    except yaml.YAMLError as exc:
        raise BadInputError(f"kubeconfig {paths} is not valid YAML: {_yaml_problem(exc)}") from None
    except ConfigException as exc:
        raise BadInputError(f"kubeconfig: {_first_line(exc)}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadInputError(f"kubeconfig {paths} is malformed ({type(exc).__name__}: {_first_line(exc)})") from None
    ctx = loader.current_context.get("context") or {}
    return ctx.get("namespace") or "default", ctx.get("cluster") or wanted


def _current_context(merger: Any) -> str | None:
    """kubectl keeps the first file's current-context when merging; the client's merger keeps the last one.
    https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/#merging-kubeconfig-files"""
    for path in merger.paths:
        current = (merger.config_files.get(path) or {}).get("current-context")
        if current:
            return current
    return None


def _load_incluster(cfg: Any) -> tuple[str, str]:
    """The pod's service account; the namespace file sits next to the token, as client-go reads it."""
    from kubernetes.config import incluster_config
    from kubernetes.config.config_exception import ConfigException

    try:
        incluster_config.load_incluster_config(client_configuration=cfg)
    except ConfigException as exc:
        raise BadInputError(f"in-cluster config: {_first_line(exc)}") from None
    ns_file = os.path.join(os.path.dirname(incluster_config.SERVICE_TOKEN_FILENAME), "namespace")
    try:
        with open(ns_file, encoding="utf-8") as fh:
            namespace = fh.read().strip()
    except OSError:
        namespace = ""
    return namespace or "default", "in-cluster"


class _ExecPluginErrors(logging.Handler):
    """The client logs a failing exec plugin (kubelogin) on the root logger and goes on without a token;
    catch that message so the user sees why, once, instead of a bare 401 later."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(_first_line(record.getMessage()))

    def __enter__(self) -> _ExecPluginErrors:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger().removeHandler(self)


def _available(contexts: list[dict]) -> str:
    names = ", ".join(sorted(c.get("name", "") for c in contexts))
    return f"available: {names}" if names else "it defines no contexts"


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or _first_line(exc)
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    return type(exc).__name__ if isinstance(exc, BaseException) else "(no message)"


def status_message(exc: Any) -> str:
    """The API server's message in an ApiException (its Status body), else the HTTP reason."""
    try:
        return json.loads(exc.body).get("message", "")
    except (TypeError, ValueError, AttributeError):
        return exc.reason or ""


def _reason(exc: BaseException) -> str:
    """The innermost cause of a urllib3 failure, without the connection-pool boilerplate."""
    inner = getattr(exc, "reason", None) or exc
    text = str(inner)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "connection timed out"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo failed" in text:
        return "host name not found"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    return _first_line(text.split(": ", 1)[-1])[:200]
