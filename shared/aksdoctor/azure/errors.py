"""Classify Azure / cloud-provider-azure error text into typed causes.

The same failure reaches us through three SDK generations (azcore, the track-1 retry wrapper, autorest/adal),
as plain JSON, or as a provider-side message with no ARM code at all. So detection keys on codes (ARM codes,
AADSTS numbers, message signatures), never on the wrapper; the wrapper is only reported. What the codes mean
lives in knowledge/error_codes.yaml; this module only finds codes and pulls fields out of the text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from aksdoctor import knowledge

CATEGORIES = frozenset(
    {
        "auth",
        "permission",
        "policy",
        "lock",
        "quota",
        "throttle",
        "public-ip",
        "dns-label",
        "ilb-subnet",
        "subnet",
        "conflict",
        "node",
        "transient",
        "config",
        "protocol",
        "unknown",
    }
)


@dataclass(frozen=True)
class AzureError:
    """One cause found in error text. Optional fields are None when the text does not say."""

    code: str
    category: str
    meaning: str
    fix: str
    wrapper: str
    http_status: int | None = None
    message: str = ""
    aadsts: str | None = None
    action: str | None = None
    scope: str | None = None
    linked_action: str | None = None
    linked_scope: str | None = None
    principal: str | None = None
    object_id: str | None = None
    quota: str | None = None
    limit: int | None = None
    retry_after: float | None = None
    resource_id: str | None = None
    operation_group: str | None = None


# --- knowledge -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    category: str
    meaning: str
    fix: str


@dataclass(frozen=True)
class _Code:
    name: str
    entry: _Entry
    variants: tuple[tuple[re.Pattern[str], _Entry], ...]


@dataclass(frozen=True)
class _Signature:
    id: str
    entry: _Entry
    contains: tuple[str, ...]
    match: re.Pattern[str] | None
    fallback: bool
    wrapper: str


@dataclass(frozen=True)
class _Catalogue:
    codes: dict[str, _Code]  # keyed by lower-cased code
    patterns: tuple[tuple[re.Pattern[str], _Entry], ...]
    unknown: _Entry
    aadsts: dict[str, _Entry]  # keyed by the number, without "AADSTS"
    aadsts_default: _Entry
    signatures: tuple[_Signature, ...]
    hints: dict[str, tuple[_Signature, ...]]  # pre-filter literal -> signatures using it ("code": ARM)


def _entry(raw: dict[str, Any], category: str | None = None) -> _Entry:
    return _Entry(category or raw["category"], raw.get("meaning", ""), raw.get("fix", ""))


@functools.cache
def _catalogue() -> _Catalogue:
    """Compile error_codes.yaml once per process; every regex in it is compiled here and nowhere else."""
    data = knowledge.load("error_codes")
    codes = {
        name.lower(): _Code(
            name,
            _entry(raw),
            tuple((re.compile(v["when"], re.I), _entry(v)) for v in raw.get("variants", ())),
        )
        for name, raw in data["codes"].items()
    }
    signatures = tuple(
        _Signature(
            id=raw["id"],
            entry=_entry(raw),
            contains=tuple(c.lower() for c in raw["contains"]),
            match=re.compile(raw["match"], re.I) if raw.get("match") else None,
            fallback=bool(raw.get("fallback", False)),
            wrapper=raw.get("wrapper", "provider"),
        )
        for raw in data["signatures"]
    )
    return _Catalogue(
        codes=codes,
        patterns=tuple((re.compile(p["match"], re.I), _entry(p)) for p in data.get("code_patterns", ())),
        unknown=_entry(data["unknown"], "unknown"),
        aadsts={str(num): _entry(raw, "auth") for num, raw in data["aadsts"].items()},
        aadsts_default=_entry(data["aadsts_default"], "auth"),
        signatures=signatures,
        hints={
            hint: tuple(s for s in signatures if hint in s.contains)
            for hint in dict.fromkeys(("code", "aadsts", *(c for s in signatures for c in s.contains)))
        },
    )


def _lookup(cat: _Catalogue, code: str, context: str) -> tuple[str, _Entry]:
    """Canonical code name and its entry; variants let one code mean different things (429 vs quota)."""
    known = cat.codes.get(code.lower())
    if known is not None:
        for when, entry in known.variants:
            if when.search(context):
                return known.name, entry
        return known.name, known.entry
    for pattern, entry in cat.patterns:
        if pattern.search(code):
            return code, entry
    return code, cat.unknown


# --- finding ARM errors --------------------------------------------------------------------------------

# Tokens that open an error (a wrapper) or name its code. `\\*` before quotes accepts JSON nested in strings
# (RawError bodies, klog-escaped lines) at any escaping depth. JSON codes need their closing quote so a
# truncated body never yields half a code. The leading lookahead (every branch's first character) lets the
# regex engine skip most positions cheaply; the field patterns below use it for the same reason.
_TOKEN = re.compile(
    r"""
    (?=[RSaE{\\"CA])
    (?:(?P<retriable>Retriable:\s*(?:true|false))
    |(?P<azcore>RESPONSE\s+\d{3}\b)
    |(?P<autorest>StatusCode=\d{3}|autorest/azure:|adal:)
    |(?P<envelope>\{\s*\\*"error\\*"\s*:\s*\{)
    |ERROR\ CODE:\s*(?P<azcode>[A-Za-z][\w.]*)(?=\s|\\|$)
    |\\*"[Cc]ode\\*"\s*:\s*\\*"(?P<jsoncode>[A-Za-z][\w.]*)\\*"
    |\bCode=\\*"(?P<arcode>[A-Za-z][\w.]*)\\*"
    |(?P<aadsts>AADSTS\d+))
    """,
    re.X,
)
_STARTS = frozenset({"retriable", "azcore", "autorest", "envelope"})
_WRAPPER = {
    "retriable": "retriable",
    "azcore": "azcore",
    "azcode": "azcore",
    "autorest": "autorest",
    "arcode": "autorest",
    "envelope": "plain",
    "jsoncode": "plain",
    "aadsts": "plain",
}


@dataclass
class _Span:
    """One ARM/AAD error: where it starts, its outermost wrapper and its (first) code."""

    wrapper: str
    start: int  # where its slice of the text begins
    at: int  # where its first token is: orders it among other causes
    code: str | None = None
    aadsts: str | None = None
    code_at: int = 0


def _spans(text: str) -> list[_Span]:
    """Split text into errors. A wrapper opens a new error only once the current one has a code, so nested
    wrappers (retry wrapper around autorest) stay one error, and later codes with no new wrapper are the
    `details` of the current one. The first error also owns the text before it (event prefix, request URL)."""
    spans: list[_Span] = []
    cur: _Span | None = None
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or ""
        found = cur is not None and (cur.code or cur.aadsts)
        if cur is None or (kind in _STARTS and found):
            cur = _Span(_WRAPPER[kind], m.start() if spans else 0, m.start())
            spans.append(cur)
        if kind in _STARTS or found:
            continue
        if kind == "aadsts":
            cur.aadsts = m.group(kind)
        else:
            cur.code = m.group(kind)
        cur.code_at = m.start()
    # An error whose code repeats right away (azcore "ERROR CODE: X" header, then the body) is one error.
    merged: list[_Span] = []
    for span in spans:
        key = (span.aadsts or span.code or "").lower()
        if not merged or key != (merged[-1].aadsts or merged[-1].code or "").lower():
            merged.append(span)
    return merged


# --- field extraction ----------------------------------------------------------------------------------

# Where a message string opens; group 1 is the escaping of its quotes, which tells where it closes.
_MESSAGE_OPEN = (re.compile(r'[Mm]essage(\\*)"\s*:\s*\1"'), re.compile(r'Message=(\\*)"'))
_AADSTS_MESSAGE = re.compile(r"AADSTS\d+:\s*(?P<m>.*?)(?=\\+[rn]|[\r\n]|\s*Trace ID:|\\*\"|$)", re.S)

_ESCAPE = re.compile(r"\\+(?:u([0-9a-fA-F]{4})|([nrt])|(?=[\"'/]))")

_STATUS = re.compile(
    r"(?=[RHS])(?:RESPONSE\s+(\d{3})|HTTPStatusCode:\s*([1-9]\d{2})|\bStatus(?:Code)?=(\d{3})|Status Code = '(\d{3})')"
)
_PRINCIPAL = (
    re.compile(r"The client '([^']+)'"),
    re.compile(r"Application with identifier '([^']+)'"),
    re.compile(r" app '([^']+)'"),
)
_OBJECT_ID = re.compile(r"with object id '([^']+)'")
_ACTION = re.compile(r"perform action '([^']+)' (?:over|on) scope '([^']+)'")
_LINKED = re.compile(r"perform action '([^']+)' on the linked scope\(s\) '([^']+)'")
_LOCKED = re.compile(r"scope\(s\) (?:are|is) locked: '([^']+)'")
_RESOURCE_ID = re.compile(r"/subscriptions/[^\s'\"\\,;?()\[\]{}<>]+")
_OPERATION_GROUP = re.compile(r"operationGroup\"?\s*[:=]\s*\"?([\w.-]+)")
_QUOTA_NAME = re.compile(r"exceeding approved (.+?) quota")
_LIMIT = re.compile(
    r"(?=[mrCla])(?:more than (\d+)|rule limit (\d+)|Current Limit:\s*(\d+)|limit of '?(\d+)"
    r"|allowedRequestCount\"?\s*:\s*(\d+))"
)
_RETRY = re.compile(
    r"(?=[Rrt])(?:[Rr]etry[- ]?[Aa]fter|try again after|retried in)\s*[:=]?\s*'?"
    r"(?P<v>(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s)?)+)'?\s*(?P<unit>minutes?)?"
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)?")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _unescape(text: str) -> str:
    """Undo JSON/Go string escaping at any depth, enough for quoted names and ids to match plainly."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)) if m[1] else " " if m[2] else "", text)


def _clean(text: str) -> str:
    return " ".join(_unescape(text).split())


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return next((g for g in m.groups() if g is not None), None) if m else None


def _retry_after(text: str) -> float | None:
    """Seconds to wait. The retry wrapper prints "RetryAfter: 0s" when there is no hint, so 0 means None."""
    if "etr" not in text and "again" not in text:
        return None
    for m in _RETRY.finditer(text):
        total = sum(float(n) * _SECONDS[u or "s"] for n, u in _DURATION_PART.findall(m.group("v")))
        if m.group("unit"):
            total *= 60
        if total > 0:
            return total
    return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return _clean(text[start : end if end >= 0 else len(text)])


def _build(code: str, entry: _Entry, wrapper: str, raw: str, message: str) -> AzureError:
    """Pull every field the text states; `raw` is the error's own slice of the input."""
    context = _unescape(raw)
    action = _ACTION.search(context)
    linked = _LINKED.search(context)
    scope = _first(_LOCKED, context) or (action.group(2) if action else None)
    linked_scope = linked.group(2) if linked else None
    taken = {s.lower() for s in (scope, linked_scope) if s}
    resource_id = next(
        (r for r in (m.group().rstrip(".:") for m in _RESOURCE_ID.finditer(context)) if r.lower() not in taken),
        None,
    )
    status = _first(_STATUS, context)
    bounded = entry.category in ("quota", "throttle")
    limit = _first(_LIMIT, context) if bounded else None
    return AzureError(
        code=code,
        category=entry.category,
        meaning=entry.meaning,
        fix=entry.fix,
        wrapper=wrapper,
        http_status=int(status) if status else None,
        message=message,
        aadsts=code if code.startswith("AADSTS") else None,
        action=action.group(1) if action else None,
        scope=scope,
        linked_action=linked.group(1) if linked else None,
        linked_scope=linked_scope,
        principal=next(filter(None, (_first(p, context) for p in _PRINCIPAL)), None),
        object_id=_first(_OBJECT_ID, context),
        quota=(_first(_QUOTA_NAME, context) or code) if entry.category == "quota" else None,
        limit=int(limit) if limit else None,
        retry_after=_retry_after(context),
        resource_id=resource_id,
        operation_group=_first(_OPERATION_GROUP, context),
    )


def _message(span: _Span, raw: str) -> str:
    """The error's own message: AADSTS description, else the earliest JSON or autorest message string."""
    if span.aadsts:
        m = _AADSTS_MESSAGE.search(raw)
        return _clean(m.group("m")) if m else ""
    opened = [m for m in (p.search(raw) for p in _MESSAGE_OPEN) if m]
    if not opened:
        return ""
    m = min(opened, key=lambda m: m.start())
    # The string closes at a quote escaped exactly as its opening one; more backslashes mean a quote inside.
    # A truncated body has no closing quote: keep what is there.
    close, i = m.group(1) + '"', m.end()
    while (i := raw.find(close, i)) > 0 and raw[i - 1] == "\\":
        i += len(close)
    return _clean(raw[m.end() : i if i >= 0 else len(raw)])


def _arm_errors(cat: _Catalogue, text: str) -> list[tuple[int, AzureError, int]]:
    """(position, error, position of its code) for each ARM/AAD error in the text."""
    spans = _spans(text)
    out = []
    for i, span in enumerate(spans):
        if not (span.code or span.aadsts):
            continue
        raw = text[span.start : spans[i + 1].start if i + 1 < len(spans) else len(text)]
        if span.aadsts:
            code, entry = span.aadsts, cat.aadsts.get(span.aadsts[6:], cat.aadsts_default)
        else:
            code, entry = _lookup(cat, span.code or "", raw)
        out.append((span.at, _build(code, entry, span.wrapper, raw, _message(span, raw)), span.code_at))
    return out


def _signature_errors(cat: _Catalogue, text: str, low: str, hits: list[str]) -> list[tuple[int, AzureError, int, bool]]:
    """(position, error, position, fallback) for each signature whose literal is among `hits`."""
    first_seen: dict[_Signature, int] = {}
    for hint in hits:
        for sig in cat.hints[hint]:
            pos = low.find(hint)
            first_seen[sig] = min(pos, first_seen.get(sig, pos))
    out = []
    for sig, pos in first_seen.items():
        if sig.match is not None:
            m = sig.match.search(text)
            if m is None:
                continue
            pos = m.start()
        line = _line_at(text, pos)
        out.append((pos, _build(sig.id, sig.entry, sig.wrapper, line, line), pos, sig.fallback))
    return out


def _merge(first: AzureError, later: AzureError) -> AzureError:
    """Same code seen twice (an aggregated error repeating one failure): keep the first, fill its gaps."""
    gaps = {
        f.name: getattr(later, f.name)
        for f in fields(first)
        if getattr(first, f.name) in (None, "") and getattr(later, f.name) not in (None, "")
    }
    return replace(first, **gaps) if gaps else first


# --- public API ----------------------------------------------------------------------------------------


def classify(text: str) -> list[AzureError]:
    """All distinct causes in one text (deduplicated by code), in the order they appear."""
    if not text:
        return []
    cat = _catalogue()
    low = text.lower()
    hits = [hint for hint in cat.hints if hint in low]  # ordinary lines stop here, after a few substring scans
    if not hits:
        return []
    found = _arm_errors(cat, text) if "code" in hits or "aadsts" in hits else []
    fallbacks: list[tuple[int, AzureError, int]] = []
    for pos, error, line_at, fallback in _signature_errors(cat, text, low, hits):
        (fallbacks if fallback else found).append((pos, error, line_at))
    by_code: dict[str, tuple[AzureError, int]] = {}
    for _, error, line_at in sorted(found or fallbacks, key=lambda item: item[0]):
        seen = by_code.get(error.code)
        by_code[error.code] = (_merge(seen[0], error), seen[1]) if seen else (error, line_at)
    return [e if e.message else replace(e, message=_line_at(text, at)) for e, at in by_code.values()]


def classify_first(text: str) -> AzureError | None:
    """The first cause in the text, or None: the common case of one error per event or log line."""
    found = classify(text)
    return found[0] if found else None
