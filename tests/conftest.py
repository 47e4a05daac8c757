"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubefake import PROXY_VARS


@pytest.fixture(scope="module")
def loopback_only() -> Iterator[pytest.MonkeyPatch]:
    """No proxy variables for the whole module: the clients read them from the environment, and these tests talk
    to fakes on 127.0.0.1. Yields the MonkeyPatch, for more settings with the same lifetime."""
    with pytest.MonkeyPatch.context() as mp:
        for var in PROXY_VARS:
            mp.delenv(var, raising=False)
        yield mp


@pytest.fixture(scope="session", autouse=True)
def no_real_azure(tmp_path_factory) -> Iterator[None]:
    """Tests never reach Azure, not even the metadata endpoint: any DefaultAzureCredential (in this process or in
    a CLI subprocess) finds no az login, and its managed-identity probe is pointed at a closed loopback port."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AZURE_CONFIG_DIR", str(tmp_path_factory.mktemp("azure-config")))
        mp.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")
        mp.setenv("IDENTITY_HEADER", "aksdoctor-tests")
        for var in (
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "MSI_ENDPOINT",
            "MSI_SECRET",
            "IMDS_ENDPOINT",
        ):
            mp.delenv(var, raising=False)
        yield
