"""The wheel built from setup.cfg carries every package and every knowledge file of the source tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "shared" / "aksdoctor"


def test_wheel_contains_every_module_and_knowledge_file(tmp_path):
    # Build from a copy: an in-tree setuptools build would leave build/ and *.egg-info in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(CORE, src / "shared" / "aksdoctor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        REPO / "kubectl_plugin" / "kubectl_aksdoctor",
        src / "kubectl_plugin" / "kubectl_aksdoctor",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(src)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("aksdoctor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"aksdoctor/{p.relative_to(CORE).as_posix()}" for p in CORE.rglob("*.py")}
    expected |= {f"aksdoctor/{p.relative_to(CORE).as_posix()}" for p in (CORE / "knowledge").glob("*.yaml")}
    expected |= {"kubectl_aksdoctor/cli.py", "kubectl_aksdoctor/commands.py"}
    expected = {n for n in expected if "__pycache__" not in n}
    assert expected <= names, sorted(expected - names)
