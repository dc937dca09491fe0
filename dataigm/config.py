"""Configuration: YAML files validated into dataclasses.

Users write YAML; code reads typed dataclasses. `load_dataclass` checks every key against the
dataclass: unknown keys, missing fields, wrong types and failed `validate()` hooks all raise
ConfigError with the file and the dotted field name, e.g.

    pipelines/presets/demo.yaml: generation.batch_size: expected an integer, got 'eight'

A dataclass may define `validate(self) -> None` and raise ValueError with a message; the loader
prefixes it with the file and field path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from dataigm.errors import ConfigError

T = TypeVar("T")


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
    return data


def load_dataclass(cls: type[T], data: Any, source: str, prefix: str = "") -> T:
    """Build dataclass `cls` from plain data, validating keys, types and the validate() hook.

    `source` names the file (for messages); `prefix` is the dotted path of `data` inside it.
    """
    where = f"{source}: {prefix}" if prefix else f"{source}:"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} expected a mapping, got {_describe(data)}".replace(": :", ":"))
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
    """Dataclass (or nested structure) to plain data, for snapshots in run.json."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
