"""The check catalog. Modules are listed explicitly (sorted, one per line) so frozen builds (PyInstaller) carry
every one of them; tests/test_catalog.py checks the list against the modules that register checks."""

from __future__ import annotations

import importlib

from aksdoctor.checks.base import REGISTRY, Check

CHECK_MODULES: tuple[str, ...] = (
    "arm_throttling",
    "azure_lb_limits",
    "azure_orphaned_ips",
    "gpu_device_plugin",
    "identity",
    "lb_annotation_invalid",
    "lb_backend_pool",
    "lb_basic_sku",
    "lb_etp_local",
    "lb_frontend_drift",
    "lb_ilb_hairpin",
    "lb_ilb_subnet",
    "lb_no_endpoints",
    "lb_nsg",
    "lb_pending",
    "lb_probe_mismatch",
    "lb_public_ip_config",
    "lb_readiness",
    "lb_target_port",
    "node_cloud_init",
    "node_exclusion",
    "node_reboot",
    "node_vm",
    "provider_errors",
    "tunnel",
    "version_known_issue",
    "version_unsupported",
)


def all_checks() -> dict[str, Check]:
    """Every registered check by id (imports the check modules on first use)."""
    for module in CHECK_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return dict(sorted(REGISTRY.items()))
