"""Loopback HTTPS fake of Azure Resource Manager and Microsoft Graph, for tests that drive the real SDK clients.

The Azure SDK refuses bearer tokens over plain HTTP, so the fake serves TLS with a throwaway CA from `trustme`;
clients trust it through `connection_verify=fake.ca_file`. Routing is by path only, case-insensitively (ARM
paths are case-insensitive and the SDKs spell them their own way), ignoring `api-version` (every SDK release
moves it). Lists are paged with loopback `nextLink`s, errors carry ARM's `{"error": {"code", "message"}}` body,
and every request is recorded (with its body, for the write verbs PUT, POST, PATCH and DELETE) so tests can assert
exactly what was sent::

    with ArmFake() as arm:
        arm.list(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers", [lb])
        NetworkManagementClient(cred, SUB, base_url=arm.url, connection_verify=arm.ca_file).load_balancers.list("rg")
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import trustme
from azure.core.credentials import AccessToken


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # percent-decoded, as the client spelled it
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    @property
    def line(self) -> str:
        """`GET /path?k=v` without api-version: the form request-list assertions compare."""
        query = "&".join(f"{k}={v}" for k, v in sorted(self.query.items()) if k != "api-version")
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # dict/list: JSON; str/bytes: sent as is
    headers: Mapping[str, str] = field(default_factory=dict)


Route = Callable[[Recorded], Reply]
# What DefaultAzureCredential raises when nothing in its chain can sign in.
DAC_FAILURE = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:\n"
    "\tEnvironmentCredential: EnvironmentCredential authentication unavailable.\n"
    "\tAzureCliCredential: Azure CLI not found on path"
)


class StaticToken:
    """A credential as the SDK expects one; records the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("test-token", int(time.time()) + 3600)


class ClaimsToken(StaticToken):
    """A credential whose tokens are unsigned JWTs carrying `claims` (oid, appid, upn...), as Entra ID's are."""

    def __init__(self, claims: Mapping[str, Any]) -> None:
        super().__init__()
        self.claims = dict(claims)

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        part = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")  # noqa: E731
        return AccessToken(f"{part({'alg': 'none'})}.{part(self.claims)}.", int(time.time()) + 3600)


class FailingCredential(StaticToken):
    """A credential whose every token request fails with `error`."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        raise self.error


def arm_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, dict(headers or {}))


class ArmFake:
    """Start with `with ArmFake() as fake:`; `fake.url` is the base URL for ARM and Graph alike."""

    def __init__(self, page_size: int = 0):
        self.page_size = page_size  # 0: one page per list
        self.requests: list[Recorded] = []
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="armfake-")

    # ---- routes ----------------------------------------------------------------------------------------------

    def route(self, path: str, route: Route) -> None:
        self._routes[path.lower().rstrip("/")] = route

    def list(self, path: str, items: Sequence[Any], *, page_size: int | None = None) -> None:
        """A list; paged with `nextLink` ($skiptoken) when more items than the page size."""
        size = page_size if page_size is not None else self.page_size

        def serve(req: Recorded) -> Reply:
            start = int(req.query.get("$skiptoken", "0"))
            end = start + size if size else len(items)
            body: dict[str, Any] = {"value": list(items[start:end])}
            if end < len(items):
                body["nextLink"] = f"{self.url}{path}?api-version={req.query.get('api-version', '')}&$skiptoken={end}"
            return Reply(200, body)

        self.route(path, serve)

    def get(self, path: str, body: Any) -> None:
        self.route(path, lambda _req: Reply(200, body))

    def replies(self, path: str, *replies: Reply) -> None:
        """Answer with these in turn; the last one repeats."""
        queue = list(replies)

        def serve(_req: Recorded) -> Reply:
            with self._lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.route(path, serve)

    def collection(self, path: str, items: Sequence[Mapping[str, Any]]) -> None:
        """A list whose members (by `id`) can also be read and deleted one by one: GET `path` lists what is left,
        GET `<id>` returns one (404 once deleted), DELETE `<id>` removes it (200)."""
        state = {str(item["id"]).lower(): item for item in items}

        def listed(_req: Recorded) -> Reply:
            with self._lock:
                return Reply(200, {"value": list(state.values())})

        def one(req: Recorded) -> Reply:
            key = req.path.lower().rstrip("/")
            with self._lock:
                if req.method == "DELETE":
                    state.pop(key, None)
                    return Reply(200, None)
                if key in state:
                    return Reply(200, state[key])
            return arm_error(404, "ResourceNotFound", f"The Resource '{req.path}' was not found.")

        self.route(path, listed)
        for key in state:
            self.route(key, one)

    def graph_applications(self, apps: Sequence[Mapping[str, Any]]) -> None:
        """`GET /v1.0/applications?$filter=appId eq '<id>'` as Graph answers it."""

        def serve(req: Recorded) -> Reply:
            wanted = req.query.get("$filter", "")
            found = [a for a in apps if wanted.lower() == f"appid eq '{a['appId']}'".lower()]
            return Reply(200, {"@odata.context": f"{self.url}/v1.0/$metadata#applications", "value": found})

        self.route("/v1.0/applications", serve)

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return [r.line for r in self.requests]

    @property
    def writes(self) -> list[Recorded]:
        """Every request but the GETs, in order."""
        with self._lock:
            return [r for r in self.requests if r.method != "GET"]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # ---- server ----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "use `with ArmFake() as fake:`"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ArmFake:
        ca = trustme.CA()
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._dir.cleanup()

    def _answer(self, req: Recorded) -> Reply:
        with self._lock:
            self.requests.append(req)
        route = self._routes.get(req.path.lower().rstrip("/"))
        if route is None:
            return arm_error(404, "NoRouteInFake", f"the fake has no route for {req.method} {req.path}")
        return route(req)


def _handler(fake: ArmFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = Recorded(
                self.command,
                unquote(parts.path),
                dict(parse_qsl(parts.query)),
                {k: v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            reply = fake._answer(req)
            body = reply.body
            if body is None and reply.status in (202, 204):
                self.send_response(reply.status)
                self.send_header("Content-Length", "0")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                return
            data = (
                body
                if isinstance(body, bytes)
                else body.encode()
                if isinstance(body, str)
                else json.dumps(body).encode()
            )
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler
