"""The Azure cloud provider's config (azure.json, or the azure-cloud-provider secret's `cloud-config`), read the way
the provider reads it, with its secrets kept out of every report.

cloud-provider-azure parses the text with sigs.k8s.io/yaml (YAML or JSON, then Go's encoding/json): keys match
case-insensitively, and a boolean written as a string fails the whole parse. Secret values never leave this module:
`describe` and `redacted` say only that a secret is set and how long it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aksdoctor import knowledge
from aksdoctor.errors import FactUnavailable
from aksdoctor.sources.documents import MalformedDocument, parse_text

REDACTED = "<redacted>"
SECRET_NAME = "azure-cloud-provider"  # kube-system secret of self-managed clusters (--cloud-config-secret-name)
SECRET_KEY = "cloud-config"
NOT_SET = "<not set>"


def rules() -> dict[str, Any]:
    return knowledge.load("cloud_config")


def is_secret_key(key: str) -> bool:
    """aadClientSecret, aadClientCertPassword, and any key naming a secret, password or token (not a file path)."""
    secrets = rules()["secrets"]
    lowered = key.lower()
    if lowered in {k.lower() for k in secrets["keys"]}:
        return True
    if lowered.endswith(tuple(secrets["not_secret_suffixes"])):
        return False
    return any(word in lowered for word in secrets["words"])


@dataclass(frozen=True)
class CloudConfig:
    """A parsed cloud config. `values` holds secrets: checks read it through `get`/`flag` and print only
    `describe` (and callers that show the whole config use `redacted`). `problem` says why it could not be parsed."""

    source: str  # where it came from, as evidence names it: "Secret kube-system/azure-cloud-provider", "azure.json …"
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)
    problem: str = ""

    @property
    def in_secret(self) -> bool:
        return self.source.startswith("Secret ")

    def key(self, name: str) -> str | None:
        """The key as spelled in the config: the exact name, else a case-insensitive match (as encoding/json)."""
        if name in self.values:
            return name
        folded = name.lower()
        return next((k for k in self.values if isinstance(k, str) and k.lower() == folded), None)

    def get(self, name: str, default: Any = None) -> Any:
        key = self.key(name)
        return self.values[key] if key is not None else default

    def is_set(self, name: str) -> bool:
        value = self.get(name)
        return value is not None and value != ""

    def flag(self, name: str) -> bool:
        """A boolean setting as the provider reads it: only a real `true` counts."""
        return self.get(name) is True

    def text(self, name: str) -> str:
        """A non-secret string setting, "" when unset."""
        value = self.get(name)
        return "" if value is None else str(value)

    def describe(self, name: str) -> str:
        """`key: value` for evidence; a secret shows only whether it is set and its length."""
        key = self.key(name) or name
        if key not in self.values:
            return f"{key}: {NOT_SET}"
        return f"{key}: {_shown(key, self.values[key])}"

    def redacted(self) -> dict[str, Any]:
        """The whole config with every secret value replaced (nested settings included)."""
        return _redact(self.values)


def _shown(key: str, value: Any) -> str:
    if is_secret_key(key):
        if isinstance(value, str):
            return f"<set, {len(value)} characters>" if value else "<empty>"
        return "<set>" if value is not None else "<null>"
    return json.dumps(value, ensure_ascii=False, default=str)  # exact: a quoted "true" is not true


def _redact(value: Any, key: str = "") -> Any:
    if key and is_secret_key(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def parse(text: str, source: str) -> CloudConfig:
    """Parse YAML or JSON; a config that cannot be parsed comes back with `problem` set (no content quoted)."""
    suffix = ".json" if text.lstrip().startswith("{") else ".yaml"
    try:
        docs = parse_text(text, suffix=suffix)
    except MalformedDocument as exc:
        return CloudConfig(source, {}, str(exc))
    if not docs:
        return CloudConfig(source, {}, "it is empty")
    if len(docs) > 1 or not isinstance(docs[0], dict):
        return CloudConfig(source, {}, "it is not one mapping of settings")
    return CloudConfig(source, docs[0])


def load_file(path: str) -> CloudConfig:
    """A config file named on the command line (`--cloud-config FILE`)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FactUnavailable(f"cannot read --cloud-config {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, f"azure.json {path} (--cloud-config)")


def from_secret(secret: Mapping[str, Any], where: str) -> str:
    """The `cloud-config` text of the azure-cloud-provider Secret (base64 in `data`, or plain `stringData`)."""
    import base64
    import binascii

    encoded = (secret.get("data") or {}).get(SECRET_KEY)
    if encoded is None:
        plain = (secret.get("stringData") or {}).get(SECRET_KEY)
        if isinstance(plain, str):
            return plain
        raise FactUnavailable(f"{where} has no {SECRET_KEY} key")
    try:
        return base64.b64decode(str(encoded), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise FactUnavailable(f"{where}: {SECRET_KEY} is not base64 text (redacted when it was collected?)") from None
