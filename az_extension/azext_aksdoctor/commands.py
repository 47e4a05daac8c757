"""The command table: one new leaf under the existing `aks` group, marked preview on the command only."""

from __future__ import annotations

from azext_aksdoctor._format import doctor_table
from azext_aksdoctor._validators import validate_doctor


def load_command_table(self, _):
    # No is_preview on the group: that would tag every `az aks` command as preview.
    with self.command_group("aks") as g:
        g.custom_command(
            "doctor", "aks_doctor", table_transformer=doctor_table, validator=validate_doctor, is_preview=True
        )
