"""Stateful loopback fake of the Kubernetes API server for tests that drive the official client.

No kube-apiserver can run here, so tests point the real ``kubernetes`` client at this fake
(plain HTTP on 127.0.0.1) through a kubeconfig from :meth:`KubeFake.write_kubeconfig`.
Unlike contract-only mocks, it evaluates label/field selectors and limit/continue paging the
way the API server does, so reader code is exercised against server-side semantics::

    with KubeFake([pod, node]) as kube:
        api = CoreV1Api(new_client_from_config(config_file=kube.write_kubeconfig(tmp_path / "kc")))

Writes (for fix actions) follow the API server too: POST creates (409 AlreadyExists), PATCH takes
JSON patch (RFC 6902, `test` ops answer 422 when they fail), JSON merge patch and strategic merge patch
(approximated as a merge patch: lists are replaced, which is what the server does for lists without a
patch merge key, such as tolerations), with a `metadata.resourceVersion` in a merge patch acting as a
precondition (409); DELETE honours `preconditions` (uid, resourceVersion) and removes at once (no graceful
termination). Every request keeps its body. :meth:`KubeFake.on` runs a callback after a successful write,
to play a controller (recreate a deleted pod, schedule a DaemonSet). PUT and server-side apply answer 405
and 415; watches are refused with 400. The 37.x client reads HTTP(S)_PROXY/ALL_PROXY from the
environment, so tests should clear them to stay on loopback.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import PathLike
from urllib.parse import parse_qsl, urlsplit

# What the Kubernetes (and Azure) clients read proxies from; tests clear them to stay on loopback.
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it, so tests can assert what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> object:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


# Field selectors each kind accepts, copied from the API server's field label conversions.
# None means apimachinery's default conversion, which has its own error message.
_POD_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
_BOOL_FIELDS = frozenset({"spec.hostNetwork", "spec.unschedulable"})


@dataclass(frozen=True)
class _Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    fields: tuple[str, ...] | None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def qualified(self) -> str:
        """Group-qualified plural, as the server names resources in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_RESOURCES = (
    _Resource(
        "", "v1", "services", "Service", True, ("metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type")
    ),
    _Resource("", "v1", "pods", "Pod", True, _POD_FIELDS),
    _Resource("", "v1", "endpoints", "Endpoints", True, None),
    _Resource("", "v1", "events", "Event", True, _EVENT_FIELDS),
    _Resource("", "v1", "nodes", "Node", False, ("metadata.name", "spec.unschedulable")),
    _Resource("", "v1", "namespaces", "Namespace", False, ("metadata.name", "status.phase")),
    _Resource("", "v1", "configmaps", "ConfigMap", True, None),
    _Resource("", "v1", "secrets", "Secret", True, ("metadata.name", "metadata.namespace", "type")),
    _Resource("apps", "v1", "daemonsets", "DaemonSet", True, None),
    _Resource("apps", "v1", "deployments", "Deployment", True, None),
    _Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, None),
)
_BY_KIND = {(r.api_version, r.kind): r for r in _RESOURCES}
_BY_PATH = {(r.prefix, r.plural): r for r in _RESOURCES}
_PODS = _BY_PATH[("/api/v1", "pods")]

_EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list "
    "- objects that were created, modified, or deleted between the time the first chunk was returned "
    "and now may show up in the list."
)
# Reason/message the API server uses where they differ from the HTTP reason phrase.
_DEFAULT_FAILURES = {
    410: ("Expired", _EXPIRED_MESSAGE),
    500: ("InternalError", "Internal error occurred: injected by KubeFake"),
}
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"

_LABEL_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_LABEL_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_REQ = re.compile(rf"\s*({_LABEL_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*")
_EQ_REQ = re.compile(rf"\s*({_LABEL_KEY})\s*(==|!=|=)\s*({_LABEL_VALUE})\s*")
_EXISTS_REQ = re.compile(rf"\s*(!?)\s*({_LABEL_KEY})\s*")
_TOP_LEVEL_COMMA = re.compile(r",(?![^()]*\))")
_FIELD_TERM = re.compile(r"([^=!]*)(!=|==|=)(.*)")


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A ``metav1.Status`` failure body shaped like the API server's."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class _ApiError(Exception):
    """Raised inside request handling; becomes a Status response."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, details)


def _not_found(res: _Resource, name: str) -> _ApiError:
    details = {"name": name, "group": res.group, "kind": res.plural}
    return _ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', {k: v for k, v in details.items() if v})


def _bad_request(message: str) -> _ApiError:
    return _ApiError(400, "BadRequest", message)


def _no_route() -> _ApiError:
    return _ApiError(404, "NotFound", "the server could not find the requested resource")


def _parse_label_selector(text: str) -> list[tuple[str, str, frozenset[str]]]:
    """Parse a labelSelector into (key, op, values) requirements; all must hold."""
    requirements = []
    for part in _TOP_LEVEL_COMMA.split(text) if text.strip() else []:
        if m := _SET_REQ.fullmatch(part):
            values = frozenset(v.strip() for v in m[3].split(","))
            if not all(re.fullmatch(_LABEL_VALUE, v) and v for v in values):
                raise _bad_request(f"unable to parse requirement: invalid values in {part.strip()!r}")
            requirements.append((m[1], m[2], values))
        elif m := _EQ_REQ.fullmatch(part):
            requirements.append((m[1], "!=" if m[2] == "!=" else "in", frozenset({m[3]})))
        elif m := _EXISTS_REQ.fullmatch(part):
            requirements.append((m[2], "!" if m[1] else "exists", frozenset()))
        else:
            raise _bad_request(f"unable to parse requirement: {part.strip()!r}")
    return requirements


def _labels_match(labels: dict[str, str], requirements: list[tuple[str, str, frozenset[str]]]) -> bool:
    for key, op, values in requirements:
        if op == "in":
            ok = labels.get(key) in values
        elif op in ("!=", "notin"):
            ok = labels.get(key) not in values
        else:
            ok = (key in labels) == (op == "exists")
        if not ok:
            return False
    return True


def _parse_field_selector(text: str, res: _Resource) -> list[tuple[str, bool, str]]:
    """Parse a fieldSelector into (label, wants_equal, value), rejecting labels the kind lacks."""
    terms = []
    for term in text.split(",") if text else []:
        m = _FIELD_TERM.fullmatch(term)
        if not m:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        label = m[1].strip()
        if res.fields is None and label not in ("metadata.name", "metadata.namespace"):
            raise _bad_request(f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        if res.fields is not None and label not in res.fields:
            raise _bad_request(f"field label not supported: {label}")
        terms.append((label, m[2] != "!=", m[3]))
    return terms


def _field_value(obj: dict, label: str) -> str:
    """The string the server compares a field selector against (absent fields read as empty)."""
    if label == "source":  # the server falls back to the reporting controller
        return _field_value(obj, "source.component") or _field_value(obj, "reportingComponent")
    value: object = obj
    for part in label.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or (value is None and label in _BOOL_FIELDS):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _encode_continue(key: tuple[str, str]) -> str:
    """Opaque to clients, like the server's; it names the last key served (paging is keyed, not snapshotted)."""
    return base64.urlsafe_b64encode(json.dumps({"start": list(key)}).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad_request(f"invalid continue token: continue key is not valid: {exc}") from None
    return namespace, name


def _int_param(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise _bad_request(f"invalid value for {name}: {query[name]!r}") from None


def _conflict(message: str, res: _Resource, name: str) -> _ApiError:
    details = {"name": name, "group": res.group, "kind": res.plural}
    return _ApiError(409, "Conflict", message, {k: v for k, v in details.items() if v})


def _pointer(path: str) -> list[str]:
    """A JSON pointer (RFC 6901) split into unescaped tokens."""
    if path and not path.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]] if path else []


def _unprocessable(message: str) -> _ApiError:
    # patch.go answers a patch that cannot be applied with a bare 422 carrying the library's error text.
    return _ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {message}")


def _resolve(doc: object, tokens: list[str], path: str) -> tuple[object, str]:
    """The container holding the last token, and that token."""
    target = doc
    for token in tokens[:-1]:
        target = _get_child(target, token, path)
    return target, tokens[-1]


def _json_patch(doc: dict, ops: object) -> dict:
    """RFC 6902 add / remove / replace / test on a copy of `doc`."""
    if not isinstance(ops, list):
        raise _bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        tokens = _pointer(path)
        if not tokens:
            raise _unprocessable(f"unsupported whole-document {kind} at {path!r}")
        parent, last = _resolve(doc, tokens, path)
        if kind == "test":
            if _get_child(parent, last, path) != op.get("value"):
                raise _unprocessable(f"testing value {path} failed: test failed")
        elif kind == "remove":
            _get_child(parent, last, path)
            del parent[int(last) if isinstance(parent, list) else last]
        elif kind == "replace":
            _get_child(parent, last, path)
            parent[int(last) if isinstance(parent, list) else last] = copy.deepcopy(op.get("value"))
        elif kind == "add":
            value = copy.deepcopy(op.get("value"))
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), value)
            elif isinstance(parent, dict):
                parent[last] = value
            else:
                raise _unprocessable(f"doc is missing path: {path!r}")
        else:
            raise _unprocessable(f"Unexpected kind: {kind}")
    return doc


def _get_child(parent: object, token: str, path: str) -> object:
    if isinstance(parent, dict) and token in parent:
        return parent[token]
    if isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
        return parent[int(token)]
    raise _unprocessable(f"doc is missing path: {path!r}")


def _merge_patch(doc: object, patch: object) -> object:
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


@dataclass
class _Failure:
    prefix: str
    code: int
    body: dict
    when: Callable[[RecordedRequest], bool] | None
    remaining: int | None


Reaction = Callable[["KubeFake", RecordedRequest, dict], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: KubeFake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # bounds a handler thread whose client never sends a request

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean; ``KubeFake.requests`` is the log."""


class KubeFake:
    """In-memory API server on 127.0.0.1 serving core/v1, apps/v1 and discovery.k8s.io/v1 reads.

    ``page_size_cap`` shortens pages below the client's ``limit`` (the server may do that), so
    tests prove the caller follows ``continue`` instead of counting items. ``require_token``
    makes every request without ``Authorization: Bearer <token>`` fail with 401.
    """

    user = "fake-user"  # the identity named in 403 messages and returned by SelfSubjectReview
    groups = ("system:authenticated",)

    def __init__(
        self,
        objects: Iterable[dict] = (),
        *,
        version: str = "v1.30.4",
        page_size_cap: int | None = None,
        require_token: str | None = None,
    ):
        self.version = version
        self.page_size_cap = page_size_cap
        self.require_token = require_token
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._rv = 1000
        self._objects: dict[_Resource, dict[tuple[str, str], dict]] = {r: {} for r in _RESOURCES}
        self._forbidden: list[tuple[str, str | None, str, str | None]] = []
        self._failures: list[_Failure] = []
        self._reactions: list[tuple[str, str, Reaction]] = []
        self._logs: dict[tuple[str, str, str | None], str] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for obj in objects:
            self.add(obj)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> KubeFake:
        if self._server is not None:
            raise RuntimeError("KubeFake already started")
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # shutdown() waits up to one poll interval; a short one keeps stop() (and each test) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="kubefake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> KubeFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("KubeFake not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scenario setup --------------------------------------------------------------------

    def add(self, obj: dict) -> None:
        """Store (or replace) an object, filling in the metadata the server would assign."""
        res = _BY_KIND.get((obj.get("apiVersion"), obj.get("kind")))
        if res is None:
            raise ValueError(f"KubeFake does not serve {obj.get('apiVersion')} {obj.get('kind')}")
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError("object needs metadata.name")
        if res.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), meta["name"])
        with self._lock:
            self._rv += 1
            meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{res.qualified}/{key[0]}/{key[1]}")))
            meta.setdefault("resourceVersion", str(self._rv))
            meta.setdefault("creationTimestamp", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._objects[res][key] = obj

    def forbid(
        self, resource: str, namespace: str | None = None, verb: str = "list", *, name: str | None = None
    ) -> None:
        """Deny ``verb`` on ``resource`` (a plural such as "pods" or "pods/log") like RBAC would.

        A namespace-limited denial also denies the cluster-wide request, since no cluster-wide
        grant can exist while one namespace is denied. ``name`` limits the denial to one object
        (RBAC ``resourceNames``), e.g. ``forbid("nodes", verb="patch", name="vk-2")``.
        """
        self._forbidden.append((resource, namespace, verb, name))

    def on(self, method: str, path_prefix: str, reaction: Reaction) -> None:
        """After a successful ``method`` request under ``path_prefix``, call ``reaction(fake, request, obj)``
        with the object written (for DELETE: the object as it was). Reactions play controllers."""
        self._reactions.append((method.upper(), path_prefix, reaction))

    def stored(self, kind: str, name: str, namespace: str = "") -> dict | None:
        """A copy of the object as the fake holds it now (None when absent)."""
        res = next(r for r in _RESOURCES if r.kind == kind)
        with self._lock:
            obj = self._objects[res].get((namespace if res.namespaced else "", name))
        return copy.deepcopy(obj)

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        """Drop an object (as a controller or the garbage collector would)."""
        res = next(r for r in _RESOURCES if r.kind == kind)
        with self._lock:
            self._objects[res].pop((namespace if res.namespaced else "", name), None)

    @property
    def writes(self) -> list[RecordedRequest]:
        """Every request that was not a GET, in order."""
        return [r for r in self.requests if r.method != "GET"]

    def fail(
        self,
        path_prefix: str,
        status: int,
        body: dict | None = None,
        *,
        when: Callable[[RecordedRequest], bool] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer requests whose path starts with ``path_prefix`` with ``status``.

        ``when`` narrows the match (e.g. ``lambda r: "continue" in r.query`` for an expired
        token on later pages); ``times`` limits how often it fires, to test retries. The default
        body is the Status the server sends for that code (410 → reason "Expired").
        """
        if body is None:
            phrase = HTTPStatus(status).phrase
            reason, message = _DEFAULT_FAILURES.get(status, (phrase.replace(" ", ""), phrase))
            body = status_body(status, reason, message)
        self._failures.append(_Failure(path_prefix, status, body, when, times))

    def set_log(self, namespace: str, pod: str, container: str | None, text: str) -> None:
        """Set a container's log; ``container=None`` serves requests that name no container."""
        with self._lock:
            self._logs[(namespace, pod, container)] = text

    def write_kubeconfig(
        self,
        path: str | PathLike[str],
        *,
        context: str = "fake",
        namespace: str | None = None,
        token: str | None = "fake-token",
    ) -> str:
        """Write a kubeconfig (JSON is valid YAML) pointing at this fake; return its path."""
        ctx: dict[str, str] = {"cluster": context, "user": context}
        if namespace is not None:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token} if token else {}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2)
        return str(path)

    # -- request handling ------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            handler.command,
            url.path,
            dict(parse_qsl(url.query, keep_blank_values=True)),
            dict(handler.headers.items()),
            handler.rfile.read(length) if length else b"",
        )
        self.requests.append(request)
        try:
            code, payload = self._respond(request)
        except _ApiError as err:
            code, payload = err.code, err.body
        except Exception as exc:  # a fake bug must reach the test as a response, not a dropped socket
            code, payload = 500, status_body(500, "InternalError", f"KubeFake: {exc!r}")
        if isinstance(payload, str):
            data, content_type = payload.encode(), "text/plain"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _respond(self, req: RecordedRequest) -> tuple[int, dict | str]:
        if failure := self._take_failure(req):
            return failure.code, failure.body
        if self.require_token is not None and req.header("Authorization") != f"Bearer {self.require_token}":
            raise _ApiError(401, "Unauthorized", "Unauthorized")
        if req.method == "POST" and req.path.rstrip("/") == _SELF_SUBJECT_REVIEWS:
            return 201, self._self_subject_review()
        if req.method in ("POST", "PATCH", "DELETE"):
            return self._write(req)
        if req.method != "GET":
            raise _ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if req.path in ("/version", "/version/"):
            return 200, self._version_info()
        if req.query.get("watch") in ("true", "1"):
            raise _bad_request("KubeFake does not support watch")
        res, namespace, name, sub = self._route(req.path)
        verb = "list" if name is None else "get"
        self._authorize(res, namespace, name, f"{res.plural}/{sub}" if sub else res.plural, verb)
        if sub == "log":
            return 200, self._log(namespace, name, req.query)
        if name is not None:
            with self._lock:
                obj = self._objects[res].get((namespace or "", name))
            if obj is None:
                raise _not_found(res, name)
            return 200, copy.deepcopy(obj)
        return 200, self._list(res, namespace, req.query)

    def _take_failure(self, req: RecordedRequest) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if (
                    failure.remaining != 0
                    and req.path.startswith(failure.prefix)
                    and (failure.when is None or failure.when(req))
                ):
                    if failure.remaining is not None:
                        failure.remaining -= 1
                    return failure
        return None

    def _version_info(self) -> dict:
        major, minor = self.version.lstrip("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2024-08-14T19:00:00Z",
            "goVersion": "go1.22.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    @staticmethod
    def _route(path: str) -> tuple[_Resource, str | None, str | None, str | None]:
        """Split an API path into (resource, namespace, name, subresource)."""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            prefix, rest = f"/api/{parts[1]}", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            prefix, rest = f"/apis/{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise _no_route()
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise _no_route()
        plural, name, sub = (*rest, None, None)[:3]
        res = _BY_PATH.get((prefix, plural))
        if (
            res is None
            or (namespace is not None and not res.namespaced)
            or (namespace is None and res.namespaced and name is not None)
            or (sub is not None and (res, sub) != (_PODS, "log"))
        ):
            raise _no_route()
        return res, namespace, name, sub

    def _authorize(self, res: _Resource, namespace: str | None, name: str | None, resource: str, verb: str) -> None:
        for denied, denied_ns, denied_verb, denied_name in self._forbidden:
            if (
                (denied, denied_verb) == (resource, verb)
                and (denied_ns is None or namespace in (None, denied_ns))
                and denied_name in (None, name)
            ):
                scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
                target = f'{res.qualified} "{name}"' if name else res.qualified
                message = (
                    f'{target} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" '
                    f'in API group "{res.group}" {scope}'
                )
                details = {"name": name, "group": res.group, "kind": res.plural}
                raise _ApiError(403, "Forbidden", message, {k: v for k, v in details.items() if v})

    # -- writes ----------------------------------------------------------------------------

    def _self_subject_review(self) -> dict:
        return {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": self.user, "groups": list(self.groups)}},
        }

    def _write(self, req: RecordedRequest) -> tuple[int, dict]:
        res, namespace, name, sub = self._route(req.path)
        if sub is not None:
            raise _ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        try:
            body = req.json()
        except ValueError as exc:
            raise _bad_request(f"invalid JSON body: {exc}") from None
        if req.method == "POST":
            if name is not None:
                raise _ApiError(405, "MethodNotAllowed", "POST must name a collection, not an object")
            self._authorize(res, namespace, None, res.plural, "create")
            code, obj = 201, self._create(res, namespace, body)
        elif name is None:
            raise _ApiError(405, "MethodNotAllowed", f"{req.method} on a collection is not supported by KubeFake")
        elif req.method == "PATCH":
            self._authorize(res, namespace, name, res.plural, "patch")
            code, obj = 200, self._patch(res, namespace or "", name, req.header("Content-Type") or "", body)
        else:
            self._authorize(res, namespace, name, res.plural, "delete")
            code, obj = 200, self._delete(res, namespace or "", name, body)
        for method, prefix, reaction in list(self._reactions):
            if method == req.method and req.path.startswith(prefix):
                reaction(self, req, copy.deepcopy(obj))
        return code, obj

    def _create(self, res: _Resource, namespace: str | None, body: object) -> dict:
        if not isinstance(body, dict) or (body.get("apiVersion"), body.get("kind")) != (res.api_version, res.kind):
            raise _bad_request(f"the body must be a {res.api_version} {res.kind}")
        meta = body.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace") not in (None, namespace):
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        name = meta.get("name") or ""
        if not name:
            raise _ApiError(
                422, "Invalid", f'{res.kind} "" is invalid: metadata.name: Required value: name is required'
            )
        with self._lock:
            if (namespace or "", name) in self._objects[res]:
                details = {"name": name, "group": res.group, "kind": res.plural}
                raise _ApiError(
                    409,
                    "AlreadyExists",
                    f'{res.qualified} "{name}" already exists',
                    {k: v for k, v in details.items() if v},
                )
        if isinstance(body.get("spec"), dict):
            meta.setdefault("generation", 1)
        self.add(body)
        return self.stored(res.kind, name, namespace or "") or {}

    def _patch(self, res: _Resource, namespace: str, name: str, content_type: str, body: object) -> dict:
        kind = content_type.split(";")[0].strip().lower()
        with self._lock:
            current = self._objects[res].get((namespace, name))
            if current is None:
                raise _not_found(res, name)
            if kind == JSON_PATCH:
                patched = _json_patch(current, body)
            elif kind in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
                wanted = ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
                if wanted and wanted != current["metadata"].get("resourceVersion"):
                    raise _conflict(
                        f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been modified; '
                        "please apply your changes to the latest version and try again",
                        res,
                        name,
                    )
                patched = _merge_patch(current, body)
            else:
                raise _ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - "
                    f"accepted media types include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}",
                )
            if not isinstance(patched, dict) or (patched.get("metadata") or {}).get("name") != name:
                raise _unprocessable("the patch changed the object's name or shape")
            self._rv += 1
            patched["metadata"]["resourceVersion"] = str(self._rv)
            if "generation" in patched["metadata"] and patched.get("spec") != current.get("spec"):
                patched["metadata"]["generation"] += 1
            self._objects[res][(namespace, name)] = patched
            return copy.deepcopy(patched)

    def _delete(self, res: _Resource, namespace: str, name: str, body: object) -> dict:
        preconditions = (body or {}).get("preconditions") or {} if isinstance(body, dict) else {}
        with self._lock:
            current = self._objects[res].get((namespace, name))
            if current is None:
                raise _not_found(res, name)
            meta = current["metadata"]
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                if preconditions.get(field) and preconditions[field] != meta.get(field):
                    raise _conflict(
                        f"Precondition failed: {label} in precondition: {preconditions[field]}, "
                        f"{label} in object meta: {meta.get(field)}",
                        res,
                        name,
                    )
            del self._objects[res][(namespace, name)]
            return copy.deepcopy(current)

    def _list(self, res: _Resource, namespace: str | None, query: dict[str, str]) -> dict:
        labels = _parse_label_selector(query.get("labelSelector", ""))
        fields = _parse_field_selector(query.get("fieldSelector", ""), res)
        limit = _int_param(query, "limit")
        start = _decode_continue(query["continue"]) if query.get("continue") else None
        with self._lock:
            rv = self._rv
            candidates = sorted(self._objects[res].items())
        matched = [
            (key, obj)
            for key, obj in candidates
            if (namespace is None or key[0] == namespace)
            and (start is None or key > start)
            and _labels_match(obj["metadata"].get("labels") or {}, labels)
            and all((_field_value(obj, label) == value) == equal for label, equal, value in fields)
        ]
        page = matched
        if limit and limit > 0:
            page = matched[: min(limit, self.page_size_cap or limit)]
        metadata: dict[str, object] = {"resourceVersion": str(rv)}
        if len(page) < len(matched):
            metadata["continue"] = _encode_continue(page[-1][0])
            if not labels and not fields:  # the server only counts when it need not filter
                metadata["remainingItemCount"] = len(matched) - len(page)
        items = []
        for _, obj in page:
            item = copy.deepcopy(obj)
            del item["kind"], item["apiVersion"]  # list items are kind-less on the wire
            items.append(item)
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": metadata, "items": items}

    def _log(self, namespace: str, pod: str, query: dict[str, str]) -> str:
        with self._lock:
            obj = self._objects[_PODS].get((namespace, pod))
            logs = {c: text for (ns, name, c), text in self._logs.items() if (ns, name) == (namespace, pod)}
        if obj is None and not logs:
            raise _not_found(_PODS, pod)
        if obj is not None:
            names = [c.get("name") for c in (obj.get("spec") or {}).get("containers") or []]
        else:
            names = sorted(c for c in logs if c)
        container = query.get("container")
        if not container:
            if len(names) > 1:
                raise _bad_request(
                    f"a container name must be specified for pod {pod}, choose one of: [{' '.join(names)}]"
                )
            text = logs.get(names[0] if names else None, logs.get(None, ""))
        elif container not in names:
            raise _bad_request(f"container {container} is not valid for pod {pod}")
        else:
            text = logs.get(container, "")
        tail = _int_param(query, "tailLines")
        if tail is not None and tail < 0:
            raise _bad_request("tailLines: Invalid value: must be greater than or equal to 0")
        if tail is not None:
            text = "".join(text.splitlines(keepends=True)[-tail:]) if tail else ""
        return text
