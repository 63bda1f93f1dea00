"""The config schema (featspan/schemas/config.schema.yaml, package data; the workflow's
schemas/config.schema.yaml links to it) as the one home of every config default.

The library's settings objects (:class:`featspan.train.TrainConfig`, :class:`featspan.toy.ToyConfig`)
take their defaults from it, so a default written in the schema is the default everywhere: in a
validated config, in the library, on the command line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# beside this module in a checkout and in an installed wheel (package data; featspan is a namespace
# package, which importlib.resources.files cannot anchor on in Python 3.11)
SCHEMA = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"


@lru_cache(maxsize=1)
def schema() -> dict:
    import yaml

    if not SCHEMA.exists():
        raise FileNotFoundError(f"{SCHEMA}: the config schema is missing from the installed package; reinstall "
                                "featspan (its wheel ships featspan/schemas/config.schema.yaml)")
    return yaml.safe_load(SCHEMA.read_text())


def section(path: str) -> dict:
    """The properties of a schema section: ``$defs/train``, ``properties/toy``, ``properties/span``."""
    node = schema()
    for key in path.split("/"):
        node = node[key]
    return node["properties"]


def default(path: str, key: str):
    """The schema's default of ``key`` in section ``path`` (KeyError when it has none)."""
    spec = section(path)[key]
    if "default" not in spec:
        raise KeyError(f"the schema gives {path}/{key} no default")
    value = spec["default"]
    return tuple(value) if isinstance(value, list) else value
