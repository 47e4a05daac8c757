"""`az aks doctor --fix ACTION` and `--collect` in-process through azure-cli-core's DummyCli: plans on the bundled
example, applies against loopback fakes (KubeFake for the Kubernetes API reached through the in-memory kubeconfig
ARM hands out, ArmFake for ARM and Graph through a patched session factory), the exact writes, secrets kept out of
the output, exit codes, the argument conflicts, collect then --snapshot, and the help examples.
"""

from __future__ import annotations

import json
import re
import tarfile
from datetime import datetime, timezone

import az_harness  # first: it prepares azure-cli-core before anything imports it
import pytest
import yaml
from armfake import ArmFake, Reply
from az_harness import ROOT, AzResult, FakeManagedClusters, az, az_live, kubeconfig, managed_cluster
from azure_builders import graph_application
from azure_builders import managed_cluster as arm_managed_cluster
from azurefixkit import OPERATOR_USER, arm_writes, cluster_path, serve_cluster, session
from builders import NODE_RG, SUB, endpoint_slice, node, pod, service
from kubefake import KubeFake

from aksdoctor.fixes import action_names

EXAMPLE = str(ROOT / "examples" / "broken-cluster")
SNAPSHOT = ("aks", "doctor", "-n", "x", "-g", "y", "--snapshot", EXAMPLE)
LIVE = ("aks", "doctor", "-n", "prod-aks", "-g", "prod-rg")
TOKEN = "PLANTED-cluster-token"
USER_ENTRY = "clusterUser_prod-rg_prod-aks"
LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
N0, VK1, VK2 = "aks-nodepool1-12345678-vmss000000", "virtual-node-aci-linux", "virtual-node-aci-linux-2"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
MERGE_PATCH = "application/merge-patch+json"

pytestmark = pytest.mark.usefixtures("loopback_only")


def virtual_node(name: str) -> dict:
    """As the AKS virtual node add-on registers it: in no node pool, not an Azure VM."""
    made = node(name, provider_id=None, labels={"type": "virtual-kubelet", "kubernetes.io/role": "agent"})
    for key in ("kubernetes.azure.com/agentpool", "kubernetes.azure.com/cluster"):
        made["metadata"]["labels"].pop(key, None)
    return made


def clusters_for(fake: KubeFake) -> FakeManagedClusters:
    """ARM's view of cluster prod-aks (in the subscription and node resource group the builders' nodes name),
    whose user credentials reach `fake` with a static token."""
    mc = managed_cluster("prod-aks", "prod-rg", SUB)
    assert mc.node_resource_group == NODE_RG
    return FakeManagedClusters(mc, kubeconfig(fake.url, {"token": TOKEN}, USER_ENTRY))


def live(fake: KubeFake, *args: str, session=None) -> AzResult:
    fake.requests.clear()
    return az_live(clusters_for(fake), *LIVE, *args, subscription=SUB, session=session)


def kube_writes(fake: KubeFake) -> list[tuple]:
    return [(r.method, r.path, r.header("Content-Type"), r.json()) for r in fake.writes]


def assert_az_error(result: AzResult, code: int, *texts: str) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr and "ERROR: " in result.stderr
    for text in texts:
        assert text in result.stderr, result.stderr


# ---- plans on the bundled example -------------------------------------------------------------------------------


def test_plan_from_the_example_names_the_virtual_node_and_its_command():
    result = az(*SNAPSHOT, "--fix", "exclude-virtual-nodes", "-o", "json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert (run["action"], run["mode"], run["outcome"], run["result"]) == (
        "exclude-virtual-nodes",
        "plan",
        "planned",
        None,
    )
    [step] = run["plan"]["steps"]
    assert step["target"] == "Node virtual-node-aci-linux"
    assert step["request"] == {
        "api": "kubernetes",
        "method": "PATCH",
        "path": "/api/v1/nodes/virtual-node-aci-linux",
        "contentType": MERGE_PATCH,
        "body": {"metadata": {"labels": {LABEL: "true"}}},
    }
    assert step["command"] == f"kubectl label node virtual-node-aci-linux {LABEL}=true"
    audit = run["audit"]
    assert (audit["source"], audit["cluster"], audit["identity"]) == ("snapshot", "prod-aks", [])
    request = f"PATCH {step['request']['path']}"
    assert audit["changes"] == [{"step": 1, "target": step["target"], "request": request, "status": "planned"}]
    assert "Dry run: nothing was changed" in result.stderr


def test_plan_table_lists_step_verb_target_and_command():
    result = az(*SNAPSHOT, "--fix", "restart-tunnel", "-o", "table")
    assert result.code == 0, result.stderr
    header, _, *rows = result.stdout.splitlines()
    assert header.split() == ["Step", "Verb", "Target", "Command", "Status"]
    assert len(rows) == 2 and all(re.match(r"[12]\s+DELETE\s+Pod kube-system/konnectivity-agent-", r) for r in rows)
    assert all("kubectl -n kube-system delete pod konnectivity-agent-" in r and r.endswith("planned") for r in rows)


@pytest.mark.parametrize("action", action_names())
def test_every_action_plans_from_the_example_without_applying(action):
    query = "{mode: mode, outcome: outcome, result: result, source: audit.source, planned: audit.changes[].status}"
    result = az(*SNAPSHOT, "--fix", action, "--query", query, "-o", "json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert (run["mode"], run["outcome"], run["result"], run["source"]) == ("plan", "planned", None, "snapshot")
    assert run["planned"] and set(run["planned"]) == {"planned"}  # the example is broken in every way one fixes


def test_reset_flags_shape_the_plan():
    end = "plan.steps[0].request.body.passwordCredential.endDateTime"
    body = az(*SNAPSHOT, "--fix", "reset-sp-credential", "--end-date", "2031-03-01", "--query", end, "-o", "tsv")
    assert (body.code, body.stdout.strip()) == (0, "2031-03-01T00:00:00Z")


# ---- bad combinations: az's ValidationError, exit code 2, before anything is read --------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fix", "exclude-virtual-nodes", "--yes"), "--yes cannot be used with --snapshot"),
        (("--fix", "exclude-virtual-nodes", "--collect", "b.tar.gz"), "--fix and --collect cannot be used together"),
        (("--fix", "exclude-virtual-nodes", "--service", "default/web"), "--service cannot be used with --fix"),
        (("--fix", "restart-tunnel", "--check", "tunnel.*"), "--check cannot be used with --fix"),
        (("--fix", "restart-tunnel", "--fail-on", "none"), "--fail-on cannot be used with --fix"),
        (("--fix", "exclude-virtual-nodes", "--years", "2"), "--years only apply to reset-sp-credential"),
        (("--fix", "reset-sp-credential", "--years", "0"), "--years must be 1 or more"),
        (("--fix", "reset-sp-credential", "--end-date", "soon"), "--end-date: 'soon' is not a date"),
        (("--fix", "reset-sp-credential", "--end-date", "2031-01-01", "--years", "1"), "cannot be used together"),
        (("--fix", "restart-tunnel", "--timeout", "-5"), "--timeout -5"),
        (("--yes",), "--yes only applies with --fix ACTION"),
        (("--show-secret",), "--show-secret only applies with --fix ACTION"),
        (("--anonymize",), "--anonymize only applies with --collect"),
        (("--collect", "b.tar.gz"), "--collect reads the live cluster; it cannot be used with --snapshot"),
    ],
)
def test_conflicting_arguments_are_validation_errors(args, message):
    assert_az_error(az(*SNAPSHOT, *args), 2, message)


def test_collect_conflicts_with_diagnosis_scope_and_odd_archive_names():
    scoped = az(*LIVE, "--collect", "b.tar.gz", "--service", "shop/web")
    assert_az_error(scoped, 2, "--service cannot be used with --collect")
    assert_az_error(az(*LIVE, "--collect", "bundle.zip"), 2, "name it *.tar.gz")


def test_unknown_action_lists_the_registered_ones():
    assert_az_error(az(*SNAPSHOT, "--fix", "reboot-everything"), 2, "Allowed values:", *action_names())


# ---- apply: a Kubernetes action against KubeFake -------------------------------------------------------------------


def test_kubernetes_action_plans_then_applies_exactly_its_writes():
    with KubeFake([node(N0), virtual_node(VK1), virtual_node(VK2)], require_token=TOKEN) as fake:
        plan = live(fake, "--fix", "exclude-virtual-nodes", "-o", "json")
        assert {r.method for r in fake.requests} == {"GET"}  # a dry run writes nothing
        applied = live(fake, "--fix", "exclude-virtual-nodes", "--yes", "-o", "json")
        written = kube_writes(fake)
        again = live(fake, "--fix", "exclude-virtual-nodes", "--yes", "-o", "json")
        assert [w for w in kube_writes(fake) if w[1] != SSR] == []  # idempotent
        assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in fake.requests)
    assert plan.code == 0, plan.stderr
    assert plan.json()["audit"]["identity"] == [
        {"api": "kubernetes", "user": USER_ENTRY, "via": "kubeconfig user entry"}
    ]
    label = {"metadata": {"labels": {LABEL: "true"}}}
    assert written == [
        ("POST", SSR, "application/json", {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        ("PATCH", f"/api/v1/nodes/{VK1}", MERGE_PATCH, label),
        ("PATCH", f"/api/v1/nodes/{VK2}", MERGE_PATCH, label),
    ]
    assert applied.code == 0, applied.stderr
    run = applied.json()
    assert (run["outcome"], run["result"]["status"], run["verification"]["passed"]) == ("verified", "applied", True)
    assert run["audit"]["identity"] == [
        {"api": "kubernetes", "user": "fake-user", "via": "SelfSubjectReview", "groups": ["system:authenticated"]}
    ]
    assert (run["audit"]["source"], run["audit"]["cluster"]) == ("live", "prod-aks")
    assert (again.code, again.json()["outcome"]) == (0, "nothing-to-do")
    for result in (plan, applied, again):
        assert TOKEN not in result.stdout + result.stderr


def test_partly_applied_prints_the_result_then_fails():
    with KubeFake([node(N0), virtual_node(VK1), virtual_node(VK2)], require_token=TOKEN) as fake:
        fake.forbid("nodes", verb="patch", name=VK2)
        result = live(fake, "--fix", "exclude-virtual-nodes", "--yes", "-o", "table")
    message = f"exclude-virtual-nodes was partly applied: 1 of 2 step(s) done; step 2 (Node {VK2}): HTTP 403"
    assert_az_error(result, 1, message)
    rows = result.stdout.splitlines()[2:]
    assert [(r.split()[0], r.split()[-1]) for r in rows] == [("1", "done"), ("2", "failed")]


def test_applied_but_still_failing_prints_the_result_then_fails():
    def undo(kube, _request, written):  # something (a pool reconcile) takes the label away again
        labels = {k: v for k, v in written["metadata"]["labels"].items() if k != LABEL}
        kube.add({**written, "metadata": {**written["metadata"], "labels": labels}})

    with KubeFake([node(N0), virtual_node(VK1)], require_token=TOKEN) as fake:
        fake.on("PATCH", "/api/v1/nodes/", undo)
        result = live(fake, "--fix", "exclude-virtual-nodes", "--yes", "-o", "json")
    assert result.json()["outcome"] == "not-verified"
    still = "node.virtual-not-excluded does not pass: node.virtual-not-excluded failed"
    assert_az_error(result, 1, f"exclude-virtual-nodes was applied, but the re-check of {still}")


# ---- apply: an Azure action against ArmFake (ARM and Graph) --------------------------------------------------------

SP = "0b0c1f7e-8f0e-4c2a-9d55-1e2f3a4b5c6d"
APP_OBJECT = graph_application(SP)["id"]
NEW_SECRET = "Zq8~PLANTED-az-new-secret-0123456789abcdef"
NEW_KEY = "9a9a9a9a-0000-4000-8000-000000000002"
ADD = f"/v1.0/applications/{APP_OBJECT}/addPassword"
RESET = f"{cluster_path()}/resetServicePrincipalProfile"


def serve_sp_cluster(arm: ArmFake) -> dict:
    """AKS cluster prod-aks signing in with service principal SP, whose only secret has expired; Graph makes new
    ones (answering with the secret text, as Graph does) and AKS accepts resetServicePrincipalProfile."""
    app = graph_application(SP, ["2025-12-01T00:00:00Z"])
    serve_cluster(arm, managed=arm_managed_cluster(client_id=SP), apps=[app])

    def add_password(req):
        asked = req.json()["passwordCredential"]
        made = {**asked, "keyId": NEW_KEY, "hint": NEW_SECRET[:3], "secretText": NEW_SECRET}
        app["passwordCredentials"].append({**made, "secretText": None})
        return Reply(200, made)

    arm.route(ADD, add_password)
    arm.route(RESET, lambda _req: Reply(202, None, {"Location": f"{cluster_path()}/operations/1"}))
    return app


def command_logs() -> str:
    """What az wrote to its command log files (it copies log records there)."""
    folder = az_harness.HOME / "config" / "commands"
    return "".join(p.read_text(errors="replace") for p in folder.glob("*")) if folder.is_dir() else ""


@pytest.mark.parametrize("show", [False, True], ids=["secret-kept", "show-secret"])
def test_azure_action_sends_exactly_its_writes_and_never_prints_the_secret(show):
    with ArmFake() as arm, KubeFake([node(N0)], require_token=TOKEN) as fake:
        app = serve_sp_cluster(arm)
        arm.clear()
        args = ("--fix", "reset-sp-credential", "--end-date", "2031-03-01", "--yes", "-o", "json")
        result = live(fake, *args, *(["--show-secret"] if show else []), session=session(arm))
        writes = arm_writes(arm)
        assert [w for w in kube_writes(fake) if w[1] != SSR] == []
    assert result.code == 0, result.stderr
    named = f"aksdoctor-{datetime.now(timezone.utc):%Y-%m-%d}"
    assert writes == [
        ("POST", ADD, None, {"passwordCredential": {"displayName": named, "endDateTime": "2031-03-01T00:00:00Z"}}),
        ("POST", RESET, "2025-05-01", {"clientId": SP, "secret": NEW_SECRET}),
    ]
    run = json.loads(result.stdout)
    assert run["outcome"] == "verified"
    assert run["result"]["steps"][0]["detail"].startswith(f"new password credential {NEW_KEY}")
    identities = {i["api"]: i["user"] for i in run["audit"]["identity"]}
    assert identities == {"kubernetes": "fake-user", "graph": OPERATOR_USER, "arm": OPERATOR_USER}
    assert [c["keyId"] for c in app["passwordCredentials"]][-1] == NEW_KEY  # the old one is kept
    assert "command args: aks doctor" in command_logs()  # az logged this run; the secret is not in it
    assert NEW_SECRET not in result.stdout and NEW_SECRET not in command_logs()
    assert result.stderr.count(NEW_SECRET) == (1 if show else 0)  # --show-secret: once, on stderr
    assert TOKEN not in result.stdout + result.stderr


# ---- collect --------------------------------------------------------------------------------------------------------

WEB = service("web", "shop")
COLLECTED = [
    node(N0),
    virtual_node(VK1),
    WEB,
    pod("web-1", "shop", labels={"app": "web"}),
    endpoint_slice(WEB),
    service("broken", "shop", selector={"app": "gone"}, ingress_ip="20.50.10.5"),
]
PROVENANCE = " (snapshot kubernetesVersion)"


def test_collect_then_snapshot_gives_the_live_findings(tmp_path):
    bundle = tmp_path / "bundle.tar.gz"
    with KubeFake(COLLECTED, require_token=TOKEN) as fake:
        diagnosed = live(fake, "--no-azure", "-o", "json")
        made = live(fake, "--collect", str(bundle), "--no-azure", "-o", "json")
        assert {r.method for r in fake.requests} == {"GET"}
        table = live(fake, "--collect", str(tmp_path / "dir"), "--no-azure", "-o", "table")
        again = live(fake, "--collect", str(bundle), "--no-azure")
    assert made.code == 0, made.stderr
    doc = made.json()
    assert doc["path"] == str(bundle) and doc["objects"]["nodes"] == 2 and doc["azure"] == {}
    with tarfile.open(bundle) as tar:
        data = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert TOKEN.encode() not in data and USER_ENTRY.encode() not in data
    offline = az(*LIVE, "--snapshot", str(bundle), "--no-azure", "-o", "json")
    assert diagnosed.code == offline.code == 1  # lb.no-endpoints on shop/broken
    assert json.loads(json.dumps(offline.json()["findings"]).replace(PROVENANCE, "")) == diagnosed.json()["findings"]
    assert [(c["id"], c["status"]) for c in offline.json()["checks"]] == [
        (c["id"], c["status"]) for c in diagnosed.json()["checks"]
    ]
    assert table.code == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["Path", "Objects", "Azure", "Logs", "Redacted", "Anonymized"]
    assert_az_error(again, 1, "exists; name a new file")


# ---- help ----------------------------------------------------------------------------------------------------------


def test_help_documents_fix_and_collect_and_every_example_uses_real_arguments():
    from knack.help_files import helps

    result = az("aks", "doctor", "-h")
    assert result.code == 0
    assert "Fix Arguments" in result.stdout and "Collect Arguments" in result.stdout
    listed = re.findall(r"^ {4}(--[a-z-]+)(?: (-[a-z]))?", result.stdout, re.MULTILINE)
    known = {option for pair in listed for option in pair if option}
    fix_and_collect = {"--fix", "--yes", "-y", "--timeout", "--years", "--end-date", "--show-secret"}
    assert fix_and_collect | {"--remove-expired", "--collect", "--anonymize"} <= known
    examples = "\n".join(e["text"] for e in yaml.safe_load(helps["aks doctor"])["examples"])
    used = set(re.findall(r"(?<=\s)(--?[a-z][a-z-]*)", examples))
    assert {"--fix", "--yes", "--collect", "--anonymize", "--snapshot"} <= used
    assert used <= known, used - known
    assert set(re.findall(r"--fix ([a-z-]+)", examples)) <= set(action_names())
