"""An in-process Azure CLI with the `aksdoctor` extension loaded from this repository.

azure-cli-core reads its config and extension folders when it is imported, so this module points them at a
private temporary home and imports it; import it before anything else that imports `azure.cli.core`. The
extension folder is laid out as `az extension add` leaves it (`<dir>/aksdoctor/azext_aksdoctor` plus a
dist-info), with the package linked to the source tree. Only azure-cli-core is installed, not the command modules
of the full CLI: an empty `azure.cli.command_modules` package and `use_command_index=false` keep it from looking
for them. The environment is set only while az runs, so other tests see the real one.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from aksdoctor import __version__

ROOT = Path(__file__).resolve().parents[1]
EXTENSION_PACKAGE = ROOT / "az_extension" / "azext_aksdoctor"


def _home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="aksdoctor-az-"))
    atexit.register(shutil.rmtree, home, True)
    ext = home / "extensions" / "aksdoctor"
    ext.mkdir(parents=True)
    (ext / "azext_aksdoctor").symlink_to(EXTENSION_PACKAGE, target_is_directory=True)
    info = ext / f"aksdoctor-{__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: aksdoctor\nVersion: {__version__}\n")
    modules = home / "stub" / "azure" / "cli" / "command_modules"
    modules.mkdir(parents=True)
    (modules / "__init__.py").write_text("")
    return home


HOME = _home()
EXTENSION_DIR = HOME / "extensions" / "aksdoctor"
ENV = {
    "AZURE_CONFIG_DIR": str(HOME / "config"),
    "AZURE_EXTENSION_DIR": str(HOME / "extensions"),
    "AZURE_CORE_COLLECT_TELEMETRY": "false",
    "AZURE_CORE_USE_COMMAND_INDEX": "false",
    "AZURE_CORE_NO_COLOR": "true",
}
# az appends each extension folder to sys.path when it loads it; doing it now lets tests patch the extension.
sys.path.extend([str(HOME / "stub"), str(EXTENSION_DIR)])
with mock.patch.dict(os.environ, ENV):
    from azure.cli.core.mock import DummyCli


@dataclass(frozen=True)
class AzResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def az(*args: str) -> AzResult:
    """Run one `az ...` command line in-process, as the `az` script does (a fresh CLI object each time)."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, ENV), redirect_stdout(out), redirect_stderr(err), _console_logging():
        try:
            code = DummyCli().invoke(list(args), out_file=out)
        except SystemExit as exc:  # argparse and -h end with SystemExit, as in the real `az`
            code = exc.code
    return AzResult(code, out.getvalue(), err.getvalue())


@contextmanager
def _console_logging() -> Iterator[None]:
    """Let knack set up its console log handlers for this run (on the redirected stderr), then put back the
    handlers that were there: knack configures logging only when the root logger has none, and pytest's own
    handlers (or the previous run's) would otherwise swallow az's `ERROR:` lines."""
    from knack.log import cli_logger_names

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in cli_logger_names)]
    saved = [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers = []
    try:
        yield
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


# ---- ARM through patched client factories ------------------------------------------------------------------------

SUB = "3f2c9a51-7d4e-4b8a-9c61-2e5f0a7b8d13"
FACTORY = "azext_aksdoctor._client_factory"


def cluster_id(name: str = "prod", resource_group: str = "prod-rg", subscription: str = SUB) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.ContainerService/managedClusters/{name}"
    )


def managed_cluster(name: str = "prod", resource_group: str = "prod-rg", subscription: str = SUB, **properties):
    """The SDK model ARM's GET of a managed cluster returns."""
    from azure.mgmt.containerservice.models import ManagedCluster

    return ManagedCluster(
        {
            "id": cluster_id(name, resource_group, subscription),
            "name": name,
            "location": "westeurope",
            "properties": {
                "nodeResourceGroup": f"MC_{resource_group}_{name}_westeurope",
                "currentKubernetesVersion": "1.30.4",
                "powerState": {"code": "Running"},
                **properties,
            },
        }
    )


def kubeconfig(server: str, user: dict, user_name: str = "clusterUser_prod-rg_prod") -> bytes:
    """A kubeconfig as ARM's listClusterUserCredential returns it (JSON is YAML)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "prod", "cluster": {"server": server}}],
            "users": [{"name": user_name, "user": user}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": user_name}}],
            "current-context": "prod",
        }
    ).encode()


class FakeManagedClusters:
    """The three ARM operations az aks doctor calls, answering with SDK models (or raising SDK errors)."""

    def __init__(self, mc=None, kubeconfig_bytes=b"", get_error=None, credentials_error=None):
        self.mc, self.kubeconfig = mc or managed_cluster(), kubeconfig_bytes
        self.get_error, self.credentials_error = get_error, credentials_error
        self.calls: list[tuple] = []
        self.token_calls = 0

    def get(self, resource_group, name):
        self.calls.append(("get", resource_group, name))
        if self.get_error:
            raise self.get_error
        return self.mc

    def _credentials(self, kind, resource_group, name):
        import base64

        from azure.mgmt.containerservice.models import CredentialResults

        self.calls.append((kind, resource_group, name))
        if self.credentials_error:
            raise self.credentials_error
        value = base64.b64encode(self.kubeconfig).decode()
        return CredentialResults({"kubeconfigs": [{"name": kind, "value": value}]})

    def list_cluster_user_credentials(self, resource_group, name):
        return self._credentials("user", resource_group, name)

    def list_cluster_admin_credentials(self, resource_group, name):
        return self._credentials("admin", resource_group, name)


def az_live(
    clusters: FakeManagedClusters,
    *args: str,
    subscription: str = SUB,
    token: str = "entra-id-token",
    azure=None,
    session=None,
) -> AzResult:
    """`az aks doctor ARGS` with ARM answered by `clusters`, `token` as the Entra ID token for the API server, and
    `azure` / `session` as what the Azure source / fix session factories return (never a real sign-in)."""
    with (
        mock.patch(f"{FACTORY}.cf_managed_clusters", return_value=clusters),
        mock.patch(f"{FACTORY}.subscription_id", return_value=subscription),
        mock.patch(f"{FACTORY}.aks_server_token", return_value=token) as token_call,
        mock.patch(f"{FACTORY}.cf_azure_source", return_value=azure),
        mock.patch(f"{FACTORY}.cf_azure_session", return_value=session),
    ):
        result = az(*args)
    clusters.token_calls = token_call.call_count
    return result
