"""The HTTP plumbing shared by the live Azure source: one transport, one token cache, a retry policy whose total
wait is bounded, raw paged GETs, and the translation of Azure SDK errors into the tool's reasons.

Why a bounded retry: azure-core's RetryPolicy sleeps for whatever Retry-After ARM sends, as often as retry_total
allows. A diagnosis tool must neither hammer a throttled subscription nor hang on it, so every sleep of the run
draws on one shared wall-clock budget; once it is spent the 429 surfaces and the facts that needed the call
become `skipped: throttled by ARM`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import RetryPolicy

from aksdoctor.azure.errors import classify_first
from aksdoctor.errors import FactUnavailable

log = logging.getLogger(__name__)

ARM = "Azure Resource Manager"
GRAPH = "Microsoft Graph"
NO_CREDENTIALS = "no Azure credentials (az login, environment, managed identity or workload identity)"
GRAPH_FORBIDDEN = "Microsoft Graph: needs Application.Read.All (403 {code})"
RETRY_SETTINGS = {  # few retries; the WaitBudget bounds how long they may take in total
    "retry_total": 3,
    "retry_connect": 1,
    "retry_read": 1,
    "retry_status": 3,
    "retry_backoff_factor": 0.8,
    "retry_backoff_max": 10,
}
TIMEOUTS = {"connection_timeout": 5.0, "read_timeout": 30.0}
POOL_SIZE = 32  # facts are read in parallel, each over several resource groups


class NoCredentials(FactUnavailable):
    """No token could be had: every Azure fact of the run is unavailable for the same reason."""


class Unreachable(FactUnavailable):
    """The endpoint could not be reached: the front-end prints the report, then exits 3."""


class NotFound(FactUnavailable):
    """404 with its ARM error code (ResourceGroupNotFound, ResourceNotFound, SubscriptionNotFound, ...)."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.code = code


class WaitBudget:
    """Wall-clock seconds the whole run may spend waiting to retry, counted from the first wait; parallel waits
    overlap, so the bound is on how much later the run ends, not on the sum of the sleeps."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._deadline: float | None = None
        self._lock = threading.Lock()

    def allow(self, wait: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._deadline is None:
                self._deadline = now + self.seconds
            return now + wait <= self._deadline


class BudgetedRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy (honours Retry-After), refusing any retry whose wait would overrun the budget."""

    def __init__(self, budget: WaitBudget, **kwargs: Any):
        super().__init__(**{**RETRY_SETTINGS, **kwargs})
        self.budget = budget

    def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
        if not super().increment(settings, response=response, error=error):
            return False
        # On a transport error `response` is the request: only a real response carries Retry-After.
        wait = self.get_retry_after(response) if error is None and response is not None else None
        wait = self.get_backoff_time(settings) if wait is None else wait
        return wait <= 0 or self.budget.allow(wait)


class CachedCredential:
    """One token request per scope for the whole run, and a failure remembered, so parallel facts do not each
    walk DefaultAzureCredential's chain (managed identity probes, `az` subprocesses). The real credential is
    built on first use: a run that needs no Azure fact never touches azure-identity."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._credential: Any = None
        self._tokens: dict[tuple[str, ...], Any] = {}
        self._failures: dict[tuple[str, ...], ClientAuthenticationError] = {}
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, claims: str | None = None, **kwargs: Any) -> Any:
        with self._lock:
            if scopes in self._failures:
                raise self._failures[scopes]
            token = self._tokens.get(scopes)
            if token is not None and not claims and token.expires_on - 300 > time.time():
                return token
            try:
                if self._credential is None:
                    self._credential = self._factory()
                token = self._credential.get_token(*scopes, claims=claims, **kwargs)
            except ClientAuthenticationError as exc:
                self._failures[scopes] = exc
                raise
            self._tokens[scopes] = token
            return token


def make_transport(connection_verify: bool | str | None) -> Any:
    """One requests-based transport for every client of the run, with a pool as wide as the parallel reads."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_maxsize=POOL_SIZE, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
    )
    for scheme in ("https://", "http://"):
        session.mount(scheme, adapter)
    verify = {} if connection_verify is None else {"connection_verify": connection_verify}
    return RequestsTransport(session=session, session_owner=False, **TIMEOUTS, **verify)


def get_pages(send: Callable[[Any], Any], url: str, params: Mapping[str, str], next_key: str) -> list[dict]:
    """GET a list and follow its next links (absolute URLs, sent verbatim); raises azure-core errors."""
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    items: list[dict] = []
    request = HttpRequest("GET", url, params=dict(params))
    while request is not None:
        response = send(request)
        if response.status_code == 401:
            raise ClientAuthenticationError(response=response, error_format=ARMErrorFormat)
        if response.status_code >= 400:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        try:
            page = response.json()
            items.extend(page.get("value") or [])
        except (ValueError, AttributeError) as exc:
            raise DecodeError(message=f"not a JSON list page: {exc}", response=response) from exc
        link = page.get(next_key)
        request = HttpRequest("GET", link) if link else None
    return items


def translate(exc: Exception, what: str, *, service: str = ARM, endpoint: str = "") -> FactUnavailable:
    """The reason a read failed, in the words the report shows (`skipped: <reason>`)."""
    if isinstance(exc, FactUnavailable):
        return exc
    if isinstance(exc, ClientAuthenticationError) and exc.response is None:
        return NoCredentials(_credential_reason(str(exc)))
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return Unreachable(f"cannot reach {service} at {endpoint}: {_first_line(exc)}")
    if isinstance(exc, (DecodeError, DeserializationError)):
        return FactUnavailable(f"malformed response from {service} ({what}): {_first_line(exc)}")
    if not isinstance(exc, HttpResponseError):
        return FactUnavailable(f"{service} call failed ({what}): {type(exc).__name__}: {_first_line(exc)}")
    status = exc.status_code or 0
    code = getattr(exc.error, "code", None) or (exc.reason or str(status))
    message = " ".join(str(getattr(exc.error, "message", None) or exc.message or "").split())
    if status == 403:
        return FactUnavailable(_forbidden(service, code, message, what))
    if status == 404:
        return NotFound(f"{what}: {message or 'not found'} ({code})", code)
    if status == 429:
        retry_after = (exc.response.headers.get("Retry-After") if exc.response is not None else None) or "?"
        return FactUnavailable(f"throttled by {_short(service)} (429, retry after {retry_after} s); try again later")
    if status == 401:
        return FactUnavailable(f"not authenticated to {service} (401 {code}): {message}")
    return FactUnavailable(f"{service} error ({what}): {status} {code}: {message}")


def _forbidden(service: str, code: str, message: str, what: str) -> str:
    if service == GRAPH:
        return GRAPH_FORBIDDEN.format(code=code)
    found = classify_first(json.dumps({"error": {"code": code, "message": message}})) if message else None
    if found and found.action and found.scope:
        return f"forbidden: {found.action} on {found.scope}"
    return f"forbidden ({code}): {message or what}"


def _credential_reason(text: str) -> str:
    """Nothing to sign in with, or a sign-in that Entra ID refused (expired refresh token, ...)."""
    found = classify_first(text) if "AADSTS" in text else None
    if found and found.aadsts:
        return f"Azure sign-in failed ({found.aadsts}: {found.message}); sign in again (az login)"
    return NO_CREDENTIALS


def _short(service: str) -> str:
    return "ARM" if service == ARM else service


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
