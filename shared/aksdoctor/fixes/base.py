"""The fix-action contract: an action plans from facts, a writer applies the plan, the checks say if it worked.

An action never writes while planning. `plan(facts)` returns every request it would send (API, verb, path, body),
the equivalent shell command a user could run instead, what else the change touches (blast radius) and how to
undo it. `apply(plan, writer)` sends exactly those requests through a writer (Kubernetes, ARM or Graph), step by
step, and reports each step as done, failed or not attempted, so a partial failure is never silent. The runner
(fixes/runner.py) then re-runs the checks the action addresses. Planning what is already fixed yields no steps:
that is what makes every action idempotent.

Azure actions follow the same contract: their steps carry `api="arm"` or `api="graph"` requests, and a writer for
that API executes them. A step whose body needs the output of an earlier one (a new secret) names it in
`depends_on` and the action overrides `apply` to pass the value along; secrets never go into a plan.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from aksdoctor.errors import UnreachableError
from aksdoctor.facts import Facts

KUBERNETES = "kubernetes"
ARM = "arm"
GRAPH = "graph"


@dataclass(frozen=True)
class Request:
    """One write, exactly as it goes on the wire: `method path?query` with a body of `content_type`."""

    api: str  # KUBERNETES, ARM or GRAPH: which writer sends it
    method: str  # POST, PATCH, PUT, DELETE
    path: str  # Kubernetes: /api/v1/nodes/NAME; ARM: /subscriptions/…; Graph: /v1.0/applications/…
    body: Any = None
    content_type: str = "application/json"
    query: tuple[tuple[str, str], ...] = ()

    @property
    def line(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"api": self.api, "method": self.method, "path": self.path}
        if self.query:
            out["query"] = dict(self.query)
        if self.body is not None:
            out["contentType"] = self.content_type
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class Step:
    """One change: what it does to which object, the request that does it, and the same by hand."""

    description: str
    target: str  # "Node virtual-node-aci-linux", "Pod kube-system/konnectivity-agent-…"
    request: Request
    command: str  # the equivalent shell command, every value quoted (aksdoctor.shell)
    rollback: str = ""  # shell command that undoes this step; "" when nothing needs undoing
    depends_on: tuple[int, ...] = ()  # indexes of earlier steps that must be done first

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "description": self.description,
            "target": self.target,
            "request": self.request.to_dict(),
            "command": self.command,
        }
        if self.rollback:
            out["rollback"] = self.rollback
        if self.depends_on:
            out["dependsOn"] = list(self.depends_on)
        return out


@dataclass(frozen=True)
class Plan:
    action: str
    summary: str
    steps: tuple[Step, ...] = ()
    blast_radius: str = ""
    rollback: str = ""
    notes: tuple[str, ...] = ()  # what was left alone and why; alternatives (AKS node pool labels, managed GPU)
    addresses: tuple[str, ...] = ()  # the check ids re-run after applying
    context: Mapping[str, Any] = field(default_factory=dict, compare=False)  # for `settled`, never shown

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "steps": [s.to_dict() for s in self.steps],
            "blastRadius": self.blast_radius,
            "rollback": self.rollback,
            "notes": list(self.notes),
        }


class StepStatus(str, enum.Enum):
    DONE = "done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not-attempted"


@dataclass(frozen=True)
class StepOutcome:
    index: int
    target: str
    request: str  # Request.line
    status: StepStatus
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"step": self.index + 1, "target": self.target, "request": self.request, "status": self.status.value}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class ApplyResult:
    outcomes: list[StepOutcome] = field(default_factory=list)
    unreachable: str = ""  # why the API stopped answering mid-way (then the rest was not attempted)

    def count(self, status: StepStatus) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def complete(self) -> bool:
        return all(o.status is StepStatus.DONE for o in self.outcomes)

    @property
    def status(self) -> str:
        """applied (every step done), partial (some), failed (none)."""
        if self.complete:
            return "applied"
        return "partial" if self.count(StepStatus.DONE) else "failed"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "done": self.count(StepStatus.DONE),
            "failed": self.count(StepStatus.FAILED),
            "notAttempted": self.count(StepStatus.NOT_ATTEMPTED),
            "steps": [o.to_dict() for o in self.outcomes],
        }
        if self.unreachable:
            out["unreachable"] = self.unreachable
        return out


class WriteError(Exception):
    """A write the API refused (403, 409, 422, ...): that step failed, the others go on."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Identity:
    """Who a writer acts as, for the audit record: `via` says how that was learnt."""

    api: str
    user: str
    via: str
    groups: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"api": self.api, "user": self.user, "via": self.via}
        if self.groups:
            out["groups"] = list(self.groups)
        return out


class Writer(Protocol):
    def execute(self, request: Request) -> Any:
        """Send one request; return the response body. Raise WriteError (refused) or UnreachableError."""
        ...

    def identities(self, *, probe: bool) -> list[Identity]:
        """Who the writes are made as. `probe=False` must not send any request (plans are read-only)."""
        ...


class Writers:
    """One writer per API, so a plan can mix Kubernetes and ARM steps."""

    def __init__(self, by_api: Mapping[str, Writer]):
        self.by_api = dict(by_api)

    def execute(self, request: Request) -> Any:
        writer = self.by_api.get(request.api)
        if writer is None:
            raise WriteError(f"no {request.api} credentials to send {request.line}")
        return writer.execute(request)

    def identities(self, *, probe: bool) -> list[Identity]:
        return [i for w in self.by_api.values() for i in w.identities(probe=probe)]


# ---- the action contract --------------------------------------------------------------------------------


class Action:
    """Base class of fix actions. Subclasses set the class attributes and implement `plan`."""

    name: ClassVar[str]
    title: ClassVar[str]
    addresses: ClassVar[tuple[str, ...]]  # check ids this action fixes; re-run after applying
    needs: ClassVar[tuple[str, ...]]  # facts `plan` reads (prefetched in parallel)
    waits: ClassVar[bool] = False  # the effect takes time (pods restart): verification polls until --timeout

    def plan(self, facts: Facts) -> Plan:
        raise NotImplementedError

    def no_change(self, summary: str, notes: Iterable[str] = ()) -> Plan:
        """The plan when there is nothing for this action to do; `notes` say what was left alone and why."""
        return Plan(self.name, summary, notes=tuple(notes), addresses=self.addresses)

    def apply(self, plan: Plan, writer: Writer) -> ApplyResult:
        """Send each step's request in order. A refused step fails alone; a step whose dependency did not
        complete is not attempted; once the API is unreachable nothing more is attempted. A DELETE answered
        404 is done: what it would remove is already gone."""
        result = ApplyResult()
        for index, step in enumerate(plan.steps):
            result.outcomes.append(self._run_step(index, step, writer, result))
        return result

    def _run_step(self, index: int, step: Step, writer: Writer, result: ApplyResult) -> StepOutcome:
        def outcome(status: StepStatus, detail: str = "") -> StepOutcome:
            return StepOutcome(index, step.target, step.request.line, status, detail)

        if result.unreachable:
            return outcome(StepStatus.NOT_ATTEMPTED, "the API was unreachable")
        blocked = [d + 1 for d in step.depends_on if result.outcomes[d].status is not StepStatus.DONE]
        if blocked:
            return outcome(StepStatus.NOT_ATTEMPTED, f"step {', '.join(map(str, blocked))} was not done")
        try:
            writer.execute(step.request)
        except WriteError as exc:
            if exc.status == 404 and step.request.method == "DELETE":
                return outcome(StepStatus.DONE, "already gone")
            return outcome(StepStatus.FAILED, exc.message)
        except UnreachableError as exc:
            result.unreachable = str(exc)
            return outcome(StepStatus.FAILED, str(exc))
        return outcome(StepStatus.DONE)

    def settled(self, facts: Facts, plan: Plan, result: ApplyResult) -> bool:
        """Whether the cluster has caught up with the change (fresh facts); the checks decide the rest."""
        return True


ACTIONS: dict[str, Action] = {}


def register(cls: type[Action]) -> type[Action]:
    if cls.name in ACTIONS:
        raise ValueError(f"duplicate fix action {cls.name}")
    ACTIONS[cls.name] = cls()
    return cls


FactsFactory = Callable[[], Facts]
