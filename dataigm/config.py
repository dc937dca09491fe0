"""Configuration: YAML files validated into dataclasses, the one path every command takes.

Users write YAML; code reads typed dataclasses. Every command resolves its configuration the same
way (`resolve_config`):

    preset YAML  ->  deep merge of the command's own flags and of repeatable `--set a.b.c=value`
                 ->  validation, once  ->  run

`--set` values are typed by the dataclass field they land in (`--set optim.max_epochs=3` is an
int, `--set review.file=001.csv` stays a string), and a key that is not a field is an error before
anything runs. The Python API takes the same overrides with the same merge (nested mappings merge
into sections; they never replace a whole section).

`load_dataclass` checks every key against the dataclass: unknown keys, missing fields, wrong types
and failed `validate()` hooks all raise ConfigError with the file and the dotted field name, e.g.

    pipelines/presets/demo.yaml: generation.batch_size: expected an integer, got 'eight'

A dataclass may define `validate(self) -> None` and raise ValueError with a message; the loader
prefixes it with the file and field path. Fields declared with `init=False` are runtime state
(the source file, loaded concept specs): never read from YAML, never printed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from dataigm.errors import ConfigError

T = TypeVar("T")


# Deeper than any real configuration; a YAML bomb of nested lists would otherwise end in a
# RecursionError while it is validated.
MAX_DEPTH = 64


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file; any read or parse problem becomes a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    return data


def _depth(data: Any) -> int:
    """Nesting depth of plain YAML data, without recursion (a hostile file can be deep)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def load_dataclass(cls: type[T], data: Any, source: str, prefix: str = "") -> T:
    """Build dataclass `cls` from plain data, validating keys, types and the validate() hook.

    `source` names the file (for messages); `prefix` is the dotted path of `data` inside it.
    """
    where = f"{source}: {prefix}:" if prefix else f"{source}:"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} expected a mapping, got {_describe(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = _join(prefix, str(unknown[0]))
        raise ConfigError(
            f"{source}: {key}: unknown key (expected one of: {', '.join(sorted(fields))})"
        )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        path = _join(prefix, name)
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], source, path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: {path}: missing required field")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            msg = str(exc)
            # validate() may name a sub-field as "field: message"; keep it under our prefix.
            raise ConfigError(f"{source}: {_join(prefix, msg) if prefix else msg}") from None
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return repr(value)


def _convert(tp: Any, value: Any, source: str, path: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    fail = lambda what: ConfigError(f"{source}: {path}: expected {what}, got {_describe(value)}")  # noqa: E731

    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, source, path)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else fail(" or ".join(_type_name(a) for a in args))
    if origin is Literal:
        if value not in args:
            raise ConfigError(
                f"{source}: {path}: must be one of {', '.join(map(str, args))}, got {_describe(value)}"
            )
        return value
    if dataclasses.is_dataclass(tp):
        return load_dataclass(tp, value, source, path)
    if origin in (list, typing.List, tuple):
        if not isinstance(value, list):
            raise fail("a list")
        item = args[0] if args else Any
        items = [_convert(item, v, source, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise fail("a mapping")
        key_t, val_t = args if args else (Any, Any)
        return {
            _convert(key_t, k, source, f"{path}.{k}"): _convert(val_t, v, source, f"{path}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def load_yaml_dataclass(cls: type[T], path: str | Path) -> T:
    """Read a YAML file and validate it into `cls`."""
    return load_dataclass(cls, read_yaml(path), str(path))


def to_dict(obj: Any) -> Any:
    """Dataclass (or nested structure) to plain data, for snapshots in run.json and
    --print-config. Runtime-state fields (`init=False`) are left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------- overrides


def deep_merge(base: Any, override: Any) -> Any:
    """`override` merged into `base`: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = deep_merge(base.get(key), value) if key in base else value
        return out
    return override


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"optim.max_epochs": 3} -> {"optim": {"max_epochs": 3}}; None values are left out (an
    unset command-line flag)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None:
            continue
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def parse_sets(items: Sequence[str]) -> list[tuple[str, str]]:
    """`--set KEY=VALUE` items as (dotted key, raw value); a malformed item is a ConfigError."""
    out = []
    for item in items:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set: expected KEY=VALUE with a dotted KEY, got {item!r}")
        out.append((key, raw))
    return out


def apply_sets(cls: type, data: dict[str, Any], sets: Sequence[str]) -> dict[str, Any]:
    """Apply `--set` items to plain config data for dataclass `cls`; returns a new mapping.

    Each key is walked through the dataclass's fields (sections, mappings, list indices), so an
    unknown key fails here, with its name, and each value is parsed for the type of its field.
    """
    data = deep_merge({}, data or {})
    for key, raw in parse_sets(sets):
        parts = key.split(".")
        tp: Any = cls
        node: Any = data
        for depth, part in enumerate(parts):
            tp = _child_type(tp, part, key, parts[:depth])
            last = depth == len(parts) - 1
            if last:
                _assign(node, part, _typed(tp, raw))
                break
            child = _get(node, part)
            if child is None:
                child = {}
                _assign(node, part, child)
            if not isinstance(child, (dict, list)):
                raise ConfigError(f"--set {key}: '{'.'.join(parts[:depth + 1])}' is a value, not a section")
            node = child
    return data


def _get(node: Any, part: str) -> Any:
    if isinstance(node, list):
        return node[int(part)]
    return node.get(part)


def _assign(node: Any, part: str, value: Any) -> None:
    if isinstance(node, list):
        node[int(part)] = value
    else:
        node[part] = value


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _child_type(tp: Any, part: str, key: str, parents: list[str]) -> Any:
    """The type of `part` inside a value of type `tp`; ConfigError for an unknown key."""
    tp = _unwrap_optional(tp)
    where = ".".join(parents) or "the top level"
    if dataclasses.is_dataclass(tp):
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        if part not in fields:
            raise ConfigError(f"--set {key}: unknown key '{part}' in {where} "
                              f"(expected one of: {', '.join(sorted(fields))})")
        return get_type_hints(tp)[part]
    origin, args = get_origin(tp), get_args(tp)
    if origin in (dict, typing.Dict):
        return args[1] if args else Any
    if origin in (list, typing.List, tuple):
        if not part.isdigit():
            raise ConfigError(f"--set {key}: {where} is a list; use an index (e.g. {where}.0) or set "
                              "the whole list")
        return args[0] if args else Any
    if tp is Any:
        return Any
    raise ConfigError(f"--set {key}: {where} is a value, not a section")


def _typed(tp: Any, raw: str) -> Any:
    """A `--set` value parsed for its field's type. Strings stay strings (a file named `001` or
    `yes` is not a number or a boolean); anything unparseable is passed on as text so the
    validator reports the expected type with the field's name."""
    text = raw.strip()
    optional = get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)
    if optional and text.lower() in ("null", "none", "~", ""):
        return None
    tp = _unwrap_optional(tp)
    if tp is str or (get_origin(tp) is Literal and all(isinstance(a, str) for a in get_args(tp))):
        return raw
    if tp is int:
        try:
            return int(text)
        except ValueError:
            return raw
    if tp is float:
        try:
            return float(text)
        except ValueError:
            return raw
    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return raw


def resolve_config(cls: type[T], data: Any, source: str, *, sets: Sequence[str] = (),
                   overrides: Mapping[str, Any] | None = None) -> T:
    """The one configuration path: `data` (from a preset file named `source`) deep-merged with
    `overrides` (the command's own flags or keyword arguments, dotted keys or nested mappings),
    then `--set` items, then validated once into `cls`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {_describe(data)}")
    flat = {k: v for k, v in (overrides or {}).items() if "." in k}
    nested = {k: v for k, v in (overrides or {}).items() if "." not in k and v is not None}
    merged = deep_merge(deep_merge(data, nested), nest(flat))
    if overrides:
        # Flags are checked against the dataclass like --set keys: a typo is an error, not ignored.
        _check_keys(cls, merged)
    merged = apply_sets(cls, merged, sets)
    if sets or overrides:
        source = f"{source} (with command-line overrides)"
    return load_dataclass(cls, merged, source)


def _check_keys(cls: type, data: Mapping[str, Any], prefix: str = "") -> None:
    cls = _unwrap_optional(cls)
    if not dataclasses.is_dataclass(cls) or not isinstance(data, dict):
        return
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{path}: unknown key (expected one of: {', '.join(sorted(names))})")
        _check_keys(hints[key], value, f"{path}.")


def dump_config(obj: Any) -> str:
    """The resolved configuration as YAML (what --print-config shows)."""
    return yaml.safe_dump(to_dict(obj), sort_keys=False, default_flow_style=False, allow_unicode=True)
