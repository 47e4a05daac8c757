"""Knowledge as data: YAML files shipped as package data. Updating one needs no code change."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any


@functools.cache
def load(name: str) -> Any:
    """Parse `knowledge/<name>.yaml` once per process."""
    import yaml

    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
