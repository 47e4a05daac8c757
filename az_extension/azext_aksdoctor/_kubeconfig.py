"""The kubeconfig ARM returns, turned into a Kubernetes API client without writing it anywhere.

ARM hands out the kubeconfig as bytes; it is parsed here, in memory. Entra ID clusters get a kubeconfig that runs
the kubelogin exec plugin: the caller replaces that with a token from az's own login (`exec_plugin` says when).
Python's ssl module reads CA and client certificates only from files: on Linux they go into memory-only files
(memfd, never on disk); elsewhere into a private temporary directory that is removed when the run ends.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from aksdoctor.errors import BadInputError


@dataclass(frozen=True)
class ClusterAccess:
    """What one kubeconfig context says about reaching and authenticating to the API server."""

    server: str
    namespace: str = "default"
    ca_data: bytes = b""
    insecure: bool = False
    tls_server_name: str = ""
    token: str = ""
    client_cert: bytes = b""
    client_key: bytes = b""
    exec_plugin: bool = False  # exec or auth-provider user (kubelogin, legacy azure): needs an Entra ID token
    user: str = ""  # the context's user entry (clusterUser_RG_NAME): who fix writes are made as, if nothing better


def parse_kubeconfig(data: bytes) -> ClusterAccess:
    """The current context of a kubeconfig document (YAML or JSON bytes)."""
    import yaml

    try:
        doc = yaml.safe_load(data)
        current = doc["current-context"]
        context = _named(doc, "contexts", current)["context"]
        cluster = _named(doc, "clusters", context["cluster"])["cluster"]
        user = _named(doc, "users", context["user"]).get("user") or {}
        return ClusterAccess(
            server=cluster["server"],
            namespace=context.get("namespace") or "default",
            ca_data=_b64(cluster.get("certificate-authority-data")),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            tls_server_name=cluster.get("tls-server-name") or "",
            token=user.get("token") or "",
            client_cert=_b64(user.get("client-certificate-data")),
            client_key=_b64(user.get("client-key-data")),
            exec_plugin="exec" in user or "auth-provider" in user,
            user=str(context["user"]),
        )
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BadInputError(f"the kubeconfig ARM returned cannot be used ({type(exc).__name__}: {exc})") from None


def _named(doc: dict, section: str, name: str) -> dict:
    for entry in doc.get(section) or ():
        if entry.get("name") == name:
            return entry
    raise KeyError(f"{section} has no entry named {name!r}")


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


@contextmanager
def api_client(access: ClusterAccess, *, bearer_token: str = "") -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` for the context; certificate material lives only while the block runs."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = access.server
    cfg.verify_ssl = not access.insecure
    cfg.retries = 0  # a dead API server fails the run at once instead of after urllib3's backoff
    if access.tls_server_name:
        cfg.tls_server_name = access.tls_server_name
    token = bearer_token or access.token
    if token:
        cfg.api_key = {"authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        if access.ca_data:
            cfg.ssl_ca_cert = stack.enter_context(secret_file(access.ca_data))
        if access.client_cert and access.client_key:
            cfg.cert_file = stack.enter_context(secret_file(access.client_cert))
            cfg.key_file = stack.enter_context(secret_file(access.client_key))
        api = client.ApiClient(cfg)
        try:
            yield api
        finally:
            api.close()


@contextmanager
def secret_file(data: bytes) -> Iterator[str]:
    """A path whose content is `data`, readable by this process only, gone when the block ends."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("aksdoctor")
        try:
            _write_all(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="aksdoctor-") as folder:  # mode 0700
        path = os.path.join(folder, "material")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        yield path


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
