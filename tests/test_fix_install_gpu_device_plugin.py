"""fix install-gpu-device-plugin against KubeFake: create the pinned DaemonSet with the GPU nodes' tolerations, or
patch an existing plugin's tolerations instead of adding a second one; AKS-managed GPU pools are only explained."""

import copy
import json

from builders import daemonset, node, system_pod
from fixkit import cluster_writes, fix
from kubefake import KubeFake

from aksdoctor import knowledge

GPU0, GPU1 = "aks-gpu-27182818-vmss000000", "aks-gpuspot-31415926-vmss000000"
SKU_GPU = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
SPOT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}
UNINITIALIZED = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}
NVIDIA = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
DS = "nvidia-device-plugin-daemonset"
DS_PATH = f"/apis/apps/v1/namespaces/kube-system/daemonsets/{DS}"
DS_COLLECTION = "/apis/apps/v1/namespaces/kube-system/daemonsets"
IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.18.0"


def gpu_node(name=GPU0, *, taints=(SKU_GPU,), size="Standard_NC6s_v3", labels=None):
    return node(
        name, instance_type=size, taints=taints, labels={"kubernetes.azure.com/agentpool": "gpu", **(labels or {})}
    )


def existing_plugin(tolerations=(NVIDIA,), **kw):
    return daemonset(DS, image="nvcr.io/nvidia/k8s-device-plugin:v0.17.1", tolerations=tolerations, **kw)


def objects(*extra):
    return [
        node(),
        gpu_node(GPU0),
        gpu_node(GPU1, taints=(SKU_GPU, SPOT, UNINITIALIZED)),
        daemonset("kube-proxy"),
        *extra,
    ]


def plugin_controller(fake, request, ds):
    """Plays the DaemonSet controller and kubelet: a ready plugin pod per GPU node, then the GPUs show up."""
    for name in (GPU0, GPU1):
        fake.add(system_pod(f"{DS}-{name[-4:]}", owner=("DaemonSet", DS), node=name))
        gpu = fake.stored("Node", name)
        gpu["status"]["capacity"]["nvidia.com/gpu"] = "1"
        fake.add(gpu)


def expected_manifest():
    manifest = copy.deepcopy(knowledge.load("fixes")["gpu_device_plugin"]["manifest"])
    spec = manifest["spec"]["template"]["spec"]
    spec["tolerations"] = [
        NVIDIA,
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"},
    ]
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.azure.com/accelerator", "operator": "In", "values": ["nvidia"]}
                        ]
                    },
                    {"matchExpressions": [{"key": "accelerator", "operator": "In", "values": ["nvidia"]}]},
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": ["Standard_NC6s_v3"],
                            }
                        ]
                    },
                ]
            }
        }
    }
    return manifest


def test_dry_run_plans_the_pinned_daemonset(tmp_path):
    with KubeFake(objects()) as fake:
        result = fix(fake, tmp_path, "install-gpu-device-plugin")
        assert {r.method for r in fake.requests} == {"GET"}
    assert result.code == 0
    plan = result.doc["plan"]
    [step] = plan["steps"]
    assert step["request"] == {
        "api": "kubernetes",
        "method": "POST",
        "path": DS_COLLECTION,
        "contentType": "application/json",
        "body": expected_manifest(),
    }
    assert step["request"]["body"]["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    manifest_json = json.dumps(expected_manifest(), separators=(",", ":"))
    assert step["command"] == f"printf '%s\\n' '{manifest_json}' | kubectl create -f -"
    assert step["rollback"] == f"kubectl -n kube-system delete daemonset {DS}"
    assert step["description"] == (
        f"create DaemonSet kube-system/{DS} (image {IMAGE}; tolerates sku=gpu:NoSchedule, "
        "kubernetes.azure.com/scalesetpriority=spot:NoSchedule)"
    )
    assert "node affinity keeps it off other nodes" in plan["blastRadius"]
    assert any("--enable-managed-gpu" in n for n in plan["notes"])  # the AKS-managed alternative


def test_apply_creates_it_and_the_gpus_appear(tmp_path):
    with KubeFake(objects()) as fake:
        fake.on("POST", DS_COLLECTION, plugin_controller)
        result = fix(fake, tmp_path, "install-gpu-device-plugin", "--yes", "--timeout", "5")
        assert cluster_writes(fake) == [("POST", DS_COLLECTION, "application/json", expected_manifest())]
        created = fake.stored("DaemonSet", DS, "kube-system")
        again = fix(fake, tmp_path, "install-gpu-device-plugin", "--yes")
        assert fake.writes == []
    assert created["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    assert result.code == 0, result.stdout
    assert result.doc["outcome"] == "verified"
    assert result.doc["verification"]["checks"] == [{"id": "gpu.device-plugin-missing", "status": "passed"}]
    assert (again.code, again.doc["outcome"]) == (0, "nothing-to-do")


def test_plugin_that_never_registers_is_not_verified(tmp_path):
    with KubeFake(objects()) as fake:
        result = fix(fake, tmp_path, "install-gpu-device-plugin", "--yes", "--timeout", "0")
    assert result.code == 1
    doc = result.doc
    assert (doc["outcome"], doc["result"]["status"]) == ("not-verified", "applied")
    causes = [f["cause"] for f in doc["verification"]["findings"]]
    assert any(f"DaemonSet kube-system/{DS} may run there" in c for c in causes)
    # the uninitialized taint is transient: never tolerated, so that node waits for the cloud provider
    assert any("does not tolerate node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule" in c for c in causes)


def test_existing_plugin_gets_tolerations_not_a_second_daemonset(tmp_path):
    with KubeFake(objects(existing_plugin())) as fake:
        fake.on("PATCH", DS_PATH, plugin_controller)
        result = fix(fake, tmp_path, "install-gpu-device-plugin", "--yes", "--timeout", "5")
        new = [
            NVIDIA,
            {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
            {
                "key": "kubernetes.azure.com/scalesetpriority",
                "operator": "Equal",
                "value": "spot",
                "effect": "NoSchedule",
            },
        ]
        path = "/spec/template/spec/tolerations"
        assert cluster_writes(fake) == [
            (
                "PATCH",
                DS_PATH,
                "application/json-patch+json",
                [{"op": "test", "path": path, "value": [NVIDIA]}, {"op": "replace", "path": path, "value": new}],
            )
        ]
        assert fake.stored("DaemonSet", DS, "kube-system")["spec"]["template"]["spec"]["tolerations"] == new
    assert result.code == 0, result.stdout
    doc = result.doc
    assert doc["plan"]["summary"].startswith("Add tolerations to the existing device plugin")
    assert doc["plan"]["steps"][0]["rollback"] == (
        f"kubectl -n kube-system patch daemonset {DS} --type=json -p "
        f'\'[{{"op":"replace","path":"{path}","value":[{json.dumps(NVIDIA, separators=(",", ":"))}]}}]\''
    )
    assert doc["outcome"] == "verified"


def test_plugin_without_any_toleration_gets_the_list_added(tmp_path):
    with KubeFake([node(), gpu_node(GPU0), existing_plugin(tolerations=())]) as fake:
        result = fix(fake, tmp_path, "install-gpu-device-plugin")
    [step] = result.doc["plan"]["steps"]
    assert step["request"]["body"] == [
        {
            "op": "add",
            "path": "/spec/template/spec/tolerations",
            "value": [{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        }
    ]
    assert '"op":"remove"' in step["rollback"]


def test_selectors_and_managed_pools_are_explained_not_changed(tmp_path):
    managed = gpu_node(GPU1, taints=(), labels={"kubernetes.azure.com/dcgm-exporter": "enabled"})
    picky = existing_plugin(tolerations=(NVIDIA, SKU_GPU), node_selector={"nvidia.com/gpu.present": "true"})
    with KubeFake([node(), gpu_node(GPU0), managed, picky]) as fake:
        result = fix(fake, tmp_path, "install-gpu-device-plugin", "--yes")
        assert fake.writes == []
    assert (result.code, result.doc["outcome"]) == (0, "nothing-to-do")
    managed_note, selector_note = result.doc["plan"]["notes"]
    assert managed_note.startswith(f"{GPU1} are in AKS-managed GPU node pools")
    assert selector_note == (
        f"Not changed for node {GPU0}: DaemonSet kube-system/{DS} has nodeSelector nvidia.com/gpu.present=true the "
        "node lacks. Selectors and affinity are left to you."
    )
    assert result.doc["verification"]["checks"][0]["status"] == "failed"  # shown, though nothing can be done here


def test_daemonset_created_meanwhile_is_a_reported_conflict(tmp_path):
    with KubeFake(objects()) as fake:
        fake.add(existing_plugin())  # someone else installs it between our plan and our POST
        fake.fail(DS_COLLECTION, 409, _already_exists(), when=lambda r: r.method == "POST")
        fake.remove("DaemonSet", DS, "kube-system")  # ...but our plan was made before: replay that order
        result = fix(fake, tmp_path, "install-gpu-device-plugin", "--yes", "--timeout", "0")
    assert result.code == 1
    assert result.doc["outcome"] == "failed"
    assert result.doc["result"]["steps"][0]["detail"] == f'HTTP 409: daemonsets.apps "{DS}" already exists'


def _already_exists():
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": f'daemonsets.apps "{DS}" already exists',
        "reason": "AlreadyExists",
        "code": 409,
        "details": {"name": DS, "group": "apps", "kind": "daemonsets"},
    }
