"""The Krew manifest: valid by Krew's rules, rendered for a release, and installed the way Krew lays it out.

The last tests run the built binary through the real kubectl; they need the PyInstaller archive
(see frozen_build.py).
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from frozen_build import REPO, archive_or_skip, build
from krew_rules import InstallError, install, platform_for, validate

from aksdoctor import __version__

TEMPLATE = REPO / "krew" / "aksdoctor.yaml"
RENDER = REPO / "krew" / "render_manifest.py"
EXAMPLE = REPO / "examples" / "broken-cluster"
KUBECTL = shutil.which("kubectl")
PLATFORMS = [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")]


def template() -> dict:
    return yaml.safe_load(TEMPLATE.read_text())


def fake_archive(path: Path, exe: str = "kubectl-aksdoctor", *, symlink: bool = False) -> Path:
    """A tar.gz shaped like the build's: kubectl-aksdoctor/{exe, _internal/...} and LICENSE."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:

        def add(name: str, data: bytes = b"", mode: int = 0o644, kind: bytes = tarfile.REGTYPE) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.size = kind, mode, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("kubectl-aksdoctor", mode=0o755, kind=tarfile.DIRTYPE)
        add(f"kubectl-aksdoctor/{exe}", b"#!/bin/sh\necho fake\n", 0o755)
        add("kubectl-aksdoctor/_internal/base_library.zip", b"zip")
        add("LICENSE", b"MIT License\n")
        if symlink:
            info = tarfile.TarInfo("kubectl-aksdoctor/_internal/libfoo.so")
            info.type, info.linkname = tarfile.SYMTYPE, "base_library.zip"
            tar.addfile(info)
    return path


def fake_dist(folder: Path) -> Path:
    for os_name, arch in PLATFORMS:
        exe = "kubectl-aksdoctor.exe" if os_name == "windows" else "kubectl-aksdoctor"
        fake_archive(folder / build.archive_name(os_name, arch), exe)
    return folder


def render(dist: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(RENDER), "--dist", str(dist), "--repo", "example-org/aksdoctor", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


# ---- the template ------------------------------------------------------------------------------------------


def test_template_follows_krews_rules():
    assert validate(template(), TEMPLATE.name) == []


def test_template_ships_the_five_platforms():
    doc = template()
    assert doc["metadata"]["name"] == "aksdoctor"
    for os_name, arch in PLATFORMS:
        platform = platform_for(doc, os_name, arch)
        assert platform["bin"] == ("kubectl-aksdoctor.exe" if os_name == "windows" else "kubectl-aksdoctor")
        assert platform["uri"].endswith("/" + build.archive_name(os_name, arch))
        assert {"from": "LICENSE", "to": "."} in platform["files"]


def test_caveats_name_the_permissions():
    caveats = template()["spec"]["caveats"]
    for needed in ("Reader", "node resource group", "Network Contributor", "Application.Read.All", "endpointslices"):
        assert needed in caveats


@pytest.mark.parametrize(("os_name", "arch"), PLATFORMS)
def test_every_platform_installs_from_an_archive_shaped_like_the_build(tmp_path, os_name, arch):
    """What krew-index CI does for each platform (KREW_OS/KREW_ARCH), on a stand-in archive."""
    exe = "kubectl-aksdoctor.exe" if os_name == "windows" else "kubectl-aksdoctor"
    archive = fake_archive(tmp_path / "a.tar.gz", exe)
    link = install(template(), archive, tmp_path / "krew", os_name, arch, verify_sha256=False)
    store = tmp_path / "krew" / "store" / "aksdoctor" / "v0.0.0"
    assert link.name == "kubectl-aksdoctor" + (".exe" if os_name == "windows" else "")
    assert link.resolve() == store / exe
    assert sorted(p.name for p in store.iterdir()) == sorted(["LICENSE", "_internal", exe])


# ---- the validator and installer catch what Krew rejects ---------------------------------------------------


def _broken(edit):
    doc = copy.deepcopy(template())
    edit(doc)
    return doc


BREAKAGES = {
    "name": (lambda d: d["metadata"].update(name="aks-doctor"), "must equal the file name"),
    "reserved name": (lambda d: d["metadata"].update(name="CON"), "is not allowed"),
    "api version": (lambda d: d.update(apiVersion="krew.googlecontainertools.github.com/v1alpha1"), "apiVersion"),
    "version without v": (lambda d: d["spec"].update(version="0.1.0"), "leading v"),
    "version not semver": (lambda d: d["spec"].update(version="v1.2"), "leading v"),
    "short description lines": (lambda d: d["spec"].update(shortDescription="a\nb"), "one line"),
    "short description length": (lambda d: d["spec"].update(shortDescription="word " * 20), "longer than 70"),
    "sha256 case": (lambda d: d["spec"]["platforms"][0].update(sha256="A" * 64), "64 lowercase hex"),
    "sha256 length": (lambda d: d["spec"]["platforms"][0].update(sha256="a" * 63), "64 lowercase hex"),
    "no bin": (lambda d: d["spec"]["platforms"][0].pop("bin"), "bin is required"),
    "empty files": (lambda d: d["spec"]["platforms"][0].update(files=[]), "non-empty"),
    "unclean to": (lambda d: d["spec"]["platforms"][0]["files"][0].update(to="./bin/"), "clean path"),
    "selector key": (lambda d: d["spec"]["platforms"][0]["selector"]["matchLabels"].update(libc="glibc"), "libc"),
    "int arch": (lambda d: d["spec"]["platforms"][0]["selector"]["matchLabels"].update(arch=386), "string"),
    "no selector": (lambda d: d["spec"]["platforms"][0].pop("selector"), "selector is required"),
    "unsupported os": (
        lambda d: d["spec"]["platforms"][0]["selector"]["matchLabels"].update(os="plan9"),
        "no supported os/arch",
    ),
    "overlap": (lambda d: d["spec"]["platforms"][1]["selector"]["matchLabels"].update(arch="amd64"), "overlap"),
    "windows bin": (lambda d: d["spec"]["platforms"][4].update(bin="kubectl-aksdoctor"), ".exe"),
    "no platforms": (lambda d: d["spec"].update(platforms=[]), "at least one platform"),
}


@pytest.mark.parametrize("case", BREAKAGES)
def test_validator_rejects(case):
    edit, message = BREAKAGES[case]
    problems = validate(_broken(edit), TEMPLATE.name)
    assert any(message in p for p in problems), problems


def test_match_expressions_select_like_kubernetes():
    doc = _broken(lambda d: d["spec"].update(platforms=d["spec"]["platforms"][:1]))
    doc["spec"]["platforms"][0]["selector"] = {
        "matchExpressions": [{"key": "os", "operator": "In", "values": ["linux", "darwin"]}],
        "matchLabels": {"arch": "amd64"},
    }
    assert validate(doc, TEMPLATE.name) == []
    assert platform_for(doc, "darwin", "amd64") is doc["spec"]["platforms"][0]
    with pytest.raises(InstallError, match="0 platforms match"):
        platform_for(doc, "linux", "arm64")


def test_installer_rejects_symlinks_like_krew(tmp_path):
    archive = fake_archive(tmp_path / "a.tar.gz", symlink=True)
    with pytest.raises(InstallError, match="unable to handle file type"):
        install(template(), archive, tmp_path / "krew", "linux", "amd64", verify_sha256=False)


def _without_license(doc: dict) -> None:
    for platform in doc["spec"]["platforms"]:
        platform["files"] = [{"from": "kubectl-aksdoctor/*", "to": "."}]


def test_installer_needs_a_license(tmp_path):
    doc = _broken(_without_license)
    with pytest.raises(InstallError, match="no license file"):
        install(doc, fake_archive(tmp_path / "a.tar.gz"), tmp_path / "krew", "linux", "amd64", verify_sha256=False)


def test_installer_checks_the_sha256(tmp_path):
    with pytest.raises(InstallError, match="sha256"):
        install(template(), fake_archive(tmp_path / "a.tar.gz"), tmp_path / "krew", "linux", "amd64")


# ---- rendering for a release -------------------------------------------------------------------------------


def test_render_fills_version_uri_and_sha256(tmp_path):
    dist = fake_dist(tmp_path / "dist")
    result = render(dist, "--tag", f"v{__version__}")
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert validate(doc, "aksdoctor.yaml") == []
    assert doc["spec"]["version"] == f"v{__version__}"
    assert doc["spec"]["homepage"] == "https://github.com/example-org/aksdoctor"
    for os_name, arch in PLATFORMS:
        platform = platform_for(doc, os_name, arch)
        name = build.archive_name(os_name, arch)
        assert platform["uri"] == f"https://github.com/example-org/aksdoctor/releases/download/v{__version__}/{name}"
        assert platform["sha256"] == build.sha256(dist / name)
    for field in ("description", "caveats", "shortDescription"):
        assert doc["spec"][field] == template()["spec"][field]


def test_render_refuses_a_missing_archive(tmp_path):
    dist = fake_dist(tmp_path / "dist")
    (dist / build.archive_name("darwin", "arm64")).unlink()
    result = render(dist)
    assert result.returncode == 2
    assert "missing archive" in result.stderr and "darwin_arm64" in result.stderr


def test_render_for_a_local_install_keeps_placeholders(tmp_path):
    dist = tmp_path / "dist"
    archive = fake_archive(dist / build.archive_name("linux", "amd64"))
    result = render(dist, "--allow-missing")
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert validate(doc, "aksdoctor.yaml") == []
    assert platform_for(doc, "linux", "amd64")["sha256"] == build.sha256(archive)
    assert platform_for(doc, "darwin", "arm64")["sha256"] == "0" * 64


def test_render_refuses_a_tag_that_is_not_the_version(tmp_path):
    result = render(fake_dist(tmp_path / "dist"), "--tag", "v99.0.0")
    assert result.returncode == 2
    assert f"does not match the project version v{__version__}" in result.stderr


# ---- the real archive, installed as Krew does, run by the real kubectl -------------------------------------


@pytest.fixture(scope="module")
def krew_install(tmp_path_factory) -> Path:
    """The built archive rendered into a manifest and installed under a Krew root; returns root/bin."""
    archive = archive_or_skip()
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    os_name, arch = build.go_platform()
    tmp = tmp_path_factory.mktemp("krew")
    dist = fake_dist(tmp / "dist")
    shutil.copyfile(archive, dist / archive.name)
    manifest = tmp / "aksdoctor.yaml"
    result = render(dist, "-o", str(manifest))
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(manifest.read_text())
    assert validate(doc, manifest.name) == []
    install(doc, archive, tmp / "root", os_name, arch)
    return tmp / "root" / "bin"


def kubectl(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """kubectl with only the Krew bin folder and kubectl's own folder on PATH."""
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{Path(KUBECTL).parent}", "NO_COLOR": "1"}
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_kubectl_lists_the_installed_plugin(krew_install):
    result = kubectl(krew_install, "plugin", "list")
    assert result.returncode == 0, result.stderr
    assert str(krew_install / "kubectl-aksdoctor") in result.stdout


def test_kubectl_runs_version_through_the_krew_link(krew_install):
    result = kubectl(krew_install, "aksdoctor", "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"aksdoctor {__version__}")


def test_kubectl_runs_lb_on_the_example(krew_install):
    result = kubectl(
        krew_install, "aksdoctor", "lb", "orders-api", "-n", "default", "--snapshot", str(EXAMPLE), "-o", "json"
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["target"] == {"scope": "service", "cluster": "prod-aks", "namespace": "default", "name": "orders-api"}
    assert "lb.annotation-invalid" in {f["id"] for f in report["findings"]}


def test_help_through_kubectl_names_the_plugin(krew_install):
    result = kubectl(krew_install, "aksdoctor", "--help")
    assert result.stdout.startswith("usage: kubectl aksdoctor")
