"""Leak-free train / validation / test splits.

Rule: images that share a pair (`pair_id`), a prompt (`prompt_id`), a near-duplicate cluster
(`dup_cluster`) or identical bytes (`sha256`) always land in the same split. Groups are built
as connected components over those keys, so one cluster that links two pairs merges both pairs (and all
images of their prompts) into one group. A group that holds any benchmark row goes to test:
benchmark prompts never reach training.

Assignment is deterministic and stratified. Each group gets a stable hash: sha256 of the split
seed and the smallest row id in the group, so it does not depend on row order. Groups are
stratified by (concept, dominant label, dominant source); inside a stratum they are sorted by
hash and placed by systematic sampling with a hash-chosen start: the stratum's rows are laid on a
circle of circumference 1 in hash order, starting at an offset derived from the seed and the
stratum, and each group goes to the split whose arc holds the midpoint of its rows. A large
stratum gets its fractions to within one group; a stratum too small to fill every split is
still spread over splits with the right probabilities instead of always landing in train.
Benchmark groups are placed first and count towards the test share of their stratum.

`check_no_leaks` re-derives the rule from the finished assignment and raises a DataigmError that
names the key and value of the first leak; export runs it every time.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import numpy as np

from dataigm.config import load_dataclass, read_yaml
from dataigm.errors import ConfigError, DataigmError, InputError
from dataigm.graph import connected_components

SPLITS = ("train", "validation", "test")
# Keys whose shared value forces rows into one split. sha256 is not in the brief's three keys
# but identical bytes in two splits is the plainest leak of all, so it links rows too.
GROUP_KEYS = ("pair_id", "prompt_id", "dup_cluster", "sha256")

Rows = TypeVar("Rows")


@dataclass
class SplitConfig:
    """Split fractions (train, validation, test; they must sum to 1) and the hash seed."""

    fractions: dict[str, float] = field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1}
    )
    seed: int = 0

    def validate(self) -> None:
        names = set(self.fractions)
        if names != set(SPLITS):
            missing = sorted(set(SPLITS) - names)
            extra = sorted(names - set(SPLITS))
            what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
            raise ValueError(f"fractions: {what} (expected exactly train, validation, test)")
        for name, value in self.fractions.items():
            if not 0.0 <= value <= 1.0 or math.isnan(value):
                raise ValueError(f"fractions.{name}: must be in [0, 1], got {value}")
        total = sum(self.fractions.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"fractions: must sum to 1, got {total:g}")
        if self.fractions["train"] <= 0.0:
            raise ValueError("fractions.train: must be > 0")


def split_config_from(data: Mapping[str, Any] | None, source: str = "split config") -> SplitConfig:
    """Validate plain data (e.g. the `splits:` block of a preset) into a SplitConfig."""
    return load_dataclass(SplitConfig, dict(data or {}), source)


def load_split_config(path: str | Path) -> SplitConfig:
    return load_dataclass(SplitConfig, read_yaml(path), str(path))


def _present(value: Any) -> bool:
    """A key value that links rows: not null, not NaN, not empty."""
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value) != ""


def _truthy(value: Any) -> bool:
    """A benchmark flag: null and NaN (pandas' missing value) are False."""
    return _present(value) and bool(value)


def _columns(rows: Any) -> tuple[dict[str, list[Any]], int]:
    """Rows (pyarrow Table, pandas DataFrame or sequence of mappings) as column lists."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        return {name: rows.column(name).to_pylist() for name in rows.column_names}, rows.num_rows
    try:
        import pandas as pd

        if isinstance(rows, pd.DataFrame):
            cols = {str(c): rows[c].tolist() for c in rows.columns}
            return cols, len(rows)
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pass
    records = list(rows)
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    return {n: [r.get(n) for r in records] for n in names}, len(records)


def _with_split(rows: Any, splits: list[str]) -> Any:
    """Return `rows` in its own type with a `split` column (replaced if present)."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        if "split" in rows.column_names:
            rows = rows.drop_columns(["split"])
        return rows.append_column("split", pa.array(splits, pa.string()))
    try:
        import pandas as pd

        if isinstance(rows, pd.DataFrame):
            out = rows.copy()
            out["split"] = splits
            return out
    except ImportError:  # pragma: no cover
        pass
    return [{**r, "split": s} for r, s in zip(rows, splits)]


def _labels(cols: Mapping[str, list[Any]], n: int) -> list[Any]:
    if "label_id" in cols:
        return cols["label_id"]
    if "label" in cols:
        return cols["label"]
    raise InputError("rows: need a 'label_id' or 'label' column to stratify splits")


def _stable_unit(*parts: Any) -> float:
    """A number in [0, 1) from sha256 of the parts: stable across runs, machines and Pythons."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def group_rows(rows: Any) -> list[int]:
    """The group index of each row (rows linked by any GROUP_KEYS value share a group).

    A group's index is the position of its first row, so it is stable for a given row order;
    assignment itself only uses row ids and never this order.
    """
    cols, n = _columns(rows)
    edges: list[tuple[int, int]] = []
    for key in GROUP_KEYS:
        values = cols.get(key)
        if values is None:
            continue
        first: dict[str, int] = {}
        for i, v in enumerate(values):
            if not _present(v):
                continue
            j = first.setdefault(str(v), i)
            if j != i:
                edges.append((j, i))
    labels = connected_components(n, np.asarray(edges, dtype=np.int64))
    first_row = np.full(labels.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first_row, labels, np.arange(n, dtype=np.int64))
    return first_row[labels].tolist()


def assign_splits(rows: Rows, cfg: SplitConfig | None = None) -> Rows:
    """Add a `split` column (train / validation / test) to `rows`, leak-free and stratified.

    `rows` is a pyarrow Table, a pandas DataFrame or a sequence of dicts; the result has the
    same type and row order. Needed columns: `id`, `concept`, `source` and `label_id` (or
    `label`); `pair_id`, `prompt_id`, `dup_cluster`, `sha256` and `benchmark` are used when
    present.
    """
    cfg = cfg or SplitConfig()
    try:
        cfg.validate()
    except ValueError as exc:
        raise ConfigError(f"split config: {exc}") from None
    cols, n = _columns(rows)
    for need in ("id", "concept", "source"):
        if need not in cols:
            raise InputError(f"rows: missing column '{need}' needed to assign splits")
    ids = [str(v) for v in cols["id"]]
    if len(set(ids)) != n:
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise InputError(f"rows: id '{dup}' appears more than once")
    labels = _labels(cols, n)
    benchmark = cols.get("benchmark") or [False] * n
    root = group_rows(rows)

    members: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(root):
        members[r].append(i)

    # Per group: smallest id (its stable name), size, benchmark flag and stratum.
    strata: dict[tuple[str, str, str], list[tuple[float, str, int]]] = defaultdict(list)
    forced: dict[int, str] = {}
    for r, idx in members.items():
        name = min(ids[i] for i in idx)
        concept = _dominant(str(cols["concept"][i]) for i in idx)
        label = _dominant(str(labels[i]) for i in idx)
        source = _dominant(str(cols["source"][i]) for i in idx)
        if any(_truthy(benchmark[i]) for i in idx):
            forced[r] = "test"
        strata[(concept, label, source)].append((_stable_unit(cfg.seed, name), name, r))

    split_of_group: dict[int, str] = {}
    for stratum, groups in sorted(strata.items()):
        groups.sort()
        sizes = {r: len(members[r]) for _, _, r in groups}
        for _, _, r in groups:
            if r in forced:
                split_of_group[r] = forced[r]
        free = [r for _, _, r in groups if r not in forced]
        fracs = _free_fractions(cfg.fractions, sum(sizes.values()),
                                sum(sizes[r] for r in forced if r in sizes))
        offset = _stable_unit(cfg.seed, "stratum", *stratum)
        total = sum(sizes[r] for r in free)
        done = 0
        for r in free:
            mid = (done + sizes[r] / 2) / total
            split_of_group[r] = _arc((offset + mid) % 1.0, fracs)
            done += sizes[r]

    return _with_split(rows, [split_of_group[root[i]] for i in range(n)])


def _dominant(values: Iterable[str]) -> str:
    """Most common value; ties go to the largest value so the choice is order-free."""
    counts = Counter(values)
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _free_fractions(fractions: Mapping[str, float], n_all: int, n_forced: int) -> dict[str, float]:
    """Fractions for the non-benchmark rows of a stratum, given that benchmark rows fill test."""
    n_free = n_all - n_forced
    if n_free <= 0:
        return dict(fractions)
    targets = {s: fractions[s] * n_all for s in SPLITS}
    targets["test"] = max(0.0, targets["test"] - n_forced)
    total = sum(targets.values())
    if total <= 0:
        return dict(fractions)
    return {s: targets[s] / total for s in SPLITS}


def _arc(position: float, fractions: Mapping[str, float]) -> str:
    edge = 0.0
    for s in SPLITS:
        edge += fractions[s]
        if position < edge:
            return s
    # Rounding can leave position == 1 - tiny above the last edge: the last non-empty split.
    return next(s for s in reversed(SPLITS) if fractions[s] > 0)


def check_no_leaks(rows: Any) -> None:
    """Raise DataigmError if a pair, prompt, near-duplicate cluster or file crosses splits,
    or if a benchmark row is in train. Rows need a `split` column."""
    cols, n = _columns(rows)
    if "split" not in cols:
        raise DataigmError("split leak check: rows have no 'split' column")
    split = cols["split"]
    ids = cols.get("id") or [str(i) for i in range(n)]
    bad = [i for i in range(n) if split[i] not in SPLITS]
    if bad:
        raise DataigmError(
            f"split leak check: row '{ids[bad[0]]}' has split {split[bad[0]]!r} "
            f"(expected one of {', '.join(SPLITS)})"
        )
    for key in GROUP_KEYS:
        values = cols.get(key)
        if values is None:
            continue
        seen: dict[str, tuple[str, Any]] = {}
        for i, v in enumerate(values):
            if not _present(v):
                continue
            first = seen.setdefault(str(v), (split[i], ids[i]))
            if first[0] != split[i]:
                raise DataigmError(
                    f"split leak: {key} '{v}' is in both {first[0]} (row '{first[1]}') and "
                    f"{split[i]} (row '{ids[i]}')"
                )
    for i, b in enumerate(cols.get("benchmark") or []):
        if _truthy(b) and split[i] == "train":
            raise DataigmError(f"split leak: benchmark row '{ids[i]}' is in train")


def split_counts(rows: Any) -> dict[str, dict[str, int]]:
    """{split: {label: rows}} for reports and tests."""
    cols, n = _columns(rows)
    labels = _labels(cols, n)
    out: dict[str, dict[str, int]] = {s: {} for s in SPLITS}
    for s, lab in zip(cols["split"], labels):
        out[s][str(lab)] = out[s].get(str(lab), 0) + 1
    return out


__all__: Sequence[str] = (
    "SPLITS", "GROUP_KEYS", "SplitConfig", "split_config_from", "load_split_config",
    "group_rows", "assign_splits", "check_no_leaks", "split_counts",
)
