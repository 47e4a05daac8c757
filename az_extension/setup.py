"""Build the `az aks doctor` extension wheel: `pip wheel --no-deps ./az_extension -w az_extension/dist`.

The wheel carries the shared core (`aksdoctor`, with its knowledge/*.yaml) next to `azext_aksdoctor`, so
`az extension add --source aksdoctor-<version>-py3-none-any.whl` needs nothing else from this repository. The
version is the core's `__version__`: one number for the whole project. Dependencies are only what az itself
does not ship (see README.md, "Dependencies").
"""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
CORE = HERE.parent / "shared"
if not (CORE / "aksdoctor" / "__init__.py").is_file():
    raise SystemExit(f"the aksdoctor core is not at {CORE / 'aksdoctor'}: build from a clone of the repository")


def core_version() -> str:
    """`__version__` read as text: importing the core at build time would need its dependencies installed."""
    text = (CORE / "aksdoctor" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not match:
        raise SystemExit("no __version__ in shared/aksdoctor/__init__.py")
    return match.group(1)


CORE_PACKAGES = find_packages(where=str(CORE), include=["aksdoctor", "aksdoctor.*"])

setup(
    name="aksdoctor",
    version=core_version(),
    description="az aks doctor: diagnose AKS networking, node and identity problems, with evidence and fixes",
    long_description=(HERE / "README.md").read_text(encoding="utf-8")
    + "\n\n"
    + (HERE / "HISTORY.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: System Administrators",
        "Environment :: Console",
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
    ],
    packages=["azext_aksdoctor", *CORE_PACKAGES],
    # The core lives outside this folder; setuptools copies it into the wheel from there.
    package_dir={"azext_aksdoctor": "azext_aksdoctor", **{p: str(CORE / p.replace(".", "/")) for p in CORE_PACKAGES}},
    package_data={"azext_aksdoctor": ["azext_metadata.json"], "aksdoctor": ["knowledge/*.yaml"]},
    # Only what azure-cli does not ship: it has azure-mgmt-containerservice, azure-mgmt-compute, azure-core, msal,
    # PyYAML and requests (and its copies win on sys.path anyway); az's login replaces azure-identity.
    install_requires=["kubernetes>=30", "azure-mgmt-network>=25"],
)
