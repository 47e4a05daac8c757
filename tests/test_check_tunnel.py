"""tunnel.unhealthy: konnectivity-agent (or a legacy tunnel) not running, and what its pods say."""

from builders import deployment, findings, node, outcome, run_snapshot, service, system_pod, write_snapshot

CHECK = "tunnel.unhealthy"
AGENT = {"app": "konnectivity-agent", "component": "tunnel"}
OWNER = ("ReplicaSet", "konnectivity-agent-6f8c9d7b5")
CRASH = ("CrashLoopBackOff", "back-off 5m0s restarting failed container=konnectivity-agent")


def agent(suffix, **kw):
    return system_pod(f"konnectivity-agent-6f8c9d7b5-{suffix}", owner=OWNER, labels=AGENT, **kw)


def coredns():
    return system_pod(
        "coredns-7d4b9c7c6-abcde", owner=("ReplicaSet", "coredns-7d4b9c7c6"), labels={"k8s-app": "kube-dns"}
    )


def run(tmp_path, objects, **kw):
    return run_snapshot(write_snapshot(tmp_path, objects, **kw), include=[CHECK])


def test_no_ready_agent(tmp_path):
    objects = [
        deployment("konnectivity-agent", labels=AGENT, replicas=2, ready=0),
        agent("7d9fb", ready=False, waiting=CRASH, restarts=47, last_terminated="Error"),
        agent("x4k2p", ready=False, waiting=CRASH, restarts=50, last_terminated="Error"),
    ]
    [finding] = findings(run(tmp_path, objects), CHECK)
    assert finding.severity.label == "error"
    assert finding.resource == "Deployment kube-system/konnectivity-agent"
    assert "konnectivity-agent has no ready pod (2 not ready)" in finding.cause
    assert "dial tcp <node-ip>:10250: i/o timeout" in finding.cause
    assert "Pods are crash-looping" in finding.cause
    assert "egress TCP 443 to the API server blocked" in finding.cause
    dep, pod1, _ = finding.evidence
    assert dep.detail == (
        "replicas=2 readyReplicas=0 availableReplicas=0; Deployment does not have minimum availability."
    )
    assert pod1.ref == "Pod kube-system/konnectivity-agent-6f8c9d7b5-7d9fb"
    assert "waiting CrashLoopBackOff: back-off 5m0s restarting failed container=konnectivity-agent" in pod1.detail
    assert "last terminated Error (exit 1), restarts=47" in pod1.detail
    assert finding.fix.action == "restart-tunnel"
    assert finding.fix.commands == (
        "kubectl -n kube-system logs -l app=konnectivity-agent --tail=100",
        "kubectl -n kube-system describe pod konnectivity-agent-6f8c9d7b5-7d9fb",
        "kubectl -n kube-system rollout restart deployment konnectivity-agent",
    )


def test_deployment_without_pods(tmp_path):
    objects = [deployment("konnectivity-agent", labels=AGENT, replicas=2, ready=0), coredns()]
    [finding] = findings(run(tmp_path, objects), CHECK)
    assert "konnectivity-agent has no pod in kube-system" in finding.cause
    assert "kubectl -n kube-system describe deployment konnectivity-agent" in finding.fix.commands


def test_one_agent_pending_is_a_warning(tmp_path):
    pending = agent("p3nd1", ready=False, phase="Pending", unschedulable="0/3 nodes are available: 3 Insufficient cpu.")
    [finding] = findings(run(tmp_path, [agent("r3ady"), pending]), CHECK)
    assert finding.severity.label == "warning"
    assert "1 of 2 konnectivity-agent pod(s) are unhealthy (1 ready)" in finding.cause
    assert "Pods are Pending" in finding.cause
    assert "unschedulable: 0/3 nodes are available: 3 Insufficient cpu." in finding.evidence[0].detail


def test_oom_killed_restarts(tmp_path):
    [finding] = findings(run(tmp_path, [agent("r3ady", restarts=14, last_terminated="OOMKilled")]), CHECK)
    assert finding.severity.label == "warning"
    assert "Its containers were OOM-killed." in finding.cause
    assert "last terminated OOMKilled (exit 137), restarts=14" in finding.evidence[0].detail


def test_legacy_tunnelfront(tmp_path):
    old = system_pod("tunnelfront-5d8f7c9b6d-abcde", labels={"component": "tunnel"}, ready=False, waiting=CRASH)
    [finding] = findings(run(tmp_path, [old]), CHECK)
    assert "tunnelfront has no ready pod" in finding.cause
    assert "egress TCP 9000 to the API server" in finding.cause
    assert "tunnelfront is a legacy tunnel: current AKS versions use konnectivity-agent" in finding.cause


def test_component_label_alone_means_konnectivity(tmp_path):
    pod_ = system_pod("agent-x", labels={"component": "tunnel"}, ready=False, waiting=CRASH)
    [finding] = findings(run(tmp_path, [pod_]), CHECK)
    assert finding.cause.startswith("konnectivity-agent has no ready pod")


def test_quiet_when_agents_ready(tmp_path):
    objects = [deployment("konnectivity-agent", labels=AGENT), agent("a1"), agent("a2", restarts=2)]
    report = run(tmp_path, objects)
    assert findings(report, CHECK) == []
    assert outcome(report, CHECK) == ("passed", "")


def test_no_tunnel_on_aks_is_info(tmp_path):
    [finding] = findings(run(tmp_path, [node(), coredns()]), CHECK)
    assert finding.severity.label == "info"
    assert "expected with API Server VNet Integration" in finding.cause
    assert finding.evidence[0].detail == "MC_prod-rg_prod-aks_westeurope"
    assert finding.fix.commands == (
        "az aks show -g prod-rg -n prod-aks --query apiServerAccessProfile.enableVnetIntegration",
    )


def test_not_applicable_off_aks(tmp_path):
    plain = node("worker-1")
    del plain["metadata"]["labels"]["kubernetes.azure.com/cluster"]
    report = run(tmp_path, [plain, coredns()])
    assert outcome(report, CHECK) == (
        "not-applicable",
        "no tunnel component found: API Server VNet Integration or not AKS",
    )


def test_skipped_without_kube_system_pods(tmp_path):
    assert outcome(run(tmp_path / "a", [service("web")]), CHECK) == ("skipped", "not in snapshot: pods")
    empty = run(tmp_path / "b", [service("web")], captured_kinds=["Pod"])
    assert outcome(empty, CHECK) == ("skipped", "no kube-system pods in the data")
