"""Running `kubectl-aksdoctor fix|collect|cluster` in-process against a KubeFake, as the tests of fix actions and
collect do: loopback only, never the user's kubeconfig, output captured."""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from kubefake import PROXY_VARS, KubeFake, RecordedRequest

from kubectl_aksdoctor.cli import main

SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict:
        return json.loads(self.stdout)


def isolated_env(home: Path) -> mock._patch:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env.update(KUBECONFIG=str(home / "no-kubeconfig"), NO_COLOR="1")
    return mock.patch.dict(os.environ, env, clear=True)


def run_cli(tmp_path: Path, *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with isolated_env(tmp_path), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Result(code, out.getvalue(), err.getvalue())


def kubeconfig(fake: KubeFake, tmp_path: Path, **kw: object) -> str:
    return fake.write_kubeconfig(tmp_path / "kubeconfig", **kw)


def fix(fake: KubeFake, tmp_path: Path, action: str, *args: str) -> Result:
    """`fix ACTION ... -o json` against the fake; the requests it made are `fake.requests` (cleared first)."""
    path = kubeconfig(fake, tmp_path)
    fake.requests.clear()
    return run_cli(tmp_path, "fix", action, "--kubeconfig", path, "-o", "json", *args)


def writes(fake: KubeFake) -> list[tuple[str, str, str | None, object]]:
    """(method, path, content type, parsed body) of every non-GET request, in order."""
    return [(r.method, r.path, _content_type(r), r.json()) for r in fake.writes]


def cluster_writes(fake: KubeFake) -> list[tuple[str, str, str | None, object]]:
    """The writes that change the cluster: all but the SelfSubjectReview that names the identity."""
    return [w for w in writes(fake) if w[1] != SSR]


def _content_type(request: RecordedRequest) -> str | None:
    return request.header("Content-Type") if request.body else None
