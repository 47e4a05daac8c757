"""Everything that talks to Azure is created here, from az's own login and `--subscription`; tests patch these."""

from __future__ import annotations

from typing import Any

# The AKS Entra ID server application: the audience of API-server tokens, the same in every cloud.
AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


def cf_managed_clusters(cli_ctx, *_):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.cli.core.profiles import ResourceType

    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE).managed_clusters


def subscription_id(cli_ctx) -> str:
    """`--subscription`, else az's default subscription."""
    from azure.cli.core.commands.client_factory import get_subscription_id

    return get_subscription_id(cli_ctx)


def aks_server_token(cli_ctx) -> str:
    """An Entra ID access token for the cluster's API server (what kubelogin would get), from az's login."""
    from azure.cli.core._profile import Profile

    token_tuple, _, _ = Profile(cli_ctx=cli_ctx).get_raw_token(
        resource=AKS_SERVER_APP_ID, subscription=subscription_id(cli_ctx)
    )
    return token_tuple[1]


def cf_azure_source(cli_ctx) -> Any:
    """The core's live Azure source (ARM and Graph) on az's credential, subscription and cloud (`az cloud set`,
    custom clouds included). Cheap: nothing is signed in or imported until a check needs an Azure fact."""
    from aksdoctor.sources.azure_live import AzureLiveSource

    credential, subscription, cloud = _login(cli_ctx)
    return AzureLiveSource(credential, subscription, cloud=cloud)


def cf_azure_session(cli_ctx) -> Any:
    """What a fix action reads and writes Azure with: a fresh live source per re-check, and the ARM and Graph
    writers, all on az's credential, subscription and cloud (one sign-in for the run)."""
    from aksdoctor.sources.arm_writer import AzureSession

    credential, subscription, cloud = _login(cli_ctx)
    return AzureSession(cloud=cloud, credential=credential, subscription_id=subscription)


def _login(cli_ctx) -> tuple[Any, str, Any]:
    """(az's credential, the subscription, the core's description of az's current cloud)."""
    from azure.cli.core._profile import Profile
    from azure.cli.core.auth.util import resource_to_scopes

    from aksdoctor.sources.arm_clouds import Cloud

    subscription = subscription_id(cli_ctx)
    credential, _, _ = Profile(cli_ctx=cli_ctx).get_login_credentials(subscription_id=subscription)
    endpoints = cli_ctx.cloud.endpoints
    cloud = Cloud(
        name=cli_ctx.cloud.name,
        arm=endpoints.resource_manager.rstrip("/"),
        arm_scope=resource_to_scopes(endpoints.active_directory_resource_id)[0],
        graph=endpoints.microsoft_graph_resource_id.rstrip("/"),
        authority=endpoints.active_directory,
    )
    return credential, subscription, cloud
