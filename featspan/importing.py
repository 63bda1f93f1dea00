"""Code named in a config as ``package.module:function`` (a model or dataset of the user's own, or a
registered builder): recognizing such a name and importing the function it names."""

from __future__ import annotations

import importlib
from typing import Callable


def is_function_name(name: str) -> bool:
    """``package.module:function``, not a registered short name like ``resnet18``."""
    return ":" in name


def import_function(name: str) -> Callable:
    """The function ``package.module:function`` names (its module imported on first use)."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)
