"""The check catalog. Modules are listed explicitly so frozen builds (PyInstaller) carry every one of them."""

from __future__ import annotations

import importlib

from aksdoctor.checks.base import REGISTRY, Check

CHECK_MODULES: tuple[str, ...] = (
    "lb_annotation_invalid",
    "lb_no_endpoints",
    "lb_target_port",
    "lb_readiness",
    "lb_ilb_hairpin",
    "lb_etp_local",
    "lb_probe_mismatch",
    "lb_frontend_drift",
    "lb_backend_pool",
    "lb_basic_sku",
    "provider_errors",
    "lb_public_ip_config",
    "lb_ilb_subnet",
    "lb_nsg",
    "azure_lb_limits",
    "azure_orphaned_ips",
    "lb_pending",
    "arm_throttling",
    "version_known_issue",
    "version_unsupported",
    "node_cloud_init",
    "node_exclusion",
    "node_vm",
    "identity",
    "gpu_device_plugin",
    "node_reboot",
    "tunnel",
)


def all_checks() -> dict[str, Check]:
    """Every registered check by id (imports the check modules on first use)."""
    for module in CHECK_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return dict(sorted(REGISTRY.items()))
