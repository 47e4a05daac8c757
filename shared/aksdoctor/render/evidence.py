"""How the text formats name a piece of evidence.

Field evidence refs already start with the kind (`Pod default/web-1 spec.containers`), log and event refs do not
(`kube-system/cloud-controller-manager-1:12`): show the source only where it adds something.
"""

from __future__ import annotations

from aksdoctor.model import Evidence


def label(item: Evidence) -> tuple[str, str]:
    """(source, ref); the source is empty when the ref already names it."""
    return ("", item.ref) if item.ref.startswith(f"{item.source} ") else (item.source, item.ref)


def heading(item: Evidence) -> str:
    """`Source ref`, as plain text."""
    return " ".join(part for part in label(item) if part)
