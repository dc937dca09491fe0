"""Human review overrides, applied after every automatic step.

A CSV (header `id,action[,label]`) or JSONL file (`{"id": ..., "action": ..., "label": ...}`);
action is `drop` (reason `review:drop`), `relabel` (new label, old one kept in
`relabelled_from`; a row the judge dropped for disagreeing is restored, since the reviewer
settled exactly that question) or `keep` (restores a row an automatic step dropped, except a
file that failed validation). Lines apply in order. Any problem is a one-line InputError
naming the file and line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dataigm.errors import InputError

ACTIONS = ("drop", "relabel", "keep")


@dataclass
class Override:
    line: int
    id: str
    action: str
    label: str | None


def read_overrides(path: str | Path) -> list[Override]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets save CSV with a byte-order mark
    except FileNotFoundError:
        raise InputError(f"{path}: review file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read review file: {exc}") from None
    records: list[tuple[int, dict[str, str | None]]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{n}: invalid JSON: {exc.args[0]}") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{n}: expected an object with id and action")
            records.append((n, {k: (None if v is None else str(v)) for k, v in obj.items()}))
    else:
        reader = csv.DictReader(text.splitlines())
        fields = reader.fieldnames or []
        if "id" not in fields or "action" not in fields:
            raise InputError(f"{path}:1: header must name the columns id,action[,label], got {','.join(fields)}")
        for n, rec in enumerate(reader, start=2):
            records.append((n, {k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items() if k}))
    out = []
    for n, rec in records:
        rid, action, label = rec.get("id"), (rec.get("action") or "").strip().lower(), rec.get("label") or None
        if not rid:
            raise InputError(f"{path}:{n}: missing id")
        if action not in ACTIONS:
            raise InputError(f"{path}:{n}: action must be drop, relabel or keep, got '{rec.get('action')}'")
        if action == "relabel" and not label:
            raise InputError(f"{path}:{n}: relabel needs a label")
        out.append(Override(n, str(rid), action, label))
    return out


def apply_overrides(table: pd.DataFrame, overrides: list[Override], path: str | Path,
                    label_ids: dict[str, dict[str, int]]) -> dict[str, int]:
    """Apply to `table` (all rows, indexed by id, columns step/reason/label/label_id/concept and
    relabelled_from) in place; returns counts per action."""
    counts = {"drop": 0, "relabel": 0, "keep": 0, "restored": 0}
    for o in overrides:
        if o.id not in table.index:
            raise InputError(f"{path}:{o.line}: unknown id '{o.id}' (not in the manifest)")
        step, reason = table.at[o.id, "step"], table.at[o.id, "reason"]
        if o.action == "drop":
            if step is None:
                table.at[o.id, "step"], table.at[o.id, "reason"] = "review", "review:drop"
        elif o.action == "relabel":
            concept = table.at[o.id, "concept"]
            names = label_ids.get(concept, {})
            if o.label not in names:
                raise InputError(f"{path}:{o.line}: label '{o.label}' is not a label of concept "
                                 f"'{concept}' (labels: {', '.join(sorted(names, key=names.get))})")
            if table.at[o.id, "label"] != o.label:
                if table.at[o.id, "relabelled_from"] is None:
                    table.at[o.id, "relabelled_from"] = table.at[o.id, "label"]
                table.at[o.id, "label"] = o.label
                table.at[o.id, "label_id"] = names[o.label]
            if step == "judge_agreement":
                table.at[o.id, "step"], table.at[o.id, "reason"] = None, None
                counts["restored"] += 1
        else:  # keep
            if step == "validation":
                raise InputError(f"{path}:{o.line}: id '{o.id}' cannot be kept: its file failed "
                                 f"validation ({reason})")
            if step is not None:
                table.at[o.id, "step"], table.at[o.id, "reason"] = None, None
                counts["restored"] += 1
        counts[o.action] += 1
    return counts
