"""What the node-level checks share: the node list, capped per-node evidence, and how a finding names its nodes.

One finding names a whole class of nodes (5,000 broken nodes make one finding, not 5,000), so node names and
per-node evidence are capped; the cause always gives the full count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aksdoctor import kube
from aksdoctor.checks.base import CheckContext, Skipped
from aksdoctor.model import Evidence

EVIDENCE_CAP = 5  # nodes cited one by one in the evidence


def require_nodes(ctx: CheckContext) -> list[dict]:
    nodes = ctx.nodes
    if not nodes:
        raise Skipped("the node list is empty")
    return nodes


def nodes_resource(ctx: CheckContext, nodes: Sequence[Mapping[str, Any]]) -> str:
    """`Node x` for one node, the cluster for several."""
    return kube.ref("Node", nodes[0]) if len(nodes) == 1 else ctx.default_resource


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
