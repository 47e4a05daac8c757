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
            "'none' the exit code is 0 whatever is found. Default: error.",
        )
        c.argument(
            "snapshot",
            options_list=["--snapshot"],
            type=file_type,
            completer=FilesCompleter(),
            help="Diagnose a snapshot (a directory or .tar.gz, as --collect writes it) offline instead of the live "
            "cluster; with --fix, plan from it (never applied). Nothing is read from Azure or the cluster; --name "
            "and --resource-group name the cluster only when the snapshot does not.",
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

    _fix_arguments(self)
    _collect_arguments(self)


def _fix_arguments(self) -> None:
    from aksdoctor.fixes import action_names

    fix = "Fix"
    reset = "Fix reset-sp-credential"
    with self.argument_context("aks doctor") as c:
        c.argument(
            "fix",
            options_list=["--fix"],
            arg_type=get_enum_type(action_names()),
            arg_group=fix,
            help="Plan this fix action instead of diagnosing: the exact requests, the equivalent commands, the blast "
            "radius and how to roll back. Nothing changes without --yes.",
        )
        c.argument(
            "yes",
            options_list=["--yes", "-y"],
            arg_group=fix,
            help="Apply the --fix plan, then re-run the checks it addresses. Not with --snapshot.",
        )
        c.argument(
            "timeout",
            options_list=["--timeout"],
            type=int,
            arg_group=fix,
            help="Seconds to wait, after applying, for the re-check to pass when the change takes time (pods "
            "restarting, a new secret replicating). Default: 120.",
        )
        c.argument(
            "years",
            options_list=["--years"],
            type=int,
            arg_group=reset,
            help="Lifetime of the new service principal secret in years. Default: 1.",
        )
        c.argument(
            "end_date",
            options_list=["--end-date"],
            arg_group=reset,
            help="End of the new service principal secret: YYYY-MM-DD or RFC 3339. Not with --years.",
        )
        c.argument(
            "show_secret",
            options_list=["--show-secret"],
            arg_group=reset,
            help="Print the new secret once, on stderr (never in the result). Needed when only you can put it in "
            "place.",
        )
        c.argument(
            "remove_expired",
            options_list=["--remove-expired"],
            arg_group=reset,
            help="Also delete the application's expired password credentials, after the cluster has the new one.",
        )


def _collect_arguments(self) -> None:
    collect = "Collect"
    with self.argument_context("aks doctor") as c:
        c.argument(
            "collect",
            options_list=["--collect"],
            type=file_type,
            completer=FilesCompleter(),
            arg_group=collect,
            help="Instead of diagnosing, write a redacted snapshot of the cluster and its Azure resources: a "
            "FILE.tar.gz, else a new or empty directory. Read it back with --snapshot.",
        )
        c.argument(
            "anonymize",
            options_list=["--anonymize"],
            arg_group=collect,
            help="With --collect: also replace subscription ids, IP addresses and cluster, node, namespace and "
            "workload names, consistently across the snapshot.",
        )
