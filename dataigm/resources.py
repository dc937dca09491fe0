"""Where the files shipped inside the wheel live: built-in concepts and presets.

One lookup for every kind of named YAML file, so "a built-in name or a path" means the same thing
for concepts, dataset presets and judge presets. Presets sit in `dataigm.pipelines/presets`
(judge presets are `judge-<name>.yaml`); concepts in `dataigm/concepts`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from dataigm.errors import ConfigError

Kind = Literal["concept", "preset", "judge preset"]


def concept_dir() -> Path:
    return Path(str(resources.files("dataigm") / "concepts"))


def preset_dir() -> Path:
    # A data folder of the dataigm.pipelines package, found through the import system (the
    # package may be mapped from the repo's pipelines/ folder) without running its code.
    from importlib.util import find_spec

    spec = find_spec("dataigm.pipelines")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - broken install
        raise ConfigError("dataigm.pipelines is not installed; reinstall dataigm")
    return Path(list(spec.submodule_search_locations)[0]) / "presets"


def _folder_and_prefix(kind: Kind) -> tuple[Path, str]:
    if kind == "concept":
        return concept_dir(), ""
    if kind == "judge preset":
        return preset_dir(), "judge-"
    return preset_dir(), ""


def builtin_names(kind: Kind) -> list[str]:
    folder, prefix = _folder_and_prefix(kind)
    names = [p.stem for p in folder.glob("*.yaml")]
    if prefix:
        return sorted(n.removeprefix(prefix) for n in names if n.startswith(prefix))
    if kind == "preset":
        return sorted(n for n in names if not n.startswith("judge-"))
    return sorted(names)


def looks_like_path(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref


def resolve_named_file(ref: str | Path, kind: Kind, relative_to: Path | None = None) -> Path:
    """A built-in name (`demo`, `object_church`) or a path to a YAML file -> the file's path.

    A relative path is tried as given, then relative to `relative_to` (the file that named it).
    """
    text = str(ref)
    if looks_like_path(text):
        path = Path(text).expanduser()
        if not path.is_absolute() and relative_to is not None and not path.exists():
            path = relative_to / path
        return path
    folder, prefix = _folder_and_prefix(kind)
    path = folder / f"{prefix}{text}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown {kind} '{text}' (built-in: {', '.join(builtin_names(kind))}; "
            "or pass a path to a YAML file)"
        )
    return path
