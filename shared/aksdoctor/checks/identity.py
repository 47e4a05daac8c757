"""How the cloud provider signs in to Azure, and whether that can keep working.

A service principal's secret expires (AKS-created ones after a year) and then every load balancer, public IP and
route update fails with AADSTS7000222; a managed identity has nothing to expire. The cloud config decides which
identity the provider uses, and contradictory or missing fields there fail in ways the events explain badly. The
config holds secrets: evidence names them and their length, never their values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import providerid as pid
from aksdoctor.azure.cloud_config import SECRET_KEY, SECRET_NAME, CloudConfig, rules
from aksdoctor.azure.discovery import CLUSTER_LABEL, NODE_RG_LABEL
from aksdoctor.azure.identity import (
    ServicePrincipal,
    is_placeholder,
    managed_cluster,
    service_principals,
    uses_managed_identity,
    uses_workload_identity,
)
from aksdoctor.azure.pool import control_plane_label
from aksdoctor.azure.resources import resource_group_of
from aksdoctor.checks._nodes import EVIDENCE_CAP
from aksdoctor.checks.base import CheckContext, NotApplicable, Skipped, check, field_evidence
from aksdoctor.errors import FactUnavailable
from aksdoctor.model import Evidence, Finding, Fix
from aksdoctor.text import names_text

EXPIRY_WARNING = timedelta(days=30)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
IDENTITY_FACTS = ("azure_managed_clusters", "azure_scope", "cloud_config")
SP_DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/update-credentials",
    "https://learn.microsoft.com/en-us/graph/api/resources/passwordcredential",
)
MI_DOCS = (
    "https://learn.microsoft.com/en-us/azure/aks/use-managed-identity",
    "https://learn.microsoft.com/en-us/azure/aks/kubernetes-service-principal",
)
CONFIG_DOCS = ("https://cloud-provider-azure.sigs.k8s.io/install/configs/",)
CCM_DEPLOYMENT = "cloud-controller-manager"


# ---- where the cluster is, for az commands ----------------------------------------------------------------


@dataclass(frozen=True)
class _Cluster:
    aks: bool
    resource_group: str
    name: str
    pools: tuple[str, ...]  # AKS node pools (for node image upgrades)


def _cluster(ctx: CheckContext) -> _Cluster:
    """The AKS cluster's name and group (from the managed cluster, the discovered scope or the snapshot metadata);
    `aks` is False for a self-managed cluster, where az aks commands do not apply."""
    try:
        mc = managed_cluster(ctx.fact)
    except FactUnavailable:
        mc = None
    nodes = ctx.fact_or("nodes", [])
    pools = tuple(sorted({kube.labels(n).get("kubernetes.azure.com/agentpool", "") for n in nodes} - {""}))
    if mc is not None:
        return _Cluster(True, resource_group_of(mc.get("id", "")), str(mc.get("name", "")), pools)
    aks = any(CLUSTER_LABEL in kube.labels(n) for n in nodes)
    scope = ctx.fact_or("azure_scope")
    if scope is not None:
        rg, name = scope.cluster_resource_group, scope.cluster_name
    else:
        meta = ctx.cluster_meta()
        rg, name = (meta.resource_group, meta.name) if meta.identified else ("", "")
    return _Cluster(aks, rg or "<resource-group>", name or "<cluster-name>", pools)


# ---- identity.sp-expired ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Credential:
    kind: str  # "password" or "certificate"
    key_id: str
    name: str
    end_text: str  # endDateTime exactly as Graph wrote it
    end: datetime | None


def _credentials(objects: Sequence[Mapping[str, Any]]) -> list[_Credential]:
    """Password and certificate credentials (never their secretText or hint), newest end first."""
    seen: dict[str, _Credential] = {}
    for obj in objects:
        for field, kind in (("passwordCredentials", "password"), ("keyCredentials", "certificate")):
            for cred in obj.get(field) or ():
                key_id = str(cred.get("keyId") or "")
                end_text = str(cred.get("endDateTime") or "")
                item = _Credential(
                    kind, key_id, str(cred.get("displayName") or ""), end_text, kube.parse_time(end_text)
                )
                seen.setdefault(key_id or f"{kind}-{len(seen)}", item)
    return sorted(seen.values(), key=lambda c: (c.end is None, c.end or _EPOCH), reverse=True)


def _is_application(obj: Mapping[str, Any]) -> bool:
    odata = str(obj.get("@odata.type") or "")
    return odata.endswith(".application") or (not odata and "servicePrincipalType" not in obj)


def _days(delta: timedelta) -> str:
    days = int(abs(delta.total_seconds()) // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def _when(cred: _Credential, now: datetime) -> str:
    if cred.end is None:
        return "no end date"
    if cred.end <= now:
        return f"expired {_days(now - cred.end)} ago"
    return f"expires in {_days(cred.end - now)}"


@check(
    id="identity.sp-expired",
    title="Service principal credentials expired or expiring",
    severity="error",
    scope="cluster",
    needs=("graph_objects", "now"),
    optional=(*IDENTITY_FACTS, "nodes", "cluster"),
    docs=SP_DOCS,
    fix_action="reset-sp-credential",
)
def run_sp_expired(ctx: CheckContext) -> Iterator[Finding]:
    principals = service_principals(ctx.fact)
    if not principals:
        raise NotApplicable("the cluster uses a managed identity (no service principal)")
    by_app: dict[str, list[dict]] = defaultdict(list)
    for obj in ctx.fact("graph_objects"):
        by_app[str(obj.get("appId") or "").lower()].append(obj)
    skipped = []
    for sp in principals:
        objects = by_app.get(sp.app_id.lower(), [])
        if objects and not any(_is_application(o) for o in objects) and not _credentials(objects):
            skipped.append(f"only the service principal object of {sp.app_id} was read, not its application")
            continue
        finding = _sp_finding(ctx, sp, objects)
        if finding:
            yield finding
    if len(skipped) == len(principals):
        raise Skipped(skipped[0])


def _sp_finding(ctx: CheckContext, sp: ServicePrincipal, objects: Sequence[Mapping[str, Any]]) -> Finding | None:
    now = ctx.now
    if not objects:
        return ctx.finding(
            f"The service principal {sp.app_id} the cluster signs in with has no application in Microsoft Graph: "
            "it was deleted, or it belongs to another tenant. Sign-in then fails with AADSTS700016, so its "
            "credentials cannot be checked or renewed.",
            sp.evidence,
            fix=_recreate_fix(ctx, sp.app_id),
            severity="warning",
        )
    creds = _credentials(objects)
    label = f"{sp.app_id} ({objects[0].get('displayName') or 'no display name'})"
    if not creds:
        return ctx.finding(
            f"The service principal {label} has no password or certificate credential: the cloud provider has "
            "nothing to sign in with.",
            sp.evidence,
            fix=_reset_fix(ctx, sp.app_id),
        )
    valid = [c for c in creds if c.end is None or c.end > now]  # newest (or endless) first
    newest = creds[0]
    if valid and (valid[0].end is None or valid[0].end - now >= EXPIRY_WARNING):
        return None
    evidence = [*sp.evidence, *(_credential_evidence(sp.app_id, c, now) for c in creds[:EVIDENCE_CAP])]
    effect = (
        "the cloud provider can no longer sign in to Azure (AADSTS7000222): load balancers, public IPs and routes "
        "stop being updated and new LoadBalancer Services stay pending."
    )
    if not valid:
        cause = (
            f"All {len(creds)} credential(s) of the service principal {label} have expired; the newest ended "
            f"{newest.end_text} ({_when(newest, now)}), so {effect}"
        )
        return ctx.finding(cause, evidence, fix=_reset_fix(ctx, sp.app_id))
    expired = len(creds) - len(valid)
    cause = (
        f"The newest credential of the service principal {label} ends {valid[0].end_text} "
        f"({_when(valid[0], now)})" + (f"; {expired} other(s) already expired" if expired else "") + ". When it "
        f"ends, {effect} Service principals AKS creates get secrets that last one year."
    )
    return ctx.finding(cause, evidence, fix=_reset_fix(ctx, sp.app_id), severity="warning")


def _credential_evidence(app_id: str, cred: _Credential, now: datetime) -> Evidence:
    name = f", displayName {cred.name}" if cred.name else ""
    return Evidence(
        "Graph",
        f"application {app_id} {cred.kind} credential {cred.key_id or '(no keyId)'}",
        f"endDateTime {cred.end_text or '<absent>'} ({_when(cred, now)}){name}",
    )


_CREDENTIAL_COLUMNS = "[].{keyId:keyId, name:displayName, end:endDateTime}"


def _reset_fix(ctx: CheckContext, app_id: str) -> Fix:
    """A new secret, appended: the old one keeps working until the cluster has the new one."""
    cluster = _cluster(ctx)
    reset = shell.command("az", "ad", "app", "credential", "reset", "--id", app_id, "--append", "--query", "password")
    commands = [
        shell.command(
            "az", "ad", "app", "credential", "list", "--id", app_id, "--query", _CREDENTIAL_COLUMNS, "-o", "table"
        ),
        f"SP_SECRET=$({reset} -o tsv)",
    ]
    if cluster.aks:
        commands.append(
            shell.command(
                "az",
                "aks",
                "update-credentials",
                "-g",
                cluster.resource_group,
                "-n",
                cluster.name,
                "--reset-service-principal",
                "--service-principal",
                app_id,
                "--client-secret",
                shell.Var("SP_SECRET"),
            )
        )
        where = "hand it to the cluster (update-credentials rolls the nodes; large clusters take a while)"
        mi = "az aks update --enable-managed-identity"
    else:
        where = (
            f"put it in aadClientSecret of /etc/kubernetes/azure.json on every node (or the kube-system/{SECRET_NAME} "
            "secret) and restart kubelet and the cloud-controller-manager"
        )
        mi = "useManagedIdentityExtension in the cloud config"
    return Fix(
        f"Create a new client secret for the service principal and {where}. A managed identity ({mi}) has no "
        "secret to expire.",
        tuple(commands),
        "reset-sp-credential",
    )


def _recreate_fix(ctx: CheckContext, app_id: str) -> Fix:
    cluster = _cluster(ctx)
    commands = [shell.command("az", "ad", "app", "show", "--id", app_id, "--query", "{appId:appId, name:displayName}")]
    if cluster.aks:
        commands.append(_enable_mi(cluster))
    return Fix(
        "Confirm the application is gone (or that the cloud config names the wrong tenant); then move the cluster "
        "to a managed identity, or create a new service principal and hand it to the cluster.",
        tuple(commands),
    )


def _enable_mi(cluster: _Cluster) -> str:
    return shell.command(
        "az", "aks", "update", "-g", cluster.resource_group, "-n", cluster.name, "--enable-managed-identity"
    )


# ---- identity.service-principal -----------------------------------------------------------------------------


@check(
    id="identity.service-principal",
    title="Cluster signs in with a service principal",
    severity="info",
    scope="cluster",
    needs=(),
    optional=(*IDENTITY_FACTS, "nodes", "cluster"),
    docs=MI_DOCS,
)
def run_service_principal(ctx: CheckContext) -> Iterator[Finding]:
    principals = service_principals(ctx.fact)
    if not principals:
        return
    evidence = [e for sp in principals for e in sp.evidence]
    cfg = ctx.fact_or("cloud_config")
    if cfg is not None and not cfg.problem:
        evidence.append(Evidence("Config", cfg.source, cfg.describe("useManagedIdentityExtension")))
    ids = ", ".join(sp.app_id for sp in principals)
    cause = (
        f"The cluster signs in to Azure with the service principal {ids}. Its secret has to be rotated by hand "
        "before it expires (AKS-created ones last one year); a managed identity has no secret to expire or leak."
    )
    cluster = _cluster(ctx)
    if cluster.aks:
        upgrades = [
            shell.command(
                "az",
                "aks",
                "nodepool",
                "upgrade",
                "-g",
                cluster.resource_group,
                "--cluster-name",
                cluster.name,
                "-n",
                pool,
                "--node-image-only",
            )
            for pool in cluster.pools[:3]
        ]
        fix = Fix(
            "Move the cluster to a managed identity. The control plane switches at once; the kubelet keeps the "
            "service principal until each node pool gets a node image upgrade.",
            (_enable_mi(cluster), *upgrades),
        )
    else:
        fix = Fix(
            "Switch the cloud config to a managed identity: set useManagedIdentityExtension: true (and "
            "userAssignedIdentityID for a user-assigned identity attached to the nodes), remove aadClientSecret, "
            "and give the identity the roles the service principal had."
        )
    yield ctx.finding(cause, evidence, fix=fix)


# ---- identity.cloud-config ----------------------------------------------------------------------------------


@check(
    id="identity.cloud-config",
    title="Cloud provider config missing fields or contradictory",
    severity="error",
    scope="cluster",
    needs=("cloud_config",),
    optional=("nodes",),
    docs=CONFIG_DOCS,
)
def run_cloud_config(ctx: CheckContext) -> Iterator[Finding]:
    cfg: CloudConfig = ctx.fact("cloud_config")
    if cfg.problem:
        yield _config_finding(
            ctx,
            cfg,
            f"The cloud provider cannot parse {cfg.source}: {cfg.problem}. It refuses to start (or keeps running "
            "on the config it loaded before).",
            (),
            "Fix the syntax (JSON or YAML, one mapping of settings).",
        )
        return
    typed_wrong = list(_typed_wrong(ctx, cfg))
    if typed_wrong:  # the provider rejects the whole config: nothing else in it takes effect
        yield from typed_wrong
        return
    nodes = [(n, p) for n in ctx.fact_or("nodes", []) if (p := pid.parse_provider_id(pid.provider_id(n)))]
    for detect in (_identity_problems, _missing_keys, _lb_sku, _vm_type, _placement, _control_plane):
        yield from detect(ctx, cfg, nodes)


NodeIds = Sequence[tuple[Mapping[str, Any], pid.ProviderId]]


def _config_finding(
    ctx: CheckContext,
    cfg: CloudConfig,
    cause: str,
    keys: Sequence[str],
    summary: str,
    *,
    severity: str | None = None,
    extra: Sequence[Evidence] = (),
) -> Finding:
    evidence = [Evidence("Config", cfg.source, cfg.describe(k)) for k in keys]
    return ctx.finding(
        cause, [*evidence, *extra], fix=_config_fix(cfg, summary), resource=cfg.source, severity=severity
    )


def _config_fix(cfg: CloudConfig, summary: str) -> Fix:
    """Where to make the change: the secret (decode, edit, re-apply, restart the CCM) or the file on the nodes."""
    if not cfg.in_secret:
        return Fix(
            f"{summary} Edit /etc/kubernetes/azure.json on every node (and the cloud-controller-manager's copy), "
            "then restart kubelet and the cloud-controller-manager. On AKS the file is managed: change the cluster "
            "with az aks instead."
        )
    get = shell.command(
        "kubectl", "-n", "kube-system", "get", "secret", SECRET_NAME, "-o", f"jsonpath={{.data.{SECRET_KEY}}}"
    )
    create = shell.command(
        "kubectl",
        "-n",
        "kube-system",
        "create",
        "secret",
        "generic",
        SECRET_NAME,
        f"--from-file={SECRET_KEY}=azure.json",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    restart = shell.command("kubectl", "-n", "kube-system", "rollout", "restart", "deployment", CCM_DEPLOYMENT)
    return Fix(
        f"{summary} Decode the secret to a file, edit it, apply it back and restart the cloud-controller-manager.",
        (f"{get} | base64 -d > azure.json", f"{create} | kubectl apply -f -", restart),
    )


def _typed_wrong(ctx: CheckContext, cfg: CloudConfig) -> Iterator[Finding]:
    wrong = [k for k in rules()["boolean_keys"] if isinstance(cfg.get(k), str)]
    if wrong:
        yield _config_finding(
            ctx,
            cfg,
            f"{', '.join(cfg.key(k) or k for k in wrong)} must be a boolean (true/false), not a quoted string: the "
            "provider decodes the config with Go's encoding/json, which rejects the whole config.",
            wrong,
            "Write the value without quotes.",
        )


def _identity_problems(ctx: CheckContext, cfg: CloudConfig, _: NodeIds) -> Iterator[Finding]:
    mi, wi = uses_managed_identity(cfg), uses_workload_identity(cfg)
    secret = cfg.is_set("aadClientSecret") and not is_placeholder(cfg.get("aadClientSecret"))
    if mi and secret:
        yield _config_finding(
            ctx,
            cfg,
            "useManagedIdentityExtension is true and aadClientSecret also holds a secret: the provider signs in "
            "with the managed identity (it wins over a service principal) and ignores the secret, which only "
            "lingers on every node where it can leak.",
            ("useManagedIdentityExtension", "aadClientSecret"),
            "Remove aadClientSecret (and rotate it if the service principal is still in use elsewhere).",
            severity="warning",
        )
    if not mi and is_placeholder(cfg.get("aadClientId")):
        yield _config_finding(
            ctx,
            cfg,
            f'aadClientId is the managed-identity placeholder "{cfg.get("aadClientId")}" but '
            "useManagedIdentityExtension is not true: the provider signs in as an application named that, which "
            "fails with AADSTS700016 (application not found).",
            ("aadClientId", "useManagedIdentityExtension"),
            "Set useManagedIdentityExtension: true, or put the service principal's app id in aadClientId.",
        )
    if not mi and cfg.is_set("userAssignedIdentityID"):
        yield _config_finding(
            ctx,
            cfg,
            "userAssignedIdentityID is set but useManagedIdentityExtension is not true, so the identity is ignored "
            "and the provider signs in with aadClientId/aadClientSecret instead.",
            ("userAssignedIdentityID", "useManagedIdentityExtension", "aadClientId"),
            "Set useManagedIdentityExtension: true to use the identity, or remove userAssignedIdentityID.",
            severity="warning",
        )
    if not (mi or wi or secret or cfg.is_set("aadClientCertPath")):
        yield _config_finding(
            ctx,
            cfg,
            "The config gives the provider no way to sign in: no managed identity (useManagedIdentityExtension), "
            "no workload identity, no aadClientSecret and no aadClientCertPath. The provider fails with "
            '"no credentials provided for Azure cloud provider".',
            ("useManagedIdentityExtension", "useFederatedWorkloadIdentityExtension", "aadClientId", "aadClientSecret"),
            "Configure one identity: a managed identity (preferred) or a service principal with its secret.",
        )


def _missing_keys(ctx: CheckContext, cfg: CloudConfig, _: NodeIds) -> Iterator[Finding]:
    wanted = list(rules()["required_keys"])
    if not uses_managed_identity(cfg):
        wanted += rules()["required_for_app_sign_in"]
    missing = [k for k in wanted if not cfg.is_set(k)]
    if missing:
        yield _config_finding(
            ctx,
            cfg,
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: the provider cannot tell where "
            "the cluster's resources are (subscriptionId, resourceGroup) or whom to sign in as (tenantId, "
            "aadClientId), and its Azure calls fail.",
            missing,
            "Set the missing fields (the node resource group for resourceGroup).",
        )


def _lb_sku(ctx: CheckContext, cfg: CloudConfig, _: NodeIds) -> Iterator[Finding]:
    standard = rules()["standard_load_balancer_sku"]
    value = cfg.text("loadBalancerSku")
    if value.lower() == standard:
        return
    said = "is not set" if not value else f'is "{value}", not "{standard}"'
    yield _config_finding(
        ctx,
        cfg,
        f"loadBalancerSku {said}, so cloud-provider-azure creates Basic load balancers and public IPs. Azure "
        "retired both Basic SKUs on 30 September 2025, and Basic pools take only one availability set or scale set.",
        ("loadBalancerSku",),
        f'Set loadBalancerSku: "{standard}" (moving existing Services to Standard recreates their load balancers).',
        severity="warning",
    )


def _node_evidence(nodes: NodeIds) -> list[Evidence]:
    return [field_evidence("Node", n, "spec.providerID", p.raw) for n, p in nodes[:EVIDENCE_CAP]]


def _vm_type(ctx: CheckContext, cfg: CloudConfig, nodes: NodeIds) -> Iterator[Finding]:
    value = cfg.text("vmType")
    if not value:
        return
    kinds = rules()["vm_types"].get(value.lower())
    if kinds is None:
        yield _config_finding(
            ctx,
            cfg,
            f'vmType "{value}" is not one of {", ".join(rules()["vm_types"])}: the provider cannot manage the nodes.',
            ("vmType",),
            "Set vmType to vmss (it handles scale sets and availability sets alike).",
        )
        return
    wrong = [(n, p) for n, p in nodes if p.kind not in kinds]
    if wrong:
        names = [kube.name(n) for n, _ in wrong]
        yield _config_finding(
            ctx,
            cfg,
            f'vmType is "{value}" but {len(wrong)} node(s) ({names_text(names)}) are VM scale set instances, which '
            'that mode cannot find ("instance not found"): they never join a backend pool.',
            ("vmType",),
            "Set vmType to vmss.",
            extra=_node_evidence(wrong),
        )


def _placement(ctx: CheckContext, cfg: CloudConfig, nodes: NodeIds) -> Iterator[Finding]:
    """Nodes in another subscription, or in another resource group without the label that says so."""
    sub, rg = cfg.text("subscriptionId").lower(), cfg.text("resourceGroup").lower()
    other_sub, other_rg = [], []
    for n, p in nodes:
        node_rg = p.resource_group.lower()
        if sub and p.subscription.lower() != sub:
            other_sub.append((n, p))
        elif rg and node_rg != rg and kube.labels(n).get(NODE_RG_LABEL, "").lower() != node_rg:
            other_rg.append((n, p))
    for found, key, what in (
        (other_sub, "subscriptionId", "subscription"),
        (other_rg, "resourceGroup", "resource group"),
    ):
        if not found:
            continue
        names = [kube.name(n) for n, _ in found]
        hint = "" if key == "subscriptionId" else f" (or label those nodes {NODE_RG_LABEL}=<their resource group>)"
        yield _config_finding(
            ctx,
            cfg,
            f"{len(found)} node(s) ({names_text(names)}) live in another {what} than the config's {key}: the "
            'provider looks for their VMs in the wrong place ("instance not found") and leaves them out of '
            "backend pools.",
            (key,),
            f"Set {key} to the {what} of the node VMs{hint}.",
            extra=_node_evidence(found),
        )


def _control_plane(ctx: CheckContext, cfg: CloudConfig, nodes: NodeIds) -> Iterator[Finding]:
    """excludeMasterFromStandardLB (default true) keeps control-plane nodes out of Standard LB pools."""
    if not nodes or cfg.text("loadBalancerSku").lower() != rules()["standard_load_balancer_sku"]:
        return
    control = [(n, p) for n, p in nodes if control_plane_label(kube.labels(n))]
    if cfg.get("excludeMasterFromStandardLB") is not False and len(control) == len(nodes):
        yield _config_finding(
            ctx,
            cfg,
            f"Every Azure node ({len(nodes)}) is a control-plane node and excludeMasterFromStandardLB is not false: "
            "the provider keeps control-plane nodes out of Standard load balancer pools, so LoadBalancer Services "
            'have no backend ("There are no available nodes for LoadBalancer").',
            ("excludeMasterFromStandardLB", "loadBalancerSku"),
            "Add worker nodes, or set excludeMasterFromStandardLB: false if control-plane nodes should serve traffic.",
            severity="warning",
            extra=_node_evidence(control),
        )
    elif cfg.get("excludeMasterFromStandardLB") is False and control:
        yield _config_finding(
            ctx,
            cfg,
            f"excludeMasterFromStandardLB is false, so {len(control)} control-plane node(s) join Standard load "
            "balancer pools and take Service traffic.",
            ("excludeMasterFromStandardLB",),
            "Keep it only if that is intended; the default (true) keeps control-plane nodes out of the pools.",
            severity="info",
            extra=_node_evidence(control),
        )
