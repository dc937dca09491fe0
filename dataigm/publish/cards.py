"""Card YAML headers: read, merge per config, render; data_files globs; the gating decision."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from dataigm.errors import InputError

# Header keys that mean "this repo must be gated" on the Hub (the card keys the gate form uses).
_GATE_KEYS = ("extra_gated_prompt", "extra_gated_fields", "extra_gated_heading", "extra_gated_description")
_NSFW_TAGS = {"not-for-all-audiences", "nsfw"}


def read_card(text: str, where: str, kind: str = "dataset") -> tuple[dict[str, Any], Any]:
    """Parse a README.md with huggingface_hub's card class: (header dict, card object)."""
    from huggingface_hub import DatasetCard, ModelCard

    cls = DatasetCard if kind == "dataset" else ModelCard
    try:
        card = cls(text, ignore_metadata_errors=True)
    except Exception as exc:  # yaml.YAMLError or ValueError from a non-mapping header
        raise InputError(f"{where}: the YAML header does not parse: {' '.join(str(exc).split())}") from exc
    return card.data.to_dict(), card


def with_header(card: Any, header: dict[str, Any]) -> str:
    """The card's text with its YAML header replaced by `header` (body kept)."""
    for key in list(card.data.to_dict()):
        if key not in header:
            card.data.pop(key, None)
    for key, value in header.items():
        card.data[key] = value
    return str(card)


def config_entries(header: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """`configs:` of a dataset card header as {config_name: entry}, validated."""
    configs = header.get("configs")
    if not isinstance(configs, list) or not configs:
        raise InputError(f"{where}: the YAML header has no 'configs:' list (expected one entry per concept)")
    out: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(configs):
        if not isinstance(entry, dict) or not entry.get("config_name"):
            raise InputError(f"{where}: configs[{i}] has no 'config_name'")
        if not data_file_patterns(entry):
            raise InputError(f"{where}: config '{entry['config_name']}' has no 'data_files'")
        out[str(entry["config_name"])] = entry
    return out


def data_file_patterns(entry: dict[str, Any]) -> list[str]:
    """Every path glob of one `configs:` entry, whatever form its data_files take."""
    data_files = entry.get("data_files")
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            add(value["path"] if "path" in value else list(value.values()))

    add(data_files)
    return found


def glob_regex(pattern: str) -> re.Pattern[str]:
    """fsspec-style glob as used in data_files: `*` and `?` stay in one folder, `**` crosses folders."""
    out, i = [], 0
    pattern = pattern[2:] if pattern.startswith("./") else pattern
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                out.append("[" + pattern[i + 1:j].replace("!", "^", 1) + "]")
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matching(paths: Iterable[str], patterns: Iterable[str]) -> set[str]:
    regexes = [glob_regex(p) for p in patterns]
    return {p for p in paths if any(r.match(p) for r in regexes)}


def wants_gate(header: dict[str, Any], taxonomy: bool = True) -> bool:
    """True when a card header asks for a gated repo.

    Signals, any of which is enough: a truthy `gated` key, the Hub's gate-form keys
    (`extra_gated_prompt`, `extra_gated_fields`, ...), a `not-for-all-audiences` tag, or a
    taxonomy anywhere in the header that puts a concept in the `nsfw` domain
    (`taxonomy_path: nsfw/...` or `domain: nsfw`; only when `taxonomy` is True, as for datasets:
    a judge of an nsfw concept holds no such images and is gated only when its card asks).
    """
    if header.get("gated") not in (None, False, "false", "False", "no"):
        return True
    if any(header.get(k) for k in _GATE_KEYS):
        return True
    tags = header.get("tags") or []
    if isinstance(tags, list) and _NSFW_TAGS & {str(t).lower() for t in tags}:
        return True
    return taxonomy and _mentions_nsfw(header)


def _mentions_nsfw(obj: Any) -> bool:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("taxonomy_path", "taxonomy") and isinstance(value, str) and value.startswith("nsfw/"):
                return True
            if key == "domain" and value == "nsfw":
                return True
            if _mentions_nsfw(value):
                return True
    elif isinstance(obj, list):
        return any(_mentions_nsfw(v) for v in obj)
    return False


def merge_per_config(remote: Any, local: Any, selected: Iterable[str]) -> Any:
    """Merge a per-config list (`configs:` or `dataset_info:`): remote entries kept, `selected` ones
    replaced by (or added from) the local entries, in the remote order then new ones.

    `dataset_info` may also be a single mapping (one-config datasets); it is treated as a
    one-entry list keyed by its `config_name` (default: "default").
    """
    selected = set(selected)

    def as_list(value: Any) -> list[dict[str, Any]]:
        if value is None:
            return []
        if isinstance(value, dict):
            return [{"config_name": "default", **value}] if "config_name" not in value else [value]
        return [v for v in value if isinstance(v, dict)]

    remote_list, local_list = as_list(remote), as_list(local)
    local_by_name = {str(e.get("config_name", "default")): e for e in local_list}
    merged, used = [], set()
    for entry in remote_list:
        name = str(entry.get("config_name", "default"))
        if name in selected:
            if name in local_by_name:
                merged.append(local_by_name[name])
                used.add(name)
            # a selected config absent locally is dropped: it is being replaced by nothing
        else:
            merged.append(entry)
    for name, entry in local_by_name.items():
        if name in selected and name not in used:
            merged.append(entry)
    return merged


def single_default(configs: list[dict[str, Any]], prefer: Iterable[str]) -> list[dict[str, Any]]:
    """At most one `default: true` (datasets refuses several): keep the first one not in `prefer`
    (the remote's choice), else the first."""
    defaults = [e for e in configs if e.get("default")]
    if len(defaults) <= 1:
        return configs
    prefer = set(prefer)
    keep = next((e for e in defaults if str(e.get("config_name")) not in prefer), defaults[0])
    return [e if e is keep or not e.get("default") else {k: v for k, v in e.items() if k != "default"}
            for e in configs]


def local_files(folder: Path) -> dict[str, Path]:
    """Every file under `folder` by its repo path; hidden files and folders (locks, temp files,
    caches) are never published."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            out[rel.as_posix()] = path
    return out
