"""What the node-level checks share: their knowledge file, the node list, and capped node lists in findings.

One finding names a whole class of nodes (5,000 broken nodes make one finding, not 5,000), so node names and
per-node evidence are capped; the cause always gives the full count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aksdoctor import knowledge, kube
from aksdoctor.checks.base import CheckContext, Skipped, field_evidence
from aksdoctor.model import Evidence

NAME_CAP = 10  # node names written into a cause or a command
EVIDENCE_CAP = 5  # nodes cited one by one in the evidence


def node_knowledge() -> dict[str, Any]:
    return knowledge.load("nodes")


def require_nodes(ctx: CheckContext) -> list[dict]:
    nodes = ctx.nodes
    if not nodes:
        raise Skipped("the node list is empty")
    return nodes


def names_text(names: Sequence[str], cap: int = NAME_CAP) -> str:
    """`a, b, c` or `a, b, c and 4997 more`."""
    shown = ", ".join(names[:cap])
    rest = len(names) - cap
    return f"{shown} and {rest} more" if rest > 0 else shown


def nodes_resource(ctx: CheckContext, nodes: Sequence[Mapping[str, Any]]) -> str:
    """`Node x` for one node, the cluster for several."""
    return kube.ref("Node", nodes[0]) if len(nodes) == 1 else ctx.default_resource


def label_evidence(node: Mapping[str, Any], key: str) -> Evidence:
    return field_evidence("Node", node, f"metadata.labels[{key}]", kube.labels(node).get(key))


def taint_text(taint: Mapping[str, Any]) -> str:
    """`key=value:Effect` as kubectl writes taints."""
    value = taint.get("value")
    return f"{taint.get('key')}{'=' + value if value else ''}:{taint.get('effect', '')}"


def taint_evidence(node: Mapping[str, Any], taint: Mapping[str, Any]) -> Evidence:
    return field_evidence("Node", node, "spec.taints", taint_text(taint))
