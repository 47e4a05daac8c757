"""What the node-level checks share: their knowledge file, the node list, and capped node lists in findings.

One finding names a whole class of nodes (5,000 broken nodes make one finding, not 5,000), so node names and
per-node evidence are capped; the cause always gives the full count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aksdoctor import knowledge, kube
from aksdoctor.checks.base import CheckContext, Skipped, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence
from aksdoctor.sources.base import ClusterMeta

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


def pod_state(pod: Mapping[str, Any]) -> str:
    """A pod's state as `kubectl describe` shows it: phase, readiness, and each troubled container's reasons."""
    st = kube.status(pod)
    parts = [f"phase={st.get('phase')}", f"ready={kube.pod_is_ready(pod)}"]
    for cond in st.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            parts.append(f"unschedulable: {cond.get('message') or cond.get('reason') or ''}".strip())
    for cs in st.get("containerStatuses") or ():
        details = []
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            details.append(f"waiting {waiting.get('reason')}: {waiting.get('message') or ''}".rstrip(": "))
        last = (cs.get("lastState") or {}).get("terminated")
        if last:
            details.append(f"last terminated {last.get('reason')} (exit {last.get('exitCode')})")
        if cs.get("restartCount"):
            details.append(f"restarts={cs['restartCount']}")
        if details:
            parts.append(f"{cs.get('name')}: {', '.join(details)}")
    return "; ".join(parts)


def daemonset_status_evidence(ds: Mapping[str, Any]) -> Evidence:
    st = kube.status(ds)
    detail = f"desiredNumberScheduled={st.get('desiredNumberScheduled')} numberReady={st.get('numberReady')}"
    return Evidence("DaemonSet", f"{kube.ref('DaemonSet', ds)} status", detail)


def cluster_meta(ctx: CheckContext) -> ClusterMeta | None:
    """The cluster's name and resource group when known (for `az` commands); needs `cluster` declared optional."""
    try:
        meta = ctx.fact("cluster")
    except FactUnavailable:
        return None
    return meta if meta.name and meta.resource_group else None
