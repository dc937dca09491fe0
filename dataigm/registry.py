"""Named plug-ins: generators, judges and curation steps are looked up by name, not if-chains.

A registry maps a name to a target, given either as an object or as a `"module:attribute"`
string that is imported on first use (so naming the diffusers generator does not import torch
until it is used). Users add their own without editing dataigm, through a Python entry point in
their package's metadata:

    [project.entry-points."dataigm.judges"]
    my_judge = "my_package.judges:MyJudge"

Built-in names win over entry points of the same name, so an installed package cannot silently
replace a built-in.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any, Generic, TypeVar

from dataigm.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> target (object or "module:attr"), with entry points from `group`."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._targets: dict[str, Any] = {}

    def register(self, name: str, target: Any) -> None:
        self._targets[name] = target

    def _entry_points(self) -> dict[str, Any]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted(set(self._targets) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        return name in self._targets or name in self._entry_points()

    def get(self, name: str, where: str = "") -> T:
        """The target registered as `name`; an unknown name is a one-line ConfigError."""
        if name in self._targets:
            target = self._targets[name]
            if isinstance(target, str):
                module, _, attr = target.partition(":")
                target = getattr(importlib.import_module(module), attr)
                self._targets[name] = target
            return target
        ep = self._entry_points().get(name)
        if ep is not None:
            return ep.load()
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown {self.kind} '{name}' (known: {', '.join(self.names())}; "
                          f"add one through the '{self.group}' entry point group)")
