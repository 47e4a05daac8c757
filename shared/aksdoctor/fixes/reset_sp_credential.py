"""reset-sp-credential: a new client secret for the service principal the cloud provider signs in with, handed
straight to where it belongs, never shown.

When: the application's credentials have all expired or the newest ends within 30 days (identity.sp-expired), or
the provider's sign-in fails with an expired or invalid secret (lb.auth-failed) after the newest credential was
made. Steps: Graph `addPassword` on the application (appended: the old secret keeps working meanwhile), then
- AKS: ARM `resetServicePrincipalProfile` of the managed cluster with the new secret;
- self-managed, cloud config in the kube-system/azure-cloud-provider Secret: that Secret's `cloud-config`
  rewritten with the new aadClientSecret (guarded by the resourceVersion read just before);
- self-managed, azure.json on the nodes: nothing aksdoctor can write, so applying needs `--show-secret`, and the
  notes give the commands to put it in place;
then, with `--remove-expired`, Graph `removePassword` for each credential that has already EXPIRED.

The secret only lives in memory between the steps: plans show a placeholder, results and the audit show its keyId.
`--show-secret` prints it once, on stderr (not in the report people save and share). When the secret was created
but could not be handed over, the new credential is deleted again (rolled back): no unused secret is left, nothing
is half-applied, and the run can simply be repeated once the failure is fixed. With `--show-secret` it is kept and
printed instead, with the command that finishes the job by hand.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure import cloud_config
from aksdoctor.azure.identity import cluster_client_id, config_app_id, managed_cluster_for, service_principals
from aksdoctor.azure.resources import resource_group_of
from aksdoctor.checks.identity import CCM_DEPLOYMENT, EXPIRY_WARNING, _credentials, _is_application, _when
from aksdoctor.checks.provider_errors import _RESET_CODES
from aksdoctor.errors import FactUnavailable, UnreachableError, UsageError
from aksdoctor.facts import Facts
from aksdoctor.fixes._azure import PROVIDER_ERROR_FACTS, AzureAction, arm, provider_errors
from aksdoctor.fixes.base import (
    ARM,
    GRAPH,
    KUBERNETES,
    ApplyResult,
    Plan,
    Request,
    Step,
    StepOutcome,
    StepStatus,
    WriteError,
    Writer,
    register,
)
from aksdoctor.kube import SYSTEM_NAMESPACE
from aksdoctor.sources.kube_writer import MERGE_PATCH

AKS_API_VERSION = "2025-05-01"
SECRET_PATH = f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/secrets/{cloud_config.SECRET_NAME}"
NEW_SECRET = "<the new secret from step {n}>"
AKS, IN_SECRET, ON_NODES = "aks", "secret", "file"
_WHERE = {
    AKS: "the AKS cluster (resetServicePrincipalProfile)",
    IN_SECRET: f"the {SYSTEM_NAMESPACE}/{cloud_config.SECRET_NAME} Secret",
    ON_NODES: "you (--show-secret), for azure.json on the nodes",
}


@dataclass(frozen=True)
class _Reset:
    """One service principal's reset: which steps create, hand over and clean up its secret."""

    app_id: str
    object_id: str
    dest: str  # AKS, IN_SECRET or ON_NODES
    add: int  # index of the addPassword step
    deliver: int | None  # index of the step that hands the secret over; None: only the user can (ON_NODES)
    hand_over: str  # the command that finishes the job by hand with "$SP_SECRET"
    follow: str = ""  # how to watch a hand-over that goes on in the background (AKS)


@dataclass
class _New:
    key_id: str
    end: str
    secret: str = ""


@register
class ResetSpCredential(AzureAction):
    name = "reset-sp-credential"
    title = "Give the cluster's service principal a new secret"
    addresses = ("identity.sp-expired", "lb.auth-failed")
    needs = tuple(
        dict.fromkeys(
            ("graph_objects", "azure_managed_clusters", "azure_scope", "cloud_config", "now", *PROVIDER_ERROR_FACTS)
        )
    )
    apis = (GRAPH, ARM)
    waits = True  # Graph shows a new credential after a few seconds; the provider signs in again at its next sync
    flags = ("years", "end_date", "show_secret", "remove_expired")
    years: int | None = None
    end_date: str | None = None
    show_secret = False
    remove_expired = False

    def plan(self, facts: Facts) -> Plan:
        now = facts.get("now")
        end = self._end(now)
        principals = service_principals(facts.get)
        if not principals:
            return Plan(
                self.name,
                "The cluster signs in with a managed identity: there is no secret to reset.",
                addresses=self.addresses,
            )
        apps = facts.get("graph_objects")
        clusters, scope = facts.get_or("azure_managed_clusters"), facts.get_or("azure_scope")
        mc = managed_cluster_for(clusters, scope) if clusters and scope else None
        cfg = facts.get_or("cloud_config")
        cfg = None if cfg is None or cfg.problem else cfg
        failures = [
            s for _, s in provider_errors(facts, "lb.auth-failed", frozenset({"auth"})) if s.error.code in _RESET_CODES
        ]
        steps: list[Step] = []
        resets: list[_Reset] = []
        notes: list[str] = []
        for sp in principals:
            app = next(
                (o for o in apps if str(o.get("appId", "")).lower() == sp.app_id.lower() and _is_application(o)), None
            )
            if app is None:
                notes.append(
                    f"Application {sp.app_id} was not found in Microsoft Graph (deleted, or in another tenant): a new "
                    "secret cannot be made for it; see identity.sp-expired."
                )
                continue
            creds = _credentials([app])
            notes.append(_listing(sp.app_id, creds, now))
            mine = [s for s in failures if not s.error.principal or s.error.principal.lower() == sp.app_id.lower()]
            why = _why(app, creds, mine, now)
            if not why:
                continue
            dest = _destination(sp.app_id, mc, cfg)
            reset, new_steps, new_notes = self._reset(sp.app_id, app, creds, dest, mc, cfg, len(steps), now, end, why)
            resets.append(reset)
            steps += new_steps
            notes += new_notes
        if not steps:
            return Plan(
                self.name, "No service principal secret needs a reset.", notes=tuple(notes), addresses=self.addresses
            )
        return Plan(
            self.name,
            " ".join(f"New client secret for {r.app_id}, handed to {_WHERE[r.dest]}." for r in resets),
            tuple(steps),
            blast_radius=_blast_radius(resets, mc),
            rollback=(
                "A new secret cannot be un-issued, only deleted (the first step's rollback); the cluster cannot be "
                "given its old secret back by aksdoctor, which never sees it. The old credentials are kept (valid "
                "until they end), so a secret you still have keeps working: hand it back with the same command."
            ),
            notes=tuple(notes),
            addresses=self.addresses,
            context={"resets": tuple(resets), "created": {}},
        )

    # ---- planning ---------------------------------------------------------------------------------------------

    def _end(self, now: datetime) -> datetime:
        """When the new secret ends: --end-date, else --years (default 1) from now."""
        if self.years is not None and self.end_date:
            raise UsageError("--years and --end-date cannot be used together")
        if self.end_date:
            text = self.end_date.strip()
            try:
                end = (
                    datetime.combine(date.fromisoformat(text), time(0), timezone.utc)
                    if len(text) == 10
                    else kube.parse_time(text)
                )
            except ValueError:
                end = None
            if end is None:
                raise UsageError(f"--end-date: {self.end_date!r} is not a date (YYYY-MM-DD or RFC 3339)")
            if end <= now:
                raise UsageError(f"--end-date {self.end_date} is not in the future")
            return end
        years = 1 if self.years is None else int(self.years)
        if years < 1:
            raise UsageError("--years must be 1 or more")
        try:
            return now.replace(year=now.year + years, microsecond=0)
        except ValueError:  # 29 February
            return now.replace(year=now.year + years, day=28, microsecond=0)

    def _reset(
        self,
        app_id: str,
        app: Mapping[str, Any],
        creds: Sequence[Any],
        dest: str,
        mc: Mapping[str, Any] | None,
        cfg: Any,
        first: int,
        now: datetime,
        end: datetime,
        why: str,
    ) -> tuple[_Reset, list[Step], list[str]]:
        object_id = str(app.get("id") or "")
        label = f"service principal {app_id} ({app.get('displayName') or 'no display name'})"
        display = f"aksdoctor-{now:%Y-%m-%d}"
        end_text = kube.format_time(end)
        reset_cmd = shell.command(
            "az",
            "ad",
            "app",
            "credential",
            "reset",
            "--id",
            app_id,
            "--append",
            "--display-name",
            display,
            "--end-date",
            end_text,
            "--query",
            "password",
            "-o",
            "tsv",
        )
        steps = [
            Step(
                description=f"give {label} a new client secret ending {end_text}: {why}",
                target=f"Application {app_id}",
                request=Request(
                    GRAPH,
                    "POST",
                    f"/v1.0/applications/{object_id}/addPassword",
                    {"passwordCredential": {"displayName": display, "endDateTime": end_text}},
                ),
                command=f"SP_SECRET=$({reset_cmd})",
                rollback=shell.command(
                    "az",
                    "ad",
                    "app",
                    "credential",
                    "delete",
                    "--id",
                    app_id,
                    "--key-id",
                    "<keyId of the new credential>",
                ),
            )
        ]
        notes: list[str] = []
        placeholder = NEW_SECRET.format(n=first + 1)
        follow = ""
        if dest == AKS:
            assert mc is not None
            group, cluster = resource_group_of(str(mc.get("id") or "")), str(mc.get("name") or "")
            follow = shell.command(
                "az", "aks", "show", "-g", group, "-n", cluster, "--query", "provisioningState", "-o", "tsv"
            )
            hand_over = shell.command(
                "az",
                "aks",
                "update-credentials",
                "-g",
                group,
                "-n",
                cluster,
                "--reset-service-principal",
                "--service-principal",
                app_id,
                "--client-secret",
                shell.Var("SP_SECRET"),
            )
            steps.append(
                Step(
                    description="hand the new secret to the cluster (AKS updates the control plane and the nodes)",
                    target=f"Managed cluster {cluster}",
                    request=arm(
                        "POST",
                        f"{mc['id']}/resetServicePrincipalProfile",
                        AKS_API_VERSION,
                        {"clientId": app_id, "secret": placeholder},
                    ),
                    command=hand_over,
                    depends_on=(first,),
                )
            )
        elif dest == IN_SECRET:
            key = cfg.key("aadClientSecret") or "aadClientSecret"
            hand_over = _secret_command(key)
            steps.append(
                Step(
                    description=(
                        f"put the new secret in {key} of the Secret's cloud-config, only if the Secret is still the "
                        "version read just before (written back as JSON, which the provider reads like YAML)"
                    ),
                    target=f"Secret {SYSTEM_NAMESPACE}/{cloud_config.SECRET_NAME}",
                    request=Request(
                        KUBERNETES,
                        "PATCH",
                        SECRET_PATH,
                        {
                            "metadata": {"resourceVersion": "<as read just before>"},
                            "data": {cloud_config.SECRET_KEY: f"<the cloud-config with {placeholder}, base64>"},
                        },
                        MERGE_PATCH,
                    ),
                    command=hand_over,
                    depends_on=(first,),
                )
            )
            notes.append(
                "The cloud-controller-manager reads the Secret when it starts: restart it afterwards, "
                + shell.command("kubectl", "-n", SYSTEM_NAMESPACE, "rollout", "restart", "deployment", CCM_DEPLOYMENT)
                + " (or restart it however it runs on this cluster)."
            )
        else:
            hand_over = (
                shell.command(
                    "sudo",
                    "jq",
                    "--arg",
                    "s",
                    shell.Var("SP_SECRET"),
                    ".aadClientSecret = $s",
                    "/etc/kubernetes/azure.json",
                )
                + " > azure.json.new && "
                + shell.command("sudo", "install", "-m", "600", "azure.json.new", "/etc/kubernetes/azure.json")
                + " && rm azure.json.new && "
                + shell.command("sudo", "systemctl", "restart", "kubelet")
            )
            where = cfg.source if cfg is not None else "azure.json on the nodes"
            notes.append(
                f"The cloud config of {app_id} is {where}, a file aksdoctor cannot write: applying needs "
                "--show-secret, which prints the new secret once on stderr. Then, on every node (and for the "
                f"cloud-controller-manager's copy), with SP_SECRET set to it: {hand_over}"
            )
        deliver = first + 1 if dest != ON_NODES else None
        after = deliver if deliver is not None else first
        expired = [c for c in creds if c.kind == "password" and c.end is not None and c.end <= now and c.key_id]
        if self.remove_expired:
            for cred in expired:
                steps.append(
                    Step(
                        description=f"remove the expired password credential {cred.key_id} ({_when(cred, now)})",
                        target=f"Application {app_id}",
                        request=Request(
                            GRAPH, "POST", f"/v1.0/applications/{object_id}/removePassword", {"keyId": cred.key_id}
                        ),
                        command=shell.command(
                            "az", "ad", "app", "credential", "delete", "--id", app_id, "--key-id", cred.key_id
                        ),
                        depends_on=(after,),
                    )
                )
            certs = [c for c in creds if c.kind == "certificate" and c.end is not None and c.end <= now]
            if certs:
                notes.append(
                    f"{len(certs)} expired certificate credential(s) of {app_id} stay: removing a certificate needs "
                    "proof of its private key (Graph removeKey); delete them with az ad app credential delete."
                )
        elif expired:
            notes.append(
                f"{len(expired)} expired password credential(s) of {app_id} stay listed (harmless); add "
                "--remove-expired to delete them once the cluster has the new secret."
            )
        return _Reset(app_id, object_id, dest, first, deliver, hand_over, follow), steps, notes

    # ---- applying ---------------------------------------------------------------------------------------------

    def apply(self, plan: Plan, writer: Writer) -> ApplyResult:
        resets: tuple[_Reset, ...] = plan.context["resets"]
        if any(r.dest == ON_NODES for r in resets) and not self.show_secret:
            raise UsageError(
                "reset-sp-credential: the cloud config is a file on the nodes, so the new secret can only be handed "
                "to you: add --show-secret (it is printed once, on stderr)"
            )
        created: dict[int, _New] = plan.context["created"]
        by_add = {r.add: r for r in resets}
        by_deliver = {r.deliver: r for r in resets if r.deliver is not None}
        result = ApplyResult()
        for index, step in enumerate(plan.steps):
            if index in by_add:
                outcome = self._add(index, step, writer, result, created)
            elif index in by_deliver:
                reset = by_deliver[index]
                outcome = self._run_step(index, step, _Filled(writer, created.get(reset.add)), result)
                if outcome.status is StepStatus.DONE and reset.follow:
                    outcome = replace(outcome, detail=f"accepted; AKS applies it in the background: {reset.follow}")
            else:
                outcome = self._run_step(index, step, writer, result)
            result.outcomes.append(outcome)
        for reset in resets:
            new = created.get(reset.add)
            if new is not None:
                self._conclude(reset, new, writer, result)
        for new in created.values():  # not needed any more: the run's result must not carry it
            new.secret = ""
        return result

    def _add(
        self, index: int, step: Step, writer: Writer, result: ApplyResult, created: dict[int, _New]
    ) -> StepOutcome:
        capture = _Capture(writer)
        outcome = self._run_step(index, step, capture, result)
        answer = capture.answer if isinstance(capture.answer, dict) else {}
        if outcome.status is StepStatus.DONE and answer.get("keyId"):
            new = _New(str(answer["keyId"]), str(answer.get("endDateTime") or ""), str(answer.get("secretText") or ""))
            created[index] = new
            detail = f"new password credential {new.key_id}, ends {new.end or 'as asked'} (secret not shown)"
            if not new.secret:
                detail += "; Graph returned no secretText"
            return replace(outcome, detail=detail)
        return outcome

    def _conclude(self, reset: _Reset, new: _New, writer: Writer, result: ApplyResult) -> None:
        """Show the secret when asked (or when only the user can place it); roll back one that could not be handed
        over, unless it is shown."""
        handed = reset.deliver is not None and result.outcomes[reset.deliver].status is StepStatus.DONE
        if handed or reset.dest == ON_NODES:
            if self.show_secret:
                self._reveal(reset, new, "")
            return
        if self.show_secret:
            self._reveal(
                reset,
                new,
                f"The cluster did NOT get it (step {(reset.deliver or 0) + 1} failed). Once that is fixed, set "
                f"SP_SECRET to it and run: {reset.hand_over}\n",
            )
            return
        request = Request(GRAPH, "POST", f"/v1.0/applications/{reset.object_id}/removePassword", {"keyId": new.key_id})
        done = f"rolled back step {reset.add + 1}: the new credential {new.key_id} was deleted, as the cluster could "
        done += "not be given its secret; nothing else changed. Fix the failure above and run the action again."
        try:
            writer.execute(request)
            status, detail = StepStatus.DONE, done
        except (WriteError, UnreachableError) as exc:
            status = StepStatus.FAILED
            detail = (
                f"could not roll back step {reset.add + 1} ({getattr(exc, 'message', exc)}): the unused credential "
                f"{new.key_id} is left; delete it: "
                + shell.command("az", "ad", "app", "credential", "delete", "--id", reset.app_id, "--key-id", new.key_id)
            )
        result.outcomes.append(
            StepOutcome(len(result.outcomes), f"Application {reset.app_id}", request.line, status, detail)
        )

    def _reveal(self, reset: _Reset, new: _New, extra: str) -> None:
        if self.reveal is None or not new.secret:
            return
        self.reveal(
            f"New client secret of application {reset.app_id} (keyId {new.key_id}, ends {new.end}), shown once "
            f"because of --show-secret:\n{new.secret}\n{extra}"
        )

    def settled(self, facts: Facts, plan: Plan, result: ApplyResult) -> bool:
        """Graph lists every credential made (it replicates within seconds)."""
        made = {n.key_id.lower() for n in plan.context["created"].values()}
        try:
            apps = facts.get("graph_objects")
        except FactUnavailable:
            return False
        listed = {str(c.get("keyId") or "").lower() for a in apps for c in a.get("passwordCredentials") or ()}
        return made <= listed


class _Capture:
    """Passes requests on and keeps the answer (addPassword's, which holds the secret) for the action alone."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self.answer: Any = None

    def execute(self, request: Request) -> Any:
        self.answer = self.writer.execute(request)
        return None

    def identities(self, *, probe: bool) -> list[Any]:
        return self.writer.identities(probe=probe)


class _Filled:
    """Sends a hand-over step with the new secret put in: it is in the request on the wire, never in the plan."""

    def __init__(self, writer: Writer, new: _New | None):
        self.writer = writer
        self.new = new

    def execute(self, request: Request) -> Any:
        if self.new is None or not self.new.secret:
            raise WriteError("no new secret to hand over (the step creating it did not return one)")
        if request.api == KUBERNETES:
            return self.writer.execute(self._patched_secret(request))
        return self.writer.execute(replace(request, body={**request.body, "secret": self.new.secret}))

    def _patched_secret(self, request: Request) -> Request:
        """The Secret read again; its cloud-config with the new aadClientSecret; guarded by its resourceVersion."""
        where = f"Secret {SYSTEM_NAMESPACE}/{cloud_config.SECRET_NAME}"
        current = self.writer.execute(Request(KUBERNETES, "GET", request.path)) or {}
        try:
            cfg = cloud_config.parse(cloud_config.from_secret(current, where), where)
        except FactUnavailable as exc:
            raise WriteError(exc.reason) from None
        if cfg.problem:
            raise WriteError(f"{where}: the cloud-config cannot be parsed now ({cfg.problem})")
        values = dict(cfg.values)
        values[cfg.key("aadClientSecret") or "aadClientSecret"] = self.new.secret  # type: ignore[union-attr]
        text = json.dumps(values, indent=2) + "\n"
        body = {
            "metadata": {"resourceVersion": kube.meta(current).get("resourceVersion")},
            "data": {cloud_config.SECRET_KEY: base64.b64encode(text.encode()).decode()},
        }
        return replace(request, body=body)

    def identities(self, *, probe: bool) -> list[Any]:
        return self.writer.identities(probe=probe)


def _destination(app_id: str, mc: Mapping[str, Any] | None, cfg: Any) -> str:
    if mc is not None and cluster_client_id(mc).lower() == app_id.lower():
        return AKS
    if cfg is not None and cfg.in_secret and config_app_id(cfg).lower() == app_id.lower():
        return IN_SECRET
    return ON_NODES


def _newest_start(app: Mapping[str, Any]) -> datetime | None:
    starts = [
        kube.parse_time(c.get("startDateTime"))
        for field in ("passwordCredentials", "keyCredentials")
        for c in app.get(field) or ()
    ]
    return max((s for s in starts if s), default=None)


def _why(app: Mapping[str, Any], creds: Sequence[Any], failures: Sequence[Any], now: datetime) -> str:
    """Why the application needs a new secret; "" when it does not."""
    if not creds:
        return "it has no credential"
    valid = [c for c in creds if c.end is None or c.end > now]
    if not valid:
        return f"all {len(creds)} credential(s) have expired, the newest {_when(creds[0], now)}"
    if valid[0].end is not None and valid[0].end - now < EXPIRY_WARNING:
        return f"its newest credential {_when(valid[0], now)}"
    start = _newest_start(app)
    recent = [s for s in failures if s.when and (start is None or s.when > start)]
    if recent:
        err, when = recent[0].error, kube.format_time(recent[0].when)
        return (
            f"the cloud provider's sign-in fails with {err.code} ({err.meaning}), last at {when}, after its newest "
            "credential was made"
        )
    return ""


def _listing(app_id: str, creds: Sequence[Any], now: datetime) -> str:
    if not creds:
        return f"Application {app_id} has no credential."
    shown = "; ".join(
        f"{c.kind} {c.key_id or '(no keyId)'}"
        + (f" {c.name!r}" if c.name else "")
        + f" ends {c.end_text or '<absent>'} ({_when(c, now)})"
        for c in creds
    )
    return f"Credentials of application {app_id} now (kept unless --remove-expired removes expired ones): {shown}."


def _secret_command(key: str) -> str:
    get = shell.command(
        "kubectl",
        "-n",
        SYSTEM_NAMESPACE,
        "get",
        "secret",
        cloud_config.SECRET_NAME,
        "-o",
        f"jsonpath={{.data.{cloud_config.SECRET_KEY}}}",
    )
    edit = shell.command("jq", "--arg", "s", shell.Var("SP_SECRET"), f".{json.dumps(key)} = $s")
    create = shell.command(
        "kubectl",
        "-n",
        SYSTEM_NAMESPACE,
        "create",
        "secret",
        "generic",
        cloud_config.SECRET_NAME,
        f"--from-file={cloud_config.SECRET_KEY}=cloud-config.json",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    return f"{get} | base64 -d | {edit} > cloud-config.json && {create} | kubectl apply -f - && rm cloud-config.json"


def _blast_radius(resets: Sequence[_Reset], mc: Mapping[str, Any] | None) -> str:
    parts = ["Entra ID: one more client secret on the application (the existing ones keep working until they end)."]
    if any(r.dest == AKS for r in resets) and mc is not None:
        parts.append(
            f"AKS updates the credentials of {mc.get('name')}: the control plane and every node pool take the new "
            "secret, which on VM scale sets rolls the nodes like a node image upgrade (slow on large clusters)."
        )
    if any(r.dest == IN_SECRET for r in resets):
        parts.append(
            f"The Secret {SYSTEM_NAMESPACE}/{cloud_config.SECRET_NAME} gets the new aadClientSecret; everything "
            "else in its cloud-config stays (re-serialised as JSON)."
        )
    if any(r.dest == ON_NODES for r in resets):
        parts.append("Nothing on the nodes changes until you put the secret in azure.json yourself.")
    return " ".join(parts)
