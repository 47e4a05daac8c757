"""`kubectl-aksdoctor fix` with its Azure side, in-process: KubeFake for the cluster, ArmFake for ARM and Graph, the
real azure-core pipelines in between. Never the user's kubeconfig or Azure sign-in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from unittest import mock

from armfake import ArmFake, ClaimsToken
from azure_builders import vmss
from builders import NODE_RG, SUB
from fixkit import Result, run_cli
from kubefake import KubeFake

from aksdoctor.sources.arm_clouds import cloud_named
from aksdoctor.sources.arm_writer import AzureSession
from kubectl_aksdoctor import fix_commands

OPERATOR = {
    "oid": "3f2c1b0a-1111-4222-8333-444455556666",
    "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    "upn": "ops@contoso.example",
    "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
}
OPERATOR_USER = f"ops@contoso.example (oid {OPERATOR['oid']}, appid {OPERATOR['appid']}, tid {OPERATOR['tid']})"
POOL = "aks-nodepool1-12345678-vmss"


def group(rg: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}"


def listing(rg: str, rtype: str) -> str:
    return f"{group(rg)}/providers/{rtype}"


def cluster_path(name: str = "prod-aks", rg: str = "prod-rg") -> str:
    return f"{group(rg)}/providers/Microsoft.ContainerService/managedClusters/{name}"


def serve_cluster(
    arm: ArmFake,
    *,
    public_ips: Sequence[Mapping[str, Any]] = (),
    locks: Sequence[Mapping[str, Any]] = (),
    role_assignments: Sequence[Mapping[str, Any]] = (),
    managed: Mapping[str, Any] | None = None,
    apps: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """The node resource group's lists the Azure facts of the actions read; the scale set puts the VNet there too."""
    arm.collection(listing(NODE_RG, "Microsoft.Network/publicIPAddresses"), public_ips)
    arm.list(listing(NODE_RG, "Microsoft.Authorization/locks"), locks)
    arm.list(listing(NODE_RG, "Microsoft.Authorization/roleAssignments"), role_assignments)
    arm.list(listing(NODE_RG, "Microsoft.Compute/virtualMachineScaleSets"), [vmss(POOL)])
    if managed is not None:
        arm.get(cluster_path(), managed)
    if apps is not None:
        arm.graph_applications(apps)


def session(arm: ArmFake, credential: Any = None, max_wait: float = 5.0) -> AzureSession:
    return AzureSession(
        cloud_named("AzureCloud"),
        credential or ClaimsToken(OPERATOR),
        base_url=arm.url,
        graph_url=arm.url,
        connection_verify=arm.ca_file,
        max_wait=max_wait,
    )


def fix(kube: KubeFake, arm: ArmFake, tmp_path: Any, action: str, *args: str, **session_kw: Any) -> Result:
    """`fix ACTION ... -o json` against both fakes; what it sent is `kube.requests` and `arm.requests`."""
    config = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod-aks")
    kube.requests.clear()
    arm.clear()
    with mock.patch.object(fix_commands, "_azure_session", lambda _args: session(arm, **session_kw)):
        return run_cli(tmp_path, "fix", action, "--kubeconfig", config, "-o", "json", *args)


def arm_writes(arm: ArmFake) -> list[tuple[str, str, str | None, Any]]:
    """(method, path, api-version, parsed body) of every write ArmFake received, in order."""
    return [(r.method, r.path, r.query.get("api-version"), r.json()) for r in arm.writes]


def printed(result: Result) -> str:
    """Everything the run printed: the report with its audit record (stdout) and stderr."""
    return result.stdout + "\n" + result.stderr
