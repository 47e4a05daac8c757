"""The PyInstaller build: a Krew-safe, reproducible archive whose binary works offline (`selftest`).

The packing and `selftest` are tested from source on every run; the tests on the real archive need it built
(see frozen_build.py). AKSDOCTOR_BUILD_TWICE=1 also builds a second time and compares the bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from frozen_build import REPO, archive_or_skip, build, building, run_build
from krew_rules import extract

from aksdoctor import __version__
from kubectl_aksdoctor.cli import main

KNOWLEDGE = sorted(p.name for p in (REPO / "shared" / "aksdoctor" / "knowledge").glob("*.yaml"))
BUNDLE = "kubectl-aksdoctor"
EXE = "kubectl-aksdoctor.exe" if os.name == "nt" else "kubectl-aksdoctor"


# ---- from source: selftest and packing ---------------------------------------------------------------------


def test_selftest_passes_from_source(capsys):
    assert main(["selftest", "--snapshot", str(REPO / "examples" / "broken-cluster")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    for step in ("version", "kubeconfig", "azure", "knowledge", "engine"):
        assert f"ok    {step}" in out
    assert "selftest passed" in out


def test_selftest_is_hidden_from_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "selftest" not in capsys.readouterr().out


def test_selftest_reports_a_broken_step(capsys):
    assert main(["selftest", "--snapshot", "/nonexistent/snapshot"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  engine" in out and "snapshot not found" in out
    assert "1 of 5 steps failed" in out


def _bundle(root: Path) -> Path:
    """A stand-in one-dir folder with a symlink, as PyInstaller can leave on macOS."""
    (root / "_internal" / "lib").mkdir(parents=True)
    (root / EXE).write_bytes(b"\x7fELF fake")
    (root / EXE).chmod(0o755)
    (root / "_internal" / "lib" / "libz.so.1").write_bytes(b"zlib")
    (root / "_internal" / "libz.so.1").symlink_to("lib/libz.so.1")
    return root


def test_pack_is_byte_identical_and_krew_safe(tmp_path):
    bundle = _bundle(tmp_path / "bundle")
    license_file = REPO / "LICENSE"
    build.pack(bundle, license_file, tmp_path / "one.tar.gz", 1700000000)
    os.utime(bundle / EXE, (1, 1))  # different mtimes on disk must not matter
    build.pack(bundle, license_file, tmp_path / "two.tar.gz", 1700000000)
    one = (tmp_path / "one.tar.gz").read_bytes()
    assert one == (tmp_path / "two.tar.gz").read_bytes()
    assert one[3] & 0x08 == 0 and one[4:8] == b"\0\0\0\0"  # gzip -n: no file name, no time
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[-1] == "LICENSE"
    assert names[:-1] == sorted(names[:-1])
    assert all(m.isreg() or m.isdir() for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(1700000000, 0, 0, "")}
    linked = next(m for m in members if m.name == f"{BUNDLE}/_internal/libz.so.1")
    assert linked.isreg() and linked.size == 4
    assert next(m for m in members if m.name == f"{BUNDLE}/{EXE}").mode == 0o755


# ---- the built archive -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive() -> Path:
    return archive_or_skip()


@pytest.fixture(scope="module")
def unpacked(archive, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("unpacked") / "x"
    extract(archive, target)
    return target / BUNDLE


def test_archive_is_krew_safe(archive):
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert all(m.isreg() or m.isdir() for m in members.values()), "symlinks or links in the archive"
    assert members["LICENSE"].isreg()
    assert members[f"{BUNDLE}/{EXE}"].mode == 0o755
    assert len({m.mtime for m in members.values()}) == 1
    knowledge = sorted(n.rsplit("/", 1)[1] for n in members if "/_internal/aksdoctor/knowledge/" in n)
    assert knowledge == KNOWLEDGE
    with open(archive, "rb") as fh:
        header = fh.read(10)
    assert header[3] & 0x08 == 0 and header[4:8] == b"\0\0\0\0"


def run(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False)


def test_frozen_selftest_passes(unpacked):
    result = run(unpacked / EXE, "selftest", "--snapshot", str(REPO / "examples" / "broken-cluster"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "frozen=True" in result.stdout
    assert f"knowledge   {len(KNOWLEDGE)} files" in result.stdout


def test_frozen_version_has_commit_and_libraries(unpacked):
    result = run(unpacked / EXE, "version", "-o", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["version"] == __version__
    assert "not installed" not in info["libraries"].values()
    if building():  # built from this checkout in this session: the commit is this checkout's
        assert info["commit"] == build.commit()


@pytest.mark.skipif(os.environ.get("AKSDOCTOR_BUILD_TWICE") != "1", reason="set AKSDOCTOR_BUILD_TWICE=1 (+1 min)")
def test_two_builds_are_bit_identical(archive, tmp_path):
    if not building():
        pytest.skip("compares with this session's build: set AKSDOCTOR_BUILD_BINARY=1 too")
    second, error = run_build(tmp_path / "dist", tmp_path / "build.log")
    assert second is not None, error
    assert build.sha256(second) == build.sha256(archive)
