"""The Kubernetes write side of fix actions, on the official client.

Two halves: functions that build the exact requests a plan shows (label a node, delete a pod, JSON-patch or
create a DaemonSet), and a writer that sends such a request unchanged through the client's configured
`ApiClient` (same kubeconfig, exec plugins, TLS and proxies as the reads). Every write is guarded where a race
could do harm: a pod is deleted only if it is still the one planned (uid precondition), a kured lock is removed
only if it still holds the value read (JSON patch `test`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from aksdoctor import kube, shell
from aksdoctor.errors import UnreachableError
from aksdoctor.fixes.base import KUBERNETES, Identity, Request, Step, WriteError
from aksdoctor.sources.kube_live import status_message

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
SELF_SUBJECT_REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def _segment(value: str) -> str:
    return quote(value, safe="")


def pointer(*tokens: str) -> str:
    """A JSON pointer (RFC 6901): `~` and `/` inside a token are escaped, as annotation keys need."""
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


# ---- requests ---------------------------------------------------------------------------------------------


def label_node(name: str, labels: Mapping[str, str | None]) -> Request:
    """A merge patch of the node's labels (what `kubectl label` sends); None removes a label."""
    return Request(
        KUBERNETES,
        "PATCH",
        f"/api/v1/nodes/{_segment(name)}",
        {"metadata": {"labels": dict(labels)}},
        MERGE_PATCH,
    )


def delete_pod(namespace: str, name: str, uid: str) -> Request:
    """Delete one pod, only if it is still the pod with this uid (a recreated namesake is left alone)."""
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
    return Request(KUBERNETES, "DELETE", f"/api/v1/namespaces/{_segment(namespace)}/pods/{_segment(name)}", body)


def patch_daemonset(namespace: str, name: str, operations: Sequence[Mapping[str, Any]]) -> Request:
    """A JSON patch (RFC 6902) of a DaemonSet; put `test` operations first so a changed object is left alone."""
    path = f"/apis/apps/v1/namespaces/{_segment(namespace)}/daemonsets/{_segment(name)}"
    return Request(KUBERNETES, "PATCH", path, [dict(op) for op in operations], JSON_PATCH)


def patch_daemonset_command(namespace: str, name: str, operations: Sequence[Mapping[str, Any]]) -> str:
    """The `kubectl patch` that sends the same JSON patch as `patch_daemonset` (what a plan shows)."""
    return shell.command(
        "kubectl", "-n", namespace, "patch", "daemonset", name, "--type=json", "-p", shell.json_text(operations)
    )


def patch_daemonset_step(
    ds: Mapping[str, Any], operations: Sequence[Mapping[str, Any]], description: str, rollback: str
) -> Step:
    """A plan step JSON-patching a DaemonSet: the request and the command shown come from the same operations."""
    namespace, name = kube.namespace(ds), kube.name(ds)
    return Step(
        description=description,
        target=kube.ref("DaemonSet", ds),
        request=patch_daemonset(namespace, name, operations),
        command=patch_daemonset_command(namespace, name, operations),
        rollback=rollback,
    )


def create_daemonset(manifest: Mapping[str, Any]) -> Request:
    namespace = manifest["metadata"]["namespace"]
    return Request(KUBERNETES, "POST", f"/apis/apps/v1/namespaces/{_segment(namespace)}/daemonsets", dict(manifest))


# ---- the writer -------------------------------------------------------------------------------------------


class KubeWriter:
    """Sends planned requests through a configured `kubernetes.client.ApiClient`."""

    def __init__(self, api_client: Any, *, timeout: float = 10.0, kubeconfig_user: str = ""):
        self.api_client = api_client
        self.timeout = (min(float(timeout), 5.0), float(timeout))
        self.kubeconfig_user = kubeconfig_user  # the context's user entry: the identity when nothing better is known

    def execute(self, request: Request) -> Any:
        """One request, its body sent as planned; the response body parsed. 401 and network failures make the
        API unreachable (UnreachableError); any other refusal is a WriteError with the server's message."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
        from urllib3.exceptions import HTTPError as Urllib3Error

        if request.api != KUBERNETES:
            raise WriteError(f"not a Kubernetes request: {request.line}")
        headers = {"Accept": "application/json"}
        if request.body is not None:
            headers["Content-Type"] = request.content_type
        try:
            serialized = self.api_client.param_serialize(
                method=request.method,
                resource_path=request.path,
                query_params=list(request.query),
                header_params=headers,
                body=request.body,
                auth_settings=["BearerToken"],
            )
            response = self.api_client.call_api(*serialized, _request_timeout=self.timeout)
            data = response.read()
            if not 200 <= response.status <= 299:
                raise ApiException.from_response(http_resp=response, body=data.decode("utf-8", "replace"), data=None)
        except ApiException as exc:
            raise self._translate(exc, request) from None
        except Urllib3Error as exc:
            raise UnreachableError(f"cannot reach the API server at {self._host}: {_first_line(exc)}") from None
        except (OSError, ConfigException) as exc:
            raise UnreachableError(f"cannot authenticate to the API server: {_first_line(exc)}") from None
        try:
            return json.loads(data) if data else None
        except ValueError:
            return None

    def _translate(self, exc: Any, request: Request) -> Exception:
        if exc.status == 401:
            return UnreachableError(
                f"the API server at {self._host} rejected the credentials (401 Unauthorized); refresh them "
                "(az aks get-credentials, kubelogin) and retry"
            )
        if not exc.status:
            return UnreachableError(f"cannot reach the API server at {self._host}: {_first_line(exc)}")
        return WriteError(f"HTTP {exc.status}: {status_message(exc)}".rstrip(": "), exc.status)

    @property
    def _host(self) -> str:
        return self.api_client.configuration.host

    def identities(self, *, probe: bool) -> list[Identity]:
        """The user the API server sees (SelfSubjectReview, Kubernetes 1.28+) when `probe`; else, or when the
        review is not served or allowed, the kubeconfig context's user entry."""
        if probe:
            try:
                review = self.execute(
                    Request(
                        KUBERNETES,
                        "POST",
                        SELF_SUBJECT_REVIEW,
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                    )
                )
            except WriteError:
                review = None
            info = ((review or {}).get("status") or {}).get("userInfo") or {}
            if info.get("username"):
                return [Identity(KUBERNETES, info["username"], "SelfSubjectReview", tuple(info.get("groups") or ()))]
        user = self.kubeconfig_user or "unknown"
        return [Identity(KUBERNETES, user, "kubeconfig user entry")]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
