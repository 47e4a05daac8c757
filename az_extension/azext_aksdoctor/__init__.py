"""`az aks doctor`: the aksdoctor engine as an Azure CLI extension command.

This module stays import-light: az imports it for every `az` invocation once the extension is installed.
"""

from __future__ import annotations

from azure.cli.core import AzCommandsLoader

from azext_aksdoctor._help import helps  # noqa: F401  (registers the YAML help)


class AksDoctorCommandsLoader(AzCommandsLoader):
    def __init__(self, cli_ctx=None):
        from azure.cli.core.commands import CliCommandType

        custom = CliCommandType(operations_tmpl="azext_aksdoctor.custom#{}")
        super().__init__(cli_ctx=cli_ctx, custom_command_type=custom)

    def load_command_table(self, args):
        from azext_aksdoctor.commands import load_command_table

        load_command_table(self, args)
        return self.command_table

    def load_arguments(self, command):
        from azext_aksdoctor._params import load_arguments

        load_arguments(self, command)


COMMAND_LOADER_CLS = AksDoctorCommandsLoader
