"""Fix actions (the "fix" column of the check catalog). Each module holds one action named after it: module
`exclude_virtual_nodes` is action `exclude-virtual-nodes`. Modules are listed explicitly so frozen builds carry
them, and so the names are known without importing any action."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aksdoctor.fixes.base import Action

FIX_MODULES: tuple[str, ...] = (
    "exclude_virtual_nodes",
    "restart_tunnel",
    "release_kured_lock",
    "install_gpu_device_plugin",
    "reset_sp_credential",
    "grant_network_role",
    "delete_orphaned_ips",
)


def action_names() -> list[str]:
    return sorted(m.replace("_", "-") for m in FIX_MODULES)


def get_action(name: str) -> Action | None:
    """The action called `name`, or None when there is none."""
    module = name.replace("-", "_")
    if module not in FIX_MODULES:
        return None
    importlib.import_module(f"{__name__}.{module}")
    from aksdoctor.fixes.base import ACTIONS

    return ACTIONS.get(name)
