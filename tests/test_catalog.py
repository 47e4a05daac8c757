"""The check catalog: every check module is listed (frozen builds import only the list), every id of the design's
catalog is registered, and each entry carries what reports and fixes rely on."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

from aksdoctor import checks
from aksdoctor.checks import CHECK_MODULES, all_checks
from aksdoctor.checks.base import check
from aksdoctor.fixes import action_names, get_action

# The check catalog's stable ids (README.md, "Checks").
DESIGN_IDS = (
    "lb.pending",
    "lb.auth-failed",
    "lb.permission-denied",
    "lb.quota-exceeded",
    "lb.throttled",
    "lb.public-ip-config",
    "lb.annotation-invalid",
    "lb.ilb-subnet",
    "lb.no-endpoints",
    "lb.target-port-mismatch",
    "lb.no-readiness-probe",
    "lb.probe-mismatch",
    "lb.nsg-blocks-traffic",
    "lb.backend-pool-empty",
    "lb.frontend-drift",
    "lb.ilb-hairpin",
    "lb.etp-local",
    "lb.basic-sku",
    "node.not-cloud-initialized",
    "node.excluded-from-lb",
    "node.virtual-not-excluded",
    "node.vm-missing",
    "node.vm-unhealthy",
    "gpu.device-plugin-missing",
    "node.reboot-pending",
    "tunnel.unhealthy",
    "identity.sp-expired",
    "identity.cloud-config",
    "identity.service-principal",
    "arm.throttling",
    "version.known-issue",
    "version.unsupported",
    "azure.orphaned-public-ip",
    "azure.lb-limits",
)
CATALOG = all_checks()


def _registering_modules() -> dict[str, set[str]]:
    """Module name -> the ids it registers, after importing every module file of the package (listed or not)."""
    for info in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{info.name}")
    by_module: dict[str, set[str]] = {}
    for cid, entry in all_checks().items():
        module = entry.run.__module__
        if module.startswith(checks.__name__ + "."):
            by_module.setdefault(module.rsplit(".", 1)[1], set()).add(cid)
    return by_module


def test_check_modules_are_sorted_one_per_line():
    assert list(CHECK_MODULES) == sorted(set(CHECK_MODULES))
    source = inspect.getsource(checks)
    listing = re.search(r"CHECK_MODULES: tuple\[str, \.\.\.\] = \(\n(.*?)\n\)", source, re.S)
    assert listing is not None
    assert listing.group(1).splitlines() == [f'    "{m}",' for m in CHECK_MODULES]


def test_every_module_that_registers_a_check_is_listed():
    registering = _registering_modules()
    assert sorted(set(registering) - set(CHECK_MODULES)) == []
    assert sorted(set(CHECK_MODULES) - set(registering)) == []  # a listed module registers something


def test_every_design_catalog_id_is_registered():
    assert len(set(DESIGN_IDS)) == len(DESIGN_IDS)
    assert sorted(set(DESIGN_IDS) - set(CATALOG)) == []


@pytest.mark.parametrize("cid", sorted(CATALOG))
def test_check_has_title_docs_and_a_known_fix_action(cid):
    entry = CATALOG[cid]
    assert re.fullmatch(r"[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*", cid)
    assert entry.title.strip()
    assert entry.docs
    assert all(url.startswith("https://") for url in entry.docs)
    if entry.fix_action is not None:
        assert entry.fix_action in action_names()


def test_fix_actions_address_registered_checks():
    for name in action_names():
        action = get_action(name)
        assert action is not None, name
        assert action.addresses, name
        assert sorted(set(action.addresses) - set(CATALOG)) == [], name


def test_ids_are_unique():
    # Registering an id twice is refused, so importing every module (above) proves the catalog has no duplicate.
    with pytest.raises(ValueError, match="duplicate check id"):
        check(id="lb.pending", title="again", severity="info", scope="service", needs=())(lambda ctx: None)
    assert len({cid.lower() for cid in CATALOG}) == len(CATALOG)
