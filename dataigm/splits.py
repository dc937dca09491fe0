"""Leak-free train / validation / test splits that honour the splits a source declared.

Rule: images that share a pair (`pair_id`), a prompt (`prompt_id`), a near-duplicate cluster
(`dup_cluster`) or identical bytes (`sha256`) always land in the same split. Groups are built
as connected components over those keys, so one cluster that links two pairs merges both pairs (and all
images of their prompts) into one group. A group that holds any benchmark row goes to test:
benchmark prompts never reach training.

Declared splits: a row whose source declared its split (`declared_split`, from split folders or
a split column at ingest) keeps it, and so does its whole group. The splitter assigns only the
groups with nothing declared. A group whose rows declare different splits (a declared pair split
across declared splits, or a near duplicate linking a train and a test image), or a benchmark
group declared train, is a conflict: it is reported with the rows' names and the key that links
them, never silently fixed (`split.declared: ignore` re-splits everything instead).

Assignment is deterministic and stratified. Groups are stratified by (concept, dominant label,
dominant source); each stratum aims at the configured fractions of its own rows:
1. declared and benchmark groups are placed first;
2. groups large enough to move a cell's fractions (20 rows or more, and over 1% of a
   (concept, label, source) cell of 1,000 rows or more) are placed next, largest first, each into
   the split where it overflows its stratum's remaining targets least (so a large
   near-duplicate group goes where it fits, usually train);
3. the other groups are placed by systematic sampling over what remains: sorted by a stable
   hash (sha256 of the split seed and the group's smallest id), laid on a circle with a
   hash-chosen start, each group going to the
   split whose arc holds the midpoint of its rows. A stratum gets its fractions to within one
   group; a stratum too small to fill every split is still spread over splits with the right
   probabilities instead of always landing in train.
Afterwards every (concept, label) with at least 100 rows is checked: a split more than
`max_deviation` (2 points) off its fraction is reported as a warning naming the group (or the
declared rows) that prevents it.

`check_no_leaks` re-derives the rule from the finished assignment and raises a DataigmError that
names the key and value of the first leak (and any row moved off its declared split); export
runs it every time.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence, TypeVar

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
    # keep: rows keep the split their source declared (declared_split); ignore: re-split them.
    declared: Literal["keep", "ignore"] = "keep"
    # A (concept, label) whose split share is further than this from its fraction is warned about.
    max_deviation: float = 0.02

    def validate(self) -> None:
        if not 0.0 < self.max_deviation <= 1.0:
            raise ValueError(f"max_deviation: must be in (0, 1], got {self.max_deviation}")
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


# Cells smaller than this cannot be held to a few points (one row is a point or more).
MIN_ROWS_CHECKED = 100
# A group is placed before the others when it holds more than this share of one of its cells
# (systematic sampling keeps a cell within one group of its target, so smaller groups cannot
# move it further), at least LARGE_GROUP_MIN_ROWS rows, in a cell of LARGE_GROUP_MIN_CELL rows
# or more. Smaller data sets cannot be held to a few points anyway, and there every group is
# sampled alike, so each prompt set (forget, unrelated, neighbour) spreads over the splits.
LARGE_GROUP_SHARE = 0.01
LARGE_GROUP_MIN_ROWS = 20
LARGE_GROUP_MIN_CELL = 1000


@dataclass
class _Group:
    index: int                      # group index (group_rows)
    name: str                       # its smallest row id
    rows: list[int]
    cells: Counter                  # (concept, label, source) -> rows
    stratum: tuple[str, str, str]
    unit: float                     # stable hash in [0, 1)
    forced: str | None = None       # a split fixed by a declared split or a benchmark row
    forced_by: str = ""             # "declared" or "benchmark"


def assign_splits(rows: Rows, cfg: SplitConfig | None = None, warnings: list[str] | None = None) -> Rows:
    """Add a `split` column (train / validation / test) to `rows`, leak-free and stratified.

    `rows` is a pyarrow Table, a pandas DataFrame or a sequence of dicts; the result has the
    same type and row order. Needed columns: `id`, `concept`, `source` and `label_id` (or
    `label`); `pair_id`, `prompt_id`, `dup_cluster`, `sha256`, `benchmark` and `declared_split`
    are used when present. A conflict between declared splits raises DataigmError; splits that
    cannot get within `cfg.max_deviation` of their fractions are described in `warnings`.
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
    labels = [str(v) for v in _labels(cols, n)]
    cell_of = list(zip((str(c) for c in cols["concept"]), labels, (str(s) for s in cols["source"])))
    benchmark = cols.get("benchmark") or [False] * n
    declared = _declared(cols, ids, n) if cfg.declared == "keep" else [None] * n
    root = group_rows(rows)

    members: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(root):
        members[r].append(i)
    groups: list[_Group] = []
    conflicts: list[str] = []
    for r, idx in members.items():
        name = min(ids[i] for i in idx)
        mine = [cell_of[i] for i in idx]
        stratum = (_dominant(c[0] for c in mine), _dominant(c[1] for c in mine), _dominant(c[2] for c in mine))
        group = _Group(r, name, idx, Counter(mine), stratum, _stable_unit(cfg.seed, name))
        wanted = {declared[i] for i in idx if declared[i] is not None}
        bench = any(_truthy(benchmark[i]) for i in idx)
        if len(wanted) > 1 or (bench and wanted == {"train"}):
            conflicts.append(_conflict(cols, ids, declared, benchmark, idx))
            continue
        group.forced = next(iter(wanted)) if wanted else ("test" if bench else None)
        group.forced_by = "declared" if wanted else ("benchmark" if bench else "")
        groups.append(group)
    if conflicts:
        more = f" (and {len(conflicts) - 3} more)" if len(conflicts) > 3 else ""
        raise DataigmError(f"split conflict: {'; '.join(conflicts[:3])}{more}; drop one of the rows "
                           "(review file: id,drop) or re-split everything with --set split.declared=ignore")

    # Targets per stratum, from the rows of the groups in it (so each prompt set, source and
    # label spreads over the splits by itself); fixed and large groups use them up first.
    by_stratum: dict[tuple[str, str, str], list[_Group]] = defaultdict(list)
    for group in groups:
        by_stratum[group.stratum].append(group)
    remaining = {stratum: {s: cfg.fractions[s] * sum(len(g.rows) for g in mine) for s in SPLITS}
                 for stratum, mine in by_stratum.items()}
    split_of_group: dict[int, str] = {}

    def place(group: _Group, split: str) -> None:
        split_of_group[group.index] = split
        remaining[group.stratum][split] -= len(group.rows)

    for group in groups:
        if group.forced is not None:
            place(group, group.forced)
    totals: Counter = Counter(cell_of)
    large = [g for g in groups if g.forced is None and _is_large(g, totals)]
    for group in sorted(large, key=lambda g: (-len(g.rows), g.unit, g.name)):
        place(group, _least_overflow(len(group.rows), remaining[group.stratum]))
    for stratum, mine in sorted(by_stratum.items()):
        mine = sorted((g for g in mine if g.index not in split_of_group), key=lambda g: (g.unit, g.name))
        if not mine:
            continue
        fracs = _normalised({s: max(0.0, remaining[stratum][s]) for s in SPLITS}, cfg.fractions)
        offset = _stable_unit(cfg.seed, "stratum", *stratum)
        total = sum(len(g.rows) for g in mine)
        done = 0
        for group in mine:
            mid = (done + len(group.rows) / 2) / total
            split_of_group[group.index] = _arc((offset + mid) % 1.0, fracs)
            done += len(group.rows)

    splits = [split_of_group[root[i]] for i in range(n)]
    if warnings is not None:
        warnings.extend(_deviations(cols, labels, splits, groups, cfg))
    return _with_split(rows, splits)


def _declared(cols: Mapping[str, list[Any]], ids: list[str], n: int) -> list[str | None]:
    values = cols.get("declared_split") or [None] * n
    out: list[str | None] = []
    for rid, v in zip(ids, values):
        if not _present(v):
            out.append(None)
        elif str(v) in SPLITS:
            out.append(str(v))
        else:
            raise InputError(f"rows: row '{rid}' declares split {v!r} (expected one of {', '.join(SPLITS)})")
    return out


def _conflict(cols: Mapping[str, list[Any]], ids: list[str], declared: list[str | None],
              benchmark: list[Any], idx: list[int]) -> str:
    """One line naming two rows of a group that cannot share a split, and what links them."""
    marked = [i for i in idx if declared[i] is not None]
    a = marked[0]
    b = next((i for i in marked if declared[i] != declared[a]), None)
    if b is None:  # a benchmark group declared train
        b = next(i for i in idx if _truthy(benchmark[i]))
        return (f"row '{ids[a]}' (declared train) is in one group with benchmark row '{ids[b]}' "
                f"({_link(cols, a, b, len(idx))}); benchmark prompts never go to train")
    return (f"rows '{ids[a]}' (declared {declared[a]}) and '{ids[b]}' (declared {declared[b]}) "
            f"are linked by {_link(cols, a, b, len(idx))}")


def _link(cols: Mapping[str, list[Any]], a: int, b: int, size: int) -> str:
    for key in GROUP_KEYS:
        values = cols.get(key)
        if values is not None and _present(values[a]) and str(values[a]) == str(values[b]):
            return f"{key} '{values[a]}'"
    return f"a chain of shared pairs, prompts, near-duplicate clusters or bytes (a group of {size} rows)"


def _is_large(group: _Group, totals: Mapping[tuple[str, str, str], int]) -> bool:
    return len(group.rows) >= LARGE_GROUP_MIN_ROWS and any(
        totals[cell] >= LARGE_GROUP_MIN_CELL and k > LARGE_GROUP_SHARE * totals[cell] for cell, k in group.cells.items())


def _least_overflow(size: int, remaining: Mapping[str, float]) -> str:
    """The split where `size` rows overflow the remaining target least (ties: the most room
    left, then the split order)."""
    return min(SPLITS, key=lambda s: (max(0.0, size - max(0.0, remaining[s])), -remaining[s], SPLITS.index(s)))


def _normalised(parts: Mapping[str, float], fallback: Mapping[str, float]) -> dict[str, float]:
    total = sum(parts.values())
    if total <= 1e-9:
        return dict(fallback)
    return {s: parts[s] / total for s in SPLITS}


def _deviations(cols: Mapping[str, list[Any]], labels: list[str], splits: list[str], groups: list[_Group],
                cfg: SplitConfig) -> list[str]:
    """Warnings for each (concept, label) of MIN_ROWS_CHECKED rows or more whose split shares
    miss their fractions by more than cfg.max_deviation, naming what prevents it."""
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for c, lab, s in zip(cols["concept"], labels, splits):
        counts[(str(c), lab)][s] += 1
    out = []
    for (concept, label), per in sorted(counts.items()):
        total = sum(per.values())
        if total < MIN_ROWS_CHECKED:
            continue
        worst = max(SPLITS, key=lambda s: abs(per[s] / total - cfg.fractions[s]))
        share = per[worst] / total
        if abs(share - cfg.fractions[worst]) <= cfg.max_deviation:
            continue
        out.append(f"split {concept}/{label}: {worst} holds {share:.1%} of {total} rows (target "
                   f"{cfg.fractions[worst]:.0%}): {_culprit(cols, concept, label, worst, total, groups, cfg)}")
    return out


def _culprit(cols: Mapping[str, list[Any]], concept: str, label: str, worst: str, total: int,
             groups: list[_Group], cfg: SplitConfig) -> str:
    """What keeps a (concept, label) off its fractions: rows fixed to the split (benchmark or
    declared), else the largest group."""
    mine = [(sum(k for cell, k in g.cells.items() if cell[:2] == (concept, label)), g) for g in groups]
    fixed: Counter = Counter()
    for size, g in mine:
        if g.forced == worst:
            fixed[g.forced_by] += size
    if sum(fixed.values()) / total > cfg.fractions[worst] + cfg.max_deviation:
        why = {"benchmark": "hold a benchmark prompt or share a group with one (benchmark prompts never leave test)",
               "declared": "keep the split their source declared"}
        return "; ".join(f"{n} of these rows {why[by]}" for by, n in sorted(fixed.items()))
    size, biggest = max(mine, key=lambda t: (t[0], t[1].name))
    if size > cfg.max_deviation * total:
        links = []
        for key, word in (("pair_id", "pairs"), ("prompt_id", "prompts"), ("dup_cluster", "near-duplicate clusters")):
            values = cols.get(key)
            if values is not None:
                distinct = {str(values[i]) for i in biggest.rows if _present(values[i])}
                if len(distinct) > 1:
                    links.append(f"{len(distinct)} {word}")
        what = f" linking {', '.join(links)}" if links else ""
        return (f"the group of '{biggest.name}' holds {size} of these rows{what} and cannot be split"
                + (f" (fixed to {biggest.forced}: {biggest.forced_by})" if biggest.forced else ""))
    if sum(fixed.values()):
        return f"{sum(fixed.values())} of these rows are fixed to {worst} (benchmark or declared splits)"
    return "the groups are too few to reach the fractions"


def _dominant(values: Iterable[str]) -> str:
    """Most common value; ties go to the largest value so the choice is order-free."""
    counts = Counter(values)
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _arc(position: float, fractions: Mapping[str, float]) -> str:
    edge = 0.0
    for s in SPLITS:
        edge += fractions[s]
        if position < edge:
            return s
    # Rounding can leave position == 1 - tiny above the last edge: the last non-empty split.
    return next(s for s in reversed(SPLITS) if fractions[s] > 0)


def check_no_leaks(rows: Any, declared: bool = True) -> None:
    """Raise DataigmError if a pair, prompt, near-duplicate cluster or file crosses splits,
    if a benchmark row is in train, or (with `declared`) if a row is not in the split its
    source declared. Rows need a `split` column."""
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
    for i, d in enumerate(cols.get("declared_split") or [] if declared else []):
        if _present(d) and d != split[i]:
            raise DataigmError(f"split leak: row '{ids[i]}' was declared {d} by its source but is in {split[i]}")


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
