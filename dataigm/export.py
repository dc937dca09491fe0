"""Export a RUN folder as a Hugging Face dataset folder (parquet shards + README card).

Layout (docs/CONTRACTS.md, "Dataset folder"):

    dataset/README.md                           YAML header (configs, dataset_info, licence, gating) + card
    dataset/<concept>/<split>-00000-of-0000N.parquet
    dataset/prompts/train-00000-of-00001.parquet
    dataset/contact_sheets/<concept>.png

Rows come from RUN/curation/kept.parquet when curation ran, else from RUN/manifest.parquet (each
row then its own near-duplicate cluster). Splits are assigned by dataigm.splits (declared splits
kept; a split that misses its fraction is a warning in the report and the card) and the leak
check runs before anything is written. Image bytes are embedded in the shards (`{"bytes",
"path"}`) exactly as stored (an ingested JPEG stays JPEG), so the folder is self-contained, and
each file's sha256 is checked against the manifest on the way. The `prompts` config exists only
when the run has prompts for the exported concepts. Contact sheets of nsfw-domain concepts are
pixelated unless `contact_sheet_pixelate` says otherwise. The card: dataigm.export_card.

Atomicity: everything is written into a temporary folder next to the target, checked, and then
swapped into place (old folder renamed aside, new one renamed in, old one removed). A failed export
removes its temporary folder and leaves an earlier export untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataigm.errors import DataigmError, InputError
from dataigm.export_card import EXPORT_TAG, PROMPTS_CONFIG, PROVENANCE, dataset_card_text
from dataigm.io import folder_lock, sweep_folder_leftovers
from dataigm.manifest import read_manifest
from dataigm.run import Run
from dataigm.splits import SPLITS, SplitConfig, assign_splits, check_no_leaks
from dataigm.taxonomy import ConceptSpec

DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000  # the Hub's ~500 MB parquet shard convention
ROWS_PER_ROW_GROUP = 100  # small row groups: streaming and random access read one group at a time
ROW_OVERHEAD_BYTES = 1024  # provenance columns + parquet framing per row, so shards stay under the cap
PROMPT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("prompt_id", "string"), ("concept", "string"), ("taxonomy_path", "string"),
    ("prompt_set", "string"), ("prompt", "string"), ("pair_id", "string"), ("group", "string"),
    ("benchmark", "bool"), ("names_concept", "bool"),
)


@dataclass
class ExportConfig:
    """The `export:` section of a preset, and the settings of `dataigm export`."""

    split: SplitConfig = field(default_factory=SplitConfig)
    max_shard_mb: float = DEFAULT_MAX_SHARD_BYTES / 1e6   # the Hub's ~500 MB parquet convention
    contact_sheets: bool = True
    contact_sheet_per_cell: int = 6
    # Which contact sheets are pixelated so nothing explicit is visible: those of nsfw-domain
    # concepts (the default, for sheets that sit next to a card meant for publishing), all, or
    # none (local review only). The card says which.
    contact_sheet_pixelate: Literal["nsfw", "all", "none"] = "nsfw"
    repo_id: str | None = None   # only changes the load instructions in the card

    def validate(self) -> None:
        if not self.max_shard_mb > 0:
            raise ValueError(f"max_shard_mb: must be > 0, got {self.max_shard_mb}")
        if self.contact_sheet_per_cell < 1:
            raise ValueError(f"contact_sheet_per_cell: must be >= 1, got {self.contact_sheet_per_cell}")

    @property
    def max_shard_bytes(self) -> int:
        return max(1, int(self.max_shard_mb * 1e6))


@dataclass
class ExportReport:
    """What an export wrote; counts are read back from the written shards."""

    out_dir: Path
    rows_from: str                                   # "curation/kept.parquet" or "manifest.parquet"
    configs: list[str]                               # concept configs, then "prompts" if written
    counts: dict[str, dict[str, int]]                # config -> split -> rows
    label_counts: dict[str, dict[str, dict[str, int]]]  # concept -> split -> label name -> rows
    files: list[str]                                 # paths relative to out_dir
    contact_sheets: list[str] = field(default_factory=list)
    num_bytes: int = 0
    seconds: float = 0.0
    fingerprint: str = ""                            # sha256 of every data file (in the card)
    warnings: list[str] = field(default_factory=list)  # splits that miss their fractions (also in the card)

    def summary(self) -> str:
        lines = [f"exported {self.rows_from} -> {self.out_dir} ({self.num_bytes / 1e6:.1f} MB, "
                 f"{len(self.files)} files, {self.seconds:.1f} s)"]
        for cfg in self.configs:
            per = ", ".join(f"{s} {n}" for s, n in self.counts.get(cfg, {}).items())
            lines.append(f"  {cfg}: {per}")
        if PROMPTS_CONFIG not in self.configs:
            lines.append(f"  no '{PROMPTS_CONFIG}' config: the run has no prompts for these concepts")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- inputs


def load_rows(run: Run) -> tuple[list[dict[str, Any]], str]:
    """Rows to export and where they came from. Without curation every row is its own cluster."""
    path = run.kept_path if run.kept_path.exists() else run.manifest_path
    table = read_manifest(path)
    source = run.relative(path)
    rows = table.to_pylist()
    for r in rows:
        if not r.get("dup_cluster"):
            r["dup_cluster"] = f"self:{r.get('id')}"
        r.setdefault("judge_score", None)
        r.setdefault("judge_disagrees", None)
    if not rows:
        raise InputError(f"{path}: no rows to export")
    for need in ("id", "concept", "label", "label_id", "source", "path"):
        if need not in table.column_names:
            raise InputError(f"{path}: missing column '{need}'")
    return rows, source


def load_specs(run: Run, names: Sequence[str]) -> dict[str, ConceptSpec]:
    """Concept specs: the run's snapshot when present, else built-in."""
    return {name: run.load_spec(name) for name in names}


def _check_labels(rows: list[dict[str, Any]], specs: Mapping[str, ConceptSpec], where: str) -> None:
    for r in rows:
        spec = specs[r["concept"]]
        lid = r["label_id"]
        if lid not in (0, 1) or spec.labels[lid] != r["label"]:
            raise InputError(
                f"{where}: row '{r['id']}': label '{r['label']}' with label_id {lid} does not match "
                f"concept '{spec.name}' labels {spec.labels} (index 0 absent, 1 present)"
            )


# ----------------------------------------------------------------------------- features


def concept_features(spec: ConceptSpec) -> "Any":
    import datasets

    feats: dict[str, Any] = {"image": datasets.Image(), "label": datasets.ClassLabel(names=list(spec.labels))}
    for name, dtype, _ in PROVENANCE:
        feats[name] = datasets.Value(dtype)
    return datasets.Features(feats)


def prompt_features(table: pa.Table) -> "Any":
    import datasets

    known = dict(PROMPT_COLUMNS)
    feats = {name: datasets.Value(known[name]) for name, _ in PROMPT_COLUMNS if name in table.column_names}
    extra = datasets.Features.from_arrow_schema(table.schema.remove_metadata())
    for name in table.column_names:  # keep columns a newer prompts step adds, with their own type
        if name not in feats:
            feats[name] = extra[name]
    return datasets.Features(feats)


def _parquet_options(features: Any) -> dict[str, Any]:
    """The writer options datasets uses for its own parquet files (no compression of image bytes,
    content-defined chunking so re-uploads dedupe on the Hub), falling back to defaults."""
    opts: dict[str, Any] = {"write_page_index": True}
    try:
        from datasets import config as ds_config
        from datasets.arrow_writer import get_parquet_column_options

        opts.update(get_parquet_column_options(features, features.arrow_schema))
        opts["use_content_defined_chunking"] = ds_config.DEFAULT_CDC_OPTIONS
    except (ImportError, AttributeError):  # pragma: no cover - older datasets
        pass
    return opts


# ----------------------------------------------------------------------------- shards


def contact_sheet_file(concept: str) -> str:
    """Where a concept's contact sheet sits inside a dataset folder."""
    return f"contact_sheets/{concept}.png"


def plan_shards(sizes: Sequence[int], max_bytes: int) -> list[tuple[int, int]]:
    """[start, end) row ranges, each holding at most `max_bytes` of image data (>= 1 row)."""
    shards: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, size in enumerate(sizes):
        if i > start and acc + size > max_bytes:
            shards.append((start, i))
            start, acc = i, 0
        acc += size
    if start < len(sizes):
        shards.append((start, len(sizes)))
    return shards


def _image_bytes(run: Run, row: Mapping[str, Any]) -> bytes:
    path = run.file(str(row["path"]))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: image of row '{row['id']}' unreadable: {exc.strerror or exc}") from None
    expected = row.get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise InputError(f"{path}: sha256 differs from the manifest for row '{row['id']}' (file changed?)")
    return data


def _write_shard(path: Path, rows: Sequence[Mapping[str, Any]], run: Run, features: Any,
                 progress: tqdm) -> None:
    schema = features.arrow_schema
    with pq.ParquetWriter(path, schema, **_parquet_options(features)) as writer:
        for start in range(0, len(rows), ROWS_PER_ROW_GROUP):
            chunk = rows[start:start + ROWS_PER_ROW_GROUP]
            batch: dict[str, list[Any]] = {name: [] for name in features}
            for r in chunk:
                batch["image"].append({"bytes": _image_bytes(run, r), "path": Path(str(r["path"])).name})
                batch["label"].append(int(r["label_id"]))
                for name, _, _ in PROVENANCE:
                    batch[name].append(r.get(name))
            encoded = features.encode_batch(batch)
            writer.write_table(pa.Table.from_pydict(encoded, schema=schema))
            progress.update(len(chunk))


def _write_config(tmp: Path, name: str, rows_by_split: Mapping[str, list[dict[str, Any]]],
                  run: Run, features: Any, max_bytes: int, progress: tqdm) -> list[str]:
    files: list[str] = []
    (tmp / name).mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        rows = rows_by_split.get(split) or []
        if not rows:
            continue
        # A missing file counts 0 here and fails with its name when the shard reads it.
        sizes = [ROW_OVERHEAD_BYTES + (run.file(str(r["path"])).stat().st_size
                                       if run.file(str(r["path"])).exists() else 0) for r in rows]
        plan = plan_shards(sizes, max_bytes)
        for k, (a, b) in enumerate(plan):
            rel = f"{name}/{split}-{k:05d}-of-{len(plan):05d}.parquet"
            _write_shard(tmp / rel, rows[a:b], run, features, progress)
            files.append(rel)
    return files


def _read_parquet(path: Path) -> Any:
    try:
        return pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: unreadable parquet: {exc}") from None


def _eval_prompt_rows(run: Run, specs: Mapping[str, ConceptSpec]) -> list[dict[str, Any]]:
    """RUN/eval_prompts.parquet (imported and translated sets) as prompts-config rows: never used
    for training (benchmark), their provenance both flat (attack, language, source, licence) and
    whole (provenance, JSON)."""
    import json

    rows = []
    for r in _read_parquet(run.eval_prompts_path).to_pylist() if run.eval_prompts_path.exists() else []:
        if r["concept"] not in specs:
            continue
        prov = json.loads(r.get("provenance") or "{}")
        rows.append({"prompt_id": r["prompt_id"], "concept": r["concept"],
                     "taxonomy_path": specs[r["concept"]].taxonomy_path, "prompt_set": r["prompt_set"],
                     "prompt": r["prompt"], "pair_id": r["base_id"], "group": None, "benchmark": True,
                     "names_concept": bool(r.get("names_concept")), "seed": r.get("seed"),
                     "attack": prov.get("attack"), "language": prov.get("language"), "source": prov.get("source"),
                     "licence": prov.get("licence"), "provenance": r.get("provenance")})
    return rows


def prompts_for_export(run: Run, specs: Mapping[str, ConceptSpec]) -> Any:
    """The prompts config's table: the run's prompt sets, its imported evaluation sets, and the
    effectiveness marks of `dataigm prompts filter` (null where not measured); None when empty."""
    tables = []
    if run.prompts_path.exists():
        tables.append(_read_parquet(run.prompts_path))
    extra = _eval_prompt_rows(run, specs)
    if extra:
        tables.append(pa.Table.from_pylist(extra))
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    if "concept" in table.column_names:
        table = table.filter(pa.array([c in specs for c in table.column("concept").to_pylist()]))
    if table.num_rows == 0:
        return None
    if run.effectiveness_path.exists() and "prompt_id" in table.column_names:
        marks = {r["prompt_id"]: r for r in _read_parquet(run.effectiveness_path).to_pylist()}
        ids = table.column("prompt_id").to_pylist()
        table = table.append_column("effective", pa.array([marks[i]["effective"] if i in marks else None for i in ids],
                                                          pa.bool_()))
        for name in ("effective_flagged", "effective_of"):
            table = table.append_column(name, pa.array([marks[i][name] if i in marks else None for i in ids], pa.int64()))
    if "prompt_id" in table.column_names:
        table = table.sort_by("prompt_id")
    return table


def prompt_set_summary(run: Run, table: Any) -> list[dict[str, Any]]:
    """Per (concept, prompt set) of the prompts config: rows, where imported sets came from, and
    how many prompts the effectiveness filter kept (with its rule and judge): for the card."""
    rows = table.to_pylist()
    marks = {r["prompt_id"]: r for r in _read_parquet(run.effectiveness_path).to_pylist()} \
        if run.effectiveness_path.exists() else {}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault((r["concept"], r["prompt_set"]), {
            "concept": r["concept"], "prompt_set": r["prompt_set"], "rows": 0, "attack": set(), "language": set(),
            "source": set(), "licence": set(), "measured": 0, "kept": 0, "rule": set(), "judge": set()})
        entry["rows"] += 1
        for key in ("attack", "language", "source", "licence"):
            if r.get(key):
                entry[key].add(str(r[key]))
        mark = marks.get(r["prompt_id"])
        if mark is not None:
            entry["measured"] += 1
            entry["kept"] += int(bool(mark["effective"]))
            entry["rule"].add(mark["rule"])
            entry["judge"].add(mark["judge"])
    return [{k: ", ".join(sorted(v)) if isinstance(v, set) else v for k, v in e.items()}
            for _, e in sorted(out.items())]


def _write_prompts(tmp: Path, run: Run, specs: Mapping[str, ConceptSpec]) -> tuple[list[str], Any, list[dict[str, Any]]]:
    """The prompts config (one `train` split) and its per-set summary; ([], None, []) when the
    run has no prompts for these concepts."""
    table = prompts_for_export(run, specs)
    if table is None:
        return [], None, []  # no prompt of these concepts: no prompts config (the card says so)
    features = prompt_features(table)
    table = table.select(list(features)).cast(features.arrow_schema)
    rel = f"{PROMPTS_CONFIG}/train-00000-of-00001.parquet"
    (tmp / PROMPTS_CONFIG).mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp / rel)
    return [rel], features, prompt_set_summary(run, table)


# ----------------------------------------------------------------------------- card


def _read_back(tmp: Path, files: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Counts per config and split from the written shards (what a user will load)."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(lambda: {"rows": 0, "bytes": 0, "cells": Counter()}))
    for rel in files:
        config, name = rel.split("/", 1)
        split = name.split("-", 1)[0]
        pf = pq.ParquetFile(tmp / rel)
        entry = out[config][split]
        entry["rows"] += pf.metadata.num_rows
        entry["bytes"] += (tmp / rel).stat().st_size
        if config == PROMPTS_CONFIG:
            continue
        nulls = _null_image_bytes(pf)
        if nulls:
            raise DataigmError(f"{rel}: {nulls} rows without embedded image bytes")
        t = pf.read(columns=["label", "source"])
        for lab, src in zip(t.column("label").to_pylist(), t.column("source").to_pylist()):
            entry["cells"][(lab, src)] += 1
    return out


def _null_image_bytes(pf: pq.ParquetFile) -> int:
    """Rows whose image has no embedded bytes, from the column statistics when written
    (cheap: no image is read), else by reading the column."""
    meta = pf.metadata
    leaf = next((j for j in range(meta.num_columns)
                 if meta.row_group(0).column(j).path_in_schema == "image.bytes"), None) if meta.num_row_groups else None
    if leaf is not None:
        stats = [meta.row_group(i).column(leaf).statistics for i in range(meta.num_row_groups)]
        if all(st is not None and st.has_null_count for st in stats):
            return sum(st.null_count for st in stats)
    import pyarrow.compute as pc

    column = pf.read(columns=["image"]).column("image")
    return sum(pc.sum(pc.is_null(pc.struct_field(chunk, "bytes"))).as_py() or 0 for chunk in column.chunks)


def data_fingerprint(root: Path, files: Sequence[str]) -> str:
    """sha256 over every data file's path and bytes.

    It goes into the card's YAML header. `datasets` keys its cache of a local folder on the
    folder name, the README and the file names, not on the data: two exports with the same
    layout (or a re-export whose counts did not change) would otherwise share a stale cache
    entry, and `load_dataset` would return the old rows.
    """
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0")
        with open(root / rel, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the swap


def _check_target(out_dir: Path) -> None:
    """Refuse to replace a folder that is not an earlier dataigm export (e.g. --to ~)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    if not any(out_dir.iterdir()):
        return
    readme = out_dir / "README.md"
    try:
        head = readme.read_text(encoding="utf-8").split("\n---", 1)[0] if readme.exists() else ""
    except OSError:
        head = ""
    if f"- {EXPORT_TAG}" not in head:
        raise InputError(
            f"{out_dir}: not empty and not a dataigm export (no README.md tagged '{EXPORT_TAG}'); "
            "refusing to replace it, choose another --to"
        )


def _fsync_tree(root: Path) -> None:
    for dirpath, _, names in os.walk(root):
        for n in names:
            fd = os.open(os.path.join(dirpath, n), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename tmp onto out_dir; the previous export is renamed aside first and removed last."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.rename(out_dir, old)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            os.rename(old, out_dir)  # put the earlier export back before reporting
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out_dir)


def _make_tmp(out_dir: Path) -> Path:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the dataset folder should be shareable
    return tmp


# ----------------------------------------------------------------------------- entry point


def export_dataset(
    run: Run | str | Path,
    out_dir: str | Path | None = None,
    config: ExportConfig | None = None,
    *,
    progress: bool = True,
) -> ExportReport:
    """Export the run as a Hugging Face dataset folder at `out_dir` (default RUN/dataset),
    replaced atomically.

    One config per concept found in the rows (train / validation / test, leak-free) plus a
    `prompts` config. The target's lock is held throughout (a publish of it is refused meanwhile), and
    what a killed export left next to it (`.<name>.tmp-*`, `.<name>.old-*`) is swept first.
    """
    run = Run.of(run)
    run.require_folder()
    target = Path(out_dir) if out_dir is not None else run.dataset_dir
    with folder_lock(target):
        sweep_folder_leftovers(target)
        return _export_dataset(run, target, config, progress=progress)


def _export_dataset(run: Run, out_dir: Path, config: ExportConfig | None, *, progress: bool) -> ExportReport:
    t0 = time.monotonic()
    run = Run.of(run)
    run.require_folder()
    out_dir = Path(out_dir) if out_dir is not None else run.dataset_dir
    config = config or ExportConfig()
    split_cfg = config.split

    rows, rows_from = load_rows(run)
    names = sorted({str(r["concept"]) for r in rows})
    specs = load_specs(run, names)
    _check_labels(rows, specs, str(run.root / rows_from))
    warnings: list[str] = []
    rows = assign_splits(rows, split_cfg, warnings)
    # Fails the export loudly before anything is written.
    check_no_leaks(rows, declared=split_cfg.declared == "keep")
    _check_target(out_dir)

    by_config: dict[str, dict[str, list[dict[str, Any]]]] = {n: {s: [] for s in SPLITS} for n in names}
    for r in sorted(rows, key=lambda r: str(r["id"])):
        by_config[r["concept"]][r["split"]].append(r)

    tmp = _make_tmp(out_dir)
    try:
        features: dict[str, Any] = {}
        files: list[str] = []
        with tqdm(total=len(rows), desc="export", unit="img", disable=not progress) as bar:
            for name in names:
                features[name] = concept_features(specs[name])
                files += _write_config(tmp, name, by_config[name], run, features[name],
                                       config.max_shard_bytes, bar)
        prompt_files, prompt_feats, prompt_sets = _write_prompts(tmp, run, specs)
        if prompt_files:
            files += prompt_files
            features[PROMPTS_CONFIG] = prompt_feats
        sheets: dict[str, dict[str, Any]] = {}
        if config.contact_sheets:
            from dataigm.contact_sheet import make_contact_sheet

            for name in names:
                rel = contact_sheet_file(name)
                concept_rows = [r for per in by_config[name].values() for r in per]
                pixelate = config.contact_sheet_pixelate == "all" or (
                    config.contact_sheet_pixelate == "nsfw" and specs[name].domain == "nsfw")
                make_contact_sheet(concept_rows, run.root, tmp / rel, per_cell=config.contact_sheet_per_cell,
                                   title=f"{name} ({specs[name].taxonomy_path}): {len(concept_rows)} "
                                         f"images; rows = label x source, caption = split"
                                         + ("; pixelated" if pixelate else ""), pixelate=pixelate)
                sheets[name] = {"path": rel, "pixelated": pixelate}
        written = _read_back(tmp, files)
        fingerprint = data_fingerprint(tmp, files)
        load_ref = config.repo_id or str(out_dir)
        readme = dataset_card_text(run=run, specs=[specs[n] for n in names], rows=rows,
                                   written=written, features=features, split_cfg=split_cfg,
                                   rows_from=rows_from, repo_id=config.repo_id, load_ref=load_ref,
                                   contact_sheets=sheets, split_warnings=warnings, fingerprint=fingerprint,
                                   prompt_sets=prompt_sets)
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        for name in names:
            expected = sum(len(v) for v in by_config[name].values())
            got = sum(w["rows"] for w in written.get(name, {}).values())
            if got != expected:
                raise DataigmError(f"{tmp / name}: wrote {got} rows, expected {expected}")
        num_bytes = sum((tmp / f).stat().st_size for f in files)
        _fsync_tree(tmp)
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    counts = {cfg: {s: w["rows"] for s, w in per.items()} for cfg, per in written.items()}
    label_counts: dict[str, dict[str, dict[str, int]]] = {}
    for name in names:
        label_counts[name] = {}
        for s, w in written.get(name, {}).items():
            per_label: Counter[str] = Counter()
            for (lab, _src), n in w["cells"].items():
                per_label[specs[name].labels[lab]] += n
            label_counts[name][s] = dict(per_label)
    return ExportReport(
        out_dir=out_dir, rows_from=rows_from,
        configs=names + ([PROMPTS_CONFIG] if PROMPTS_CONFIG in written else []),
        counts={cfg: counts[cfg] for cfg in names + [PROMPTS_CONFIG] if cfg in counts},
        label_counts=label_counts, files=sorted(files), contact_sheets=[s["path"] for s in sheets.values()],
        num_bytes=num_bytes, seconds=time.monotonic() - t0, fingerprint=fingerprint, warnings=warnings,
    )

