"""Which Azure cloud to talk to: public, US Government or China. Sovereign clouds have their own Resource Manager,
Graph and sign-in hosts, so a user who ran `az cloud set` must not be sent to management.azure.com.

The endpoints are data (knowledge/azure_clouds.yaml). The cloud is chosen by `--cloud`, else `$AZURE_CLOUD`, else
the Azure CLI's configured cloud (`[cloud] name =` in $AZURE_CONFIG_DIR/config or ~/.azure/config), else public.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aksdoctor import knowledge
from aksdoctor.errors import UsageError

ENV_VAR = "AZURE_CLOUD"


@dataclass(frozen=True)
class Cloud:
    name: str
    arm: str  # Resource Manager endpoint, no trailing slash
    arm_scope: str  # token scope for ARM
    graph: str  # Microsoft Graph endpoint, no trailing slash
    authority: str  # Entra ID authority host for azure-identity

    @property
    def graph_scope(self) -> str:
        return f"{self.graph}/.default"


def known_clouds() -> dict[str, Cloud]:
    """Every cloud by lower-cased name and alias."""
    out: dict[str, Cloud] = {}
    for name, raw in knowledge.load("azure_clouds")["clouds"].items():
        cloud = Cloud(
            name=name,
            arm=raw["arm"].rstrip("/"),
            arm_scope=raw["arm_scope"],
            graph=raw["graph"].rstrip("/"),
            authority=raw["authority"],
        )
        for key in (name, *raw.get("aliases", ())):
            out[key.lower()] = cloud
    return out


def cloud_named(name: str, origin: str = "--cloud") -> Cloud:
    clouds = known_clouds()
    found = clouds.get(name.strip().lower())
    if found is None:
        names = sorted({c.name for c in clouds.values()})
        raise UsageError(f"unknown Azure cloud {name!r} (from {origin}); known: {', '.join(names)} (or use --no-azure)")
    return found


def resolve_cloud(
    flag: str | None = None, environ: Mapping[str, str] | None = None, home: str | None = None
) -> tuple[Cloud, str]:
    """(cloud, where the choice came from)."""
    env = os.environ if environ is None else environ
    if flag:
        return cloud_named(flag, "--cloud"), "--cloud"
    if env.get(ENV_VAR):
        return cloud_named(env[ENV_VAR], f"${ENV_VAR}"), f"${ENV_VAR}"
    config = Path(env.get("AZURE_CONFIG_DIR") or Path(home or Path.home()) / ".azure") / "config"
    name = _az_cli_cloud(config)
    if name:
        return cloud_named(name, str(config)), str(config)
    default = knowledge.load("azure_clouds")["default"]
    return cloud_named(default), "default"


def _az_cli_cloud(path: Path) -> str:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return ""
    return parser.get("cloud", "name", fallback="").strip()
