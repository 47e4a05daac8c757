"""Turn snapshot files into objects: single objects, `kind: List` / `<Kind>List`, YAML streams, JSON streams.

Exactly the shapes `kubectl get -o yaml|json`, `kubectl cluster-info dump` and `az ... show|list` print.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MalformedDocument(ValueError):
    """A file that is neither valid YAML nor JSON; the message says where."""


def parse_text(text: str, *, suffix: str) -> list[Any]:
    """All top-level documents in a file (empty documents dropped)."""
    if suffix == ".json":
        return _parse_json_stream(text)
    try:
        return [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MalformedDocument(f"invalid YAML{where}: {problem}") from None


def _parse_json_stream(text: str) -> list[Any]:
    """One JSON document, or several concatenated (as `kubectl cluster-info dump` prints to stdout)."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return docs
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise MalformedDocument(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        docs.append(doc)


def kube_objects(doc: Any) -> Iterator[dict[str, Any]]:
    """Kubernetes objects in one document; list items get their kind from the list when they lack one."""
    if not isinstance(doc, dict):
        return
    kind = doc.get("kind") or ""
    items = doc.get("items")
    if isinstance(items, list) and (kind == "List" or kind.endswith("List") or not kind):
        item_kind = kind[: -len("List")] if kind.endswith("List") and kind != "List" else ""
        api_version = doc.get("apiVersion") or ""
        for item in items:
            if not isinstance(item, dict):
                continue
            if item_kind and not item.get("kind"):
                item = {**item, "kind": item_kind}
                if api_version and not item.get("apiVersion"):
                    item["apiVersion"] = api_version
            yield from kube_objects(item)
        return
    if kind and isinstance(doc.get("metadata"), dict):
        yield doc


def list_kind(doc: Any) -> str:
    """The item kind a `<Kind>List` document declares, even when it has no items (it was still captured)."""
    if isinstance(doc, dict):
        kind = doc.get("kind") or ""
        if kind.endswith("List") and kind != "List":
            return kind[: -len("List")]
    return ""


def arm_records(doc: Any) -> Iterator[dict[str, Any]]:
    """ARM resources in one document: a resource, an array, or a `{"value": [...]}` page."""
    if isinstance(doc, list):
        for item in doc:
            yield from arm_records(item)
    elif isinstance(doc, dict):
        if isinstance(doc.get("value"), list) and "type" not in doc:
            yield from arm_records(doc["value"])
        elif doc.get("type") or doc.get("id"):
            yield doc
