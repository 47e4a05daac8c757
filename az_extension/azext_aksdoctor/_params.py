"""Arguments of `az aks doctor`. `resource_group_name` gets `-g/--resource-group`, its help, completer and
`az configure --defaults group=` from azure-cli-core."""

from __future__ import annotations

from argcomplete.completers import FilesCompleter
from azure.cli.core.commands.parameters import file_type, get_enum_type, get_resource_name_completion_list
from azure.cli.core.decorators import Completer

SEVERITIES = ("critical", "error", "warning", "info", "none")


@Completer
def check_id_completer(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    from aksdoctor.checks import all_checks

    return list(all_checks())


def load_arguments(self, _):
    with self.argument_context("aks doctor") as c:
        c.argument(
            "name",
            options_list=["--name", "-n"],
            help="Name of the managed cluster.",
            completer=get_resource_name_completion_list("Microsoft.ContainerService/ManagedClusters"),
        )
        c.argument(
            "service",
            options_list=["--service"],
            help="Diagnose one LoadBalancer Service, as NAMESPACE/NAME (or NAME in the default namespace), instead "
            "of the whole cluster.",
        )
        c.argument(
            "check",
            options_list=["--check"],
            nargs="+",
            completer=check_id_completer,
            help="Run only these checks: space- or comma-separated ids or glob patterns such as 'lb.*'.",
        )
        c.argument(
            "skip",
            options_list=["--skip"],
            nargs="+",
            completer=check_id_completer,
            help="Skip these checks: space- or comma-separated ids or glob patterns.",
        )
        c.argument(
            "fail_on",
            options_list=["--fail-on"],
            arg_type=get_enum_type(SEVERITIES),
            help="Exit with code 1 (after printing the report) when a finding is at or above this severity; with "
            "'none' the exit code is 0 whatever is found.",
        )
        c.argument(
            "snapshot",
            options_list=["--snapshot"],
            type=file_type,
            completer=FilesCompleter(),
            help="Diagnose a snapshot (a directory or .tar.gz) offline instead of the live cluster. Nothing is read "
            "from Azure or the cluster; --name and --resource-group name the cluster only when the snapshot does "
            "not.",
        )
        c.argument(
            "admin",
            options_list=["--admin", "-a"],
            help="Use the cluster admin credentials (needs 'Azure Kubernetes Service Cluster Admin Role' and local "
            "accounts enabled) instead of the cluster user credentials.",
        )
        c.argument(
            "no_azure",
            options_list=["--no-azure"],
            help="Do not read the cluster's Azure resources (load balancers, public IPs, NSGs, VMs); the checks that "
            "need them are reported as skipped.",
        )
