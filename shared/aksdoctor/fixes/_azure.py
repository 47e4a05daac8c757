"""What the Azure fix actions share: the `fix` flags an action reads, live Azure reads a plan or an apply makes at an
exact scope (through the writer, as GET requests), and the provider errors the lb.* checks classified, so an
action acts on exactly what its check reported."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from aksdoctor.errors import FactUnavailable
from aksdoctor.facts import Facts
from aksdoctor.fixes.base import ARM, Action, Request, WriteError, Writer

Reveal = Callable[[str], None]


class AzureAction(Action):
    """An action that may read Azure live while planning (`reader`) and reads some `fix` flags (`flags`: argparse
    dests; each is a class attribute holding its default). Only the writers of its `apis` are given to it, so a
    run signs in to nothing it does not use."""

    apis: ClassVar[tuple[str, ...]] = (ARM,)  # the Azure APIs it sends requests to (their writers, identities)
    flags: ClassVar[tuple[str, ...]] = ()
    reader: Writer | None = None  # None when planning from a snapshot: the plan then says what it could not check
    reveal: Reveal | None = None  # where a secret the user asked to see is written (stderr), never the report

    def configured(
        self, flags: Mapping[str, Any], *, reader: Writer | None = None, reveal: Reveal | None = None
    ) -> AzureAction:
        """A copy for one run (the registered instance stays as it is)."""
        made = copy.copy(self)
        made.reader, made.reveal = reader, reveal
        for name in self.flags:
            if flags.get(name) not in (None, False):
                setattr(made, name, flags[name])
        return made


def arm(method: str, path: str, api_version: str, body: Any = None, **query: str) -> Request:
    return Request(ARM, method, path, body, query=(("api-version", api_version), *query.items()))


def get(writer: Writer, request: Request) -> Any:
    """A GET through a writer; None when the object is not there (404)."""
    try:
        return writer.execute(request)
    except WriteError as exc:
        if exc.status == 404:
            return None
        raise


PROVIDER_ERROR_FACTS = ("services", "events", "provider_logs", "cluster", "now")


def provider_errors(facts: Facts, check_id: str, categories: frozenset[str]) -> Iterator[tuple[dict, Any]]:
    """(Service, Sighting) for every current (not since resolved) provider error of `categories`, read as check
    `check_id` reads them; nothing when the events cannot be read."""
    from aksdoctor.checks import all_checks
    from aksdoctor.checks.base import ServiceContext
    from aksdoctor.checks.provider_errors import service_errors

    check_def = all_checks()[check_id]
    for svc in facts.get_or("services", ()):
        try:
            errors = service_errors(ServiceContext(check_def, facts, svc))
        except FactUnavailable:
            return
        for sighting in errors.current():
            if sighting.error.category in categories:
                yield svc, sighting
