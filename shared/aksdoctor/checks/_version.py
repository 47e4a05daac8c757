"""What the two version checks share: the cluster's version read as evidence, and the AKS upgrade commands."""

from __future__ import annotations

from aksdoctor import kube, shell
from aksdoctor.checks.base import CheckContext, Skipped
from aksdoctor.model import Evidence
from aksdoctor.versions import KubeVersion, parse_version


def cluster_version(ctx: CheckContext) -> tuple[str, KubeVersion]:
    """The version text and its parsed form; skips the check when the text is not a Kubernetes version."""
    text = ctx.fact("version")
    version = parse_version(text)
    if version is None:
        raise Skipped(f"cannot read the Kubernetes version {text!r}")
    return text, version


def version_evidence(ctx: CheckContext, text: str) -> Evidence:
    """Where the version came from: the API server (as recorded in a snapshot), or the newest kubelet when the
    snapshot has no server version (the `version` fact's fallback)."""
    meta = ctx.cluster_meta()
    if meta.kubernetes_version and meta.kubernetes_version == text:
        return Evidence("Version", "API server version (snapshot kubernetesVersion)", text)
    if not meta.kubernetes_version and meta.captured_at:
        nodes = ctx.fact_or("nodes", [])
        node = next((n for n in nodes if kube.status(n).get("nodeInfo", {}).get("kubeletVersion") == text), None)
        where = f"Node {kube.name(node)}" if node else "Node"
        return Evidence(
            "Version", f"{where} status.nodeInfo.kubeletVersion (newest kubelet; no API server version)", text
        )
    return Evidence("Version", "API server version", text)


def _aks_args(ctx: CheckContext) -> tuple[str, ...]:
    meta = ctx.cluster_meta()
    name = meta.name or ctx.facts.target.cluster or "<cluster-name>"
    return ("--resource-group", meta.resource_group or "<resource-group>", "--name", name)


def get_upgrades_command(ctx: CheckContext) -> str:
    return shell.command("az", "aks", "get-upgrades", *_aks_args(ctx), "-o", "table")


def upgrade_command(ctx: CheckContext, target: str | None) -> str:
    """`az aks upgrade` to `target` (a patch, or a minor: AKS then picks that minor's newest patch)."""
    return shell.command("az", "aks", "upgrade", *_aks_args(ctx), "--kubernetes-version", target or "<version>")


def show_support_plan_command(ctx: CheckContext) -> str:
    return shell.command(
        "az", "aks", "show", *_aks_args(ctx), "--query", "{tier: sku.tier, supportPlan: supportPlan}", "-o", "table"
    )
