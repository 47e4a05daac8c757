"""What the engine needs from wherever facts come from: a live cluster, live Azure, or a snapshot.

Each method is one list-shaped read. Implementations raise `FactUnavailable` for a read that cannot be made
(forbidden, not captured) and `UnreachableError` when the whole endpoint is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class LogText:
    """A log (tail) of one container or node journal; `ref` is how evidence names it."""

    ref: str
    text: str
    namespace: str = ""
    pod: str = ""
    container: str = ""


@dataclass(frozen=True)
class ClusterMeta:
    """Who the cluster is, as far as the source knows (snapshot.yaml, kubeconfig, ARM)."""

    name: str = ""
    resource_group: str = ""
    subscription_id: str = ""
    node_resource_group: str = ""
    location: str = ""
    kubernetes_version: str = ""
    captured_at: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class KubeSource(Protocol):
    def server_version(self) -> str | None: ...

    def get_service(self, namespace: str, name: str) -> dict | None: ...

    def namespace_exists(self, namespace: str) -> bool | None: ...

    def list_services(self) -> list[dict]: ...

    def list_pods(self, namespace: str | None = None, selector: Mapping[str, str] | None = None) -> list[dict]: ...

    def list_endpoint_slices(self, namespace: str | None = None, service: str | None = None) -> list[dict]: ...

    def list_endpoints(self, namespace: str | None = None, name: str | None = None) -> list[dict]: ...

    def list_nodes(self) -> list[dict]: ...

    def list_events(
        self, namespace: str | None = None, involved_kind: str | None = None, involved_name: str | None = None
    ) -> list[dict]: ...

    def list_daemonsets(self) -> list[dict]: ...

    def list_deployments(self, namespace: str | None = None) -> list[dict]: ...

    def controller_logs(self) -> list[LogText]: ...

    def cluster_meta(self) -> ClusterMeta: ...
