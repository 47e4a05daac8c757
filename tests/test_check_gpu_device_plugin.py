"""gpu.device-plugin-missing: GPU nodes without nvidia.com/gpu, and why, from Kubernetes data alone."""

import json

from builders import daemonset, findings, node, outcome, run_snapshot, system_pod, write_snapshot

CHECK = "gpu.device-plugin-missing"
GPU0, GPU1, GPU2 = (f"aks-gpu-27182818-vmss00000{i}" for i in range(3))
SKU_GPU = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
SPOT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}
STATIC_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
DS_NAME = "nvidia-device-plugin-daemonset"


def gpu_node(name=GPU0, *, taints=(SKU_GPU,), capacity=None, labels=None, size="Standard_NC6s_v3"):
    return node(
        name,
        instance_type=size,
        taints=taints,
        labels={"kubernetes.azure.com/agentpool": "gpu", **(labels or {})},
        capacity=capacity,
    )


def plugin(namespace="kube-system", *, tolerations=(*STATIC_TOLERATIONS, SKU_GPU), labels=None, **kw):
    return daemonset(
        DS_NAME,
        namespace,
        image="nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
        labels=labels or {"name": "nvidia-device-plugin-ds"},
        tolerations=tolerations,
        **kw,
    )


def plugin_pod(node_name=GPU0, **kw):
    return system_pod(
        f"nvidia-device-plugin-daemonset-{node_name[-4:]}", owner=("DaemonSet", DS_NAME), node=node_name, **kw
    )


def run(tmp_path, objects, captured=("DaemonSet",)):
    return run_snapshot(write_snapshot(tmp_path, objects, captured_kinds=captured), include=[CHECK])


def test_no_device_plugin_anywhere(tmp_path):
    report = run(tmp_path, [gpu_node(), node(), daemonset("kube-proxy")])
    [finding] = findings(report, CHECK)
    assert finding.severity.label == "error"
    assert finding.resource == f"Node {GPU0}"
    assert f"1 GPU node(s) ({GPU0}) advertise no nvidia.com/gpu" in finding.cause
    assert "No NVIDIA device plugin DaemonSet exists in any namespace" in finding.cause
    assert "The GPU nodes are tainted (sku=gpu:NoSchedule)" in finding.cause
    details = {(e.ref, e.detail) for e in finding.evidence}
    assert (f"Node {GPU0} metadata.labels[node.kubernetes.io/instance-type]", "Standard_NC6s_v3") in details
    assert (f"Node {GPU0} status.capacity[nvidia.com/gpu]", "<absent>") in details
    apply_cmd, patch_cmd = finding.fix.commands
    assert apply_cmd == (
        "kubectl apply -f "
        "https://raw.githubusercontent.com/NVIDIA/k8s-device-plugin/v0.17.1/deployments/static/nvidia-device-plugin.yml"
    )
    assert patch_cmd.startswith(f"kubectl -n kube-system patch daemonset {DS_NAME} -p '")
    patch = json.loads(patch_cmd.split(" -p ", 1)[1].strip("'"))
    assert patch["spec"]["template"]["spec"]["tolerations"] == [
        *STATIC_TOLERATIONS,
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    assert finding.fix.action == "install-gpu-device-plugin"


def test_plugin_does_not_tolerate_spot_taint(tmp_path):
    spot = gpu_node(GPU1, taints=(SKU_GPU, SPOT), labels={"kubernetes.azure.com/accelerator": "nvidia"})
    objects = [gpu_node(capacity={"nvidia.com/gpu": "1"}), spot, plugin(), plugin_pod()]
    [finding] = findings(run(tmp_path, objects), CHECK)
    assert f"({GPU1})" in finding.cause
    assert (
        f"DaemonSet kube-system/{DS_NAME} does not tolerate kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
        in finding.cause
    )
    assert finding.evidence[0].ref == f"Node {GPU1} metadata.labels[kubernetes.azure.com/accelerator]"
    tolerations = [e for e in finding.evidence if e.ref.endswith("spec.template.spec.tolerations")]
    assert json.loads(tolerations[0].detail) == [*STATIC_TOLERATIONS, SKU_GPU]
    patch = json.loads(finding.fix.commands[0].split(" -p ", 1)[1].strip("'"))
    assert patch["spec"]["template"]["spec"]["tolerations"][-1] == {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }


def test_plugin_node_selector_does_not_match(tmp_path):
    ds = plugin(node_selector={"accelerator": "nvidia"})
    [finding] = findings(run(tmp_path, [gpu_node(), ds]), CHECK)
    assert "has nodeSelector accelerator=nvidia the node lacks" in finding.cause
    assert f"kubectl label node {GPU0} accelerator=nvidia" in finding.fix.commands


def test_plugin_node_affinity_excludes_node(tmp_path):
    ds = plugin("gpu-operator")
    ds["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}
                ]
            }
        }
    }
    [finding] = findings(run(tmp_path, [gpu_node(), ds]), CHECK)
    assert "has a required node affinity the node does not satisfy" in finding.cause
    assert any("nvidia.com/gpu.present" in e.detail for e in finding.evidence)


def test_plugin_pod_crash_looping(tmp_path):
    crashing = plugin_pod(
        ready=False, waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"), restarts=12
    )
    [finding] = findings(run(tmp_path, [gpu_node(), plugin(desired=1, ready=0), crashing]), CHECK)
    assert f"The device plugin pod of DaemonSet kube-system/{DS_NAME} on each of them is not ready" in finding.cause
    assert '"could not load NVML library"' in finding.cause
    pod_evidence = [e for e in finding.evidence if e.source == "Pod"]
    assert "waiting CrashLoopBackOff: back-off 5m0s restarting failed container" in pod_evidence[0].detail
    assert ("DaemonSet", "desiredNumberScheduled=1 numberReady=0") in {(e.source, e.detail) for e in finding.evidence}
    assert finding.fix.commands[0] == f"kubectl -n kube-system logs {crashing['metadata']['name']}"


def test_plugin_ready_but_no_gpu_found(tmp_path):
    [finding] = findings(run(tmp_path, [gpu_node(capacity={"nvidia.com/gpu": "0"}), plugin(), plugin_pod()]), CHECK)
    assert "is ready on each of them yet advertises no GPU" in finding.cause
    assert "--gpu-driver none" in finding.cause
    assert (f"Node {GPU0} status.capacity[nvidia.com/gpu]", "0") in {(e.ref, e.detail) for e in finding.evidence}


def test_plugin_has_no_pod_on_node(tmp_path):
    other = system_pod("coredns-1", owner=("ReplicaSet", "coredns-7d4b9c7c6"))
    [finding] = findings(run(tmp_path, [gpu_node(), plugin(), other]), CHECK)
    assert f"DaemonSet kube-system/{DS_NAME} may run there" in finding.cause
    assert "but has no pod on them" in finding.cause
    assert finding.fix.commands == (f"kubectl -n kube-system describe daemonset {DS_NAME}",)


def test_gpu_operator_pods_not_collected(tmp_path):
    operator = plugin("gpu-operator", labels={"app": "nvidia-device-plugin-daemonset"})
    [finding] = findings(run(tmp_path, [gpu_node(), operator, plugin_pod()]), CHECK)
    assert "in namespace gpu-operator, whose pods were not collected" in finding.cause
    assert finding.fix.commands == (f"kubectl -n gpu-operator get pods -o wide --field-selector spec.nodeName={GPU0}",)


def test_aks_managed_gpu_pool(tmp_path):
    managed = gpu_node(labels={"kubernetes.azure.com/dcgm-exporter": "enabled"})
    managed["status"]["conditions"].append(
        {"type": "UnhealthyNvidiaDevicePlugin", "status": "True", "message": "nvidia-device-plugin.service failed"}
    )
    [finding] = findings(run(tmp_path, [managed]), CHECK)
    assert "AKS-managed GPU node pools (label kubernetes.azure.com/dcgm-exporter)" in finding.cause
    assert "Node Problem Detector reports the NVIDIA services unhealthy on 1 of them" in finding.cause
    assert ("Node", "nvidia-device-plugin.service failed") in {(e.source, e.detail) for e in finding.evidence}
    assert finding.fix.commands == (
        f"kubectl describe node {GPU0}",
        "az aks nodepool show -g prod-rg --cluster-name prod-aks -n gpu --query gpuProfile",
    )


def test_nodes_with_same_diagnosis_share_one_finding(tmp_path):
    [finding] = findings(run(tmp_path, [gpu_node(GPU0), gpu_node(GPU1), gpu_node(GPU2)]), CHECK)
    assert f"3 GPU node(s) ({GPU0}, {GPU1}, {GPU2})" in finding.cause
    assert finding.resource == "Cluster prod-aks"


def test_quiet_when_gpus_are_advertised(tmp_path):
    report = run(tmp_path, [gpu_node(capacity={"nvidia.com/gpu": "4"}), plugin(), plugin_pod()])
    assert findings(report, CHECK) == []
    assert outcome(report, CHECK) == ("passed", "")


def test_not_applicable_without_nvidia_gpu_nodes(tmp_path):
    amd = node("aks-amd-1-vmss000000", instance_type="Standard_NV4as_v4")
    report = run(tmp_path, [node(), amd])
    assert outcome(report, CHECK) == (
        "not-applicable",
        "no GPU nodes (no NVIDIA N-series VM size, no accelerator=nvidia label)",
    )


def test_skipped_without_daemonsets(tmp_path):
    assert outcome(run(tmp_path, [gpu_node()], captured=()), CHECK) == ("skipped", "not in snapshot: daemonsets")


def test_plugin_found_by_image_and_mps_daemon_ignored(tmp_path):
    mps = daemonset(
        "nvidia-device-plugin-mps-control-daemon", "gpu-operator", image="nvcr.io/nvidia/k8s-device-plugin:v0.17.1"
    )
    report = run(tmp_path / "a", [gpu_node(), mps])
    assert "No NVIDIA device plugin DaemonSet exists" in findings(report, CHECK)[0].cause
    mirrored = daemonset(
        "gpu-stack", image="mcr.microsoft.com/oss/v2/nvidia/k8s-device-plugin:v0.18.2-1", tolerations=[SKU_GPU]
    )
    report = run(tmp_path / "b", [gpu_node(), mirrored])
    assert "DaemonSet kube-system/gpu-stack may run there" in findings(report, CHECK)[0].cause
