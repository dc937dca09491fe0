"""Ingestion of real and web images into a RUN folder.

Inputs (any mix, folders walked recursively, in sorted order so reruns see the same sequence):

* image files and ImageFolder trees (`class/file` or `split/class/file`): the class folder is a
  file's parent folder and must be named like one of the concept's labels, unless `label` is
  given (then every file gets it);
* parquet files with an image column (the `datasets` Image struct {bytes, path}, or raw bytes)
  and optional label / licence / url columns;
* webdataset and img2dataset tar shards (`key.jpg` + `key.json` / `key.txt` / `key.cls`).

Every accepted image is decoded (dataigm.imageio), normalised to RGB and written once as PNG
under `RUN/images/<concept>/ingest-<source>/<sha[:2]>/<sha>.png`, content-addressed by the sha256
of the PNG bytes: re-ingesting the same file finds it already present and writes nothing.
Manifest rows go to their own shards `RUN/shards/ingest-<concept>-<source>-NNNNN.parquet` with a
`.done` marker (dataigm.store), then RUN/manifest.parquet is rebuilt from all finished shards.
Files that cannot be used are rejected with a reason in `RUN/ingest/<source>/rejected.parquet`
and never stop the run.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataigm.errors import InputError
from dataigm.imageio import DEFAULT_MAX_PIXELS, ImageRejected, decode_image, encode_png
from dataigm.io import atomic_write_parquet
from dataigm.manifest import ManifestRow, library_versions
from dataigm.run import SOURCE_NAME_RULE, Run, check_source_name, is_safe_name
from dataigm.store import ShardStore, sha256_bytes
from dataigm.taxonomy import ConceptSpec, load_concept

SourceType = Literal["real", "web"]

IMAGE_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".tga", ".avif",
}
# Metadata that sits next to images (img2dataset stats, captions, webdataset sidecars): skipped.
SIDECAR_EXTENSIONS = {".json", ".txt", ".cls", ".csv", ".tsv", ".md", ".yaml", ".yml", ".log", ".db",
                      ".html", ".xml", ".ini", ".pdf"}
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
IMAGE_COLUMNS = ("image", "img", "jpg", "jpeg", "png", "webp", "image_bytes", "bytes")
LICENCE_KEYS = ("licence", "license", "LICENSE", "LICENCE", "Licence", "License")
URL_KEYS = ("url", "URL", "image_url", "source_url")
REJECTED_COLUMNS = ("concept", "origin", "reason", "detail")


@dataclass
class IngestSource:
    """Real or web images for one concept: the settings of `dataigm ingest`, and one entry of a
    preset's `ingest:` list (where `paths` are relative to the preset file)."""

    concept: str                     # built-in concept name or concept YAML path
    source: str                      # source name (laion, imagenet, ...): names folders and shards
    paths: list[str] = field(default_factory=list)
    label: str | None = None         # every image gets this label (else class folders / label columns)
    source_type: Literal["real", "web"] = "real"
    licence: str | None = None       # for rows whose source gives none
    shard_size: int = 1000           # manifest rows per shard
    max_pixels: int = DEFAULT_MAX_PIXELS

    def validate(self) -> None:
        if not is_safe_name(self.source):
            raise ValueError(f"source: '{self.source}' {SOURCE_NAME_RULE}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size: must be >= 1, got {self.shard_size}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels: must be >= 1, got {self.max_pixels}")


@dataclass
class IngestReport:
    """What one ingest call did; `reasons` counts rejects by reason code."""

    concept: str
    source_name: str
    source_type: str
    seen: int = 0
    accepted: int = 0           # new images written and added to the manifest
    already_present: int = 0    # identical image already ingested for this concept and source
    rejected: int = 0
    skipped: int = 0            # sidecar / metadata files, hidden files
    reasons: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    rejected_path: str | None = None
    manifest_rows: int = 0

    def summary(self) -> str:
        lines = [
            f"ingest {self.source_name} ({self.source_type}) -> {self.concept}: "
            f"{self.seen} seen, {self.accepted} accepted, {self.already_present} already present, "
            f"{self.rejected} rejected, {self.skipped} skipped",
        ]
        if self.labels:
            lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items())))
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  rejected {reason}: {n}")
        if self.rejected_path:
            lines.append(f"  rejects listed in {self.rejected_path}")
        lines.append(f"  manifest: {self.manifest_rows} rows")
        return "\n".join(lines)


@dataclass
class _Item:
    origin: str
    label: str | None
    licence: str | None
    load: Callable[[], bytes]


@dataclass
class _Reject:
    origin: str
    reason: str
    detail: str = ""


@dataclass
class _Skip:
    origin: str


def ingest(run: Run | str | Path, source: IngestSource, spec: ConceptSpec | None = None,
           progress: bool = True) -> IngestReport:
    """Ingest the images of `source.paths` into the run for one concept (module docstring)."""
    run = Run.of(run)
    check_source_name(source.source)
    spec = spec or load_concept(source.concept)
    label, source_name = source.label, source.source
    if label is not None and label not in spec.labels:
        raise InputError(f"--label: '{label}' is not a label of concept '{spec.name}' "
                         f"(labels: {', '.join(spec.labels)})")
    if not source.paths:
        raise InputError("no input paths given")
    inputs = [Path(p) for p in source.paths]
    for p in inputs:
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")

    # Plan first: label problems (unknown class folders, unknown label values) are errors the
    # user must fix, reported before a single image is written.
    sources = _plan(inputs, spec, label)
    total = sum(s.count for s in sources)

    report = IngestReport(concept=spec.name, source_name=source_name, source_type=source.source_type)
    store = ShardStore(run)
    prefix = f"ingest-{spec.name}-{source_name}-"
    reasons: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    rejects: list[dict[str, Any]] = []
    versions = library_versions()

    with run.lock():
        run.record_concept(spec)
        present, next_index = _existing(store, prefix)
        seen_now: dict[str, tuple[str, str]] = {}  # sha -> (origin, label) within this call
        writer = store.writer(f"{prefix}{next_index:05d}")

        bar = tqdm(total=total or None, desc=f"ingest {source_name}", unit="img", disable=not progress)
        for src in sources:
            for entry in src.items():
                report.seen += 1
                bar.update(1)
                if isinstance(entry, _Skip):
                    report.skipped += 1
                    continue
                if isinstance(entry, _Reject):
                    reasons[entry.reason] += 1
                    rejects.append({"concept": spec.name, "origin": entry.origin,
                                    "reason": entry.reason, "detail": entry.detail})
                    continue
                try:
                    decoded = decode_image(entry.load(), max_pixels=source.max_pixels)
                except ImageRejected as exc:
                    reasons[exc.reason] += 1
                    rejects.append({"concept": spec.name, "origin": entry.origin,
                                    "reason": exc.reason, "detail": exc.detail})
                    continue
                png = encode_png(decoded.image)
                sha = sha256_bytes(png)
                item_label = entry.label
                assert item_label is not None  # _plan guarantees a label or a _Reject
                if sha in present:
                    report.already_present += 1
                    continue
                if sha in seen_now:
                    first_origin, first_label = seen_now[sha]
                    reason = "duplicate_in_source" if first_label == item_label else "conflicting_duplicate"
                    reasons[reason] += 1
                    rejects.append({"concept": spec.name, "origin": entry.origin, "reason": reason,
                                    "detail": f"same image as {first_origin} (label {first_label})"})
                    continue
                seen_now[sha] = (entry.origin, item_label)
                rel = run.ingested_image(spec.name, source_name, sha, ".png")
                width, height = decoded.image.size
                row = ManifestRow(
                    id=f"{spec.name}-ingest-{source_name}-{sha[:16]}", concept=spec.name,
                    taxonomy_path=spec.taxonomy_path, label=item_label,
                    label_id=spec.labels.index(item_label), source=source.source_type,
                    source_name=source_name, height=height, width=width, versions=versions,
                    sha256=sha, path=rel, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    licence=entry.licence if entry.licence is not None else source.licence,
                    origin=entry.origin,
                )
                # Content-addressed: an existing file is this file, and is not written again.
                writer.add(row, None if run.file(rel).exists() else png)
                labels[item_label] += 1
                report.accepted += 1
                if len(writer) >= source.shard_size:
                    writer = _finish(writer, report, store, prefix)
        bar.close()
        if len(writer):
            _finish(writer, report, store, prefix)
        report.rejected = sum(reasons.values())
        report.reasons = dict(reasons)
        report.labels = dict(labels)
        rejected_path = run.rejected_path(source_name)
        _write_rejects(rejected_path, rejects, spec.name, [str(s.root) for s in sources])
        report.rejected_path = str(rejected_path)
        report.manifest_rows = store.rebuild_manifest().num_rows
    return report


def _finish(writer: Any, report: IngestReport, store: ShardStore, prefix: str) -> Any:
    """Finish the shard being written and start the next one."""
    writer.finish()
    report.shards.append(writer.shard)
    number = int(writer.shard[len(prefix):]) + 1
    return store.writer(f"{prefix}{number:05d}")


def _existing(store: ShardStore, prefix: str) -> tuple[set[str], int]:
    """sha256 of images this concept+source already has, and the next shard number."""
    present: set[str] = set()
    last = -1
    for shard in store.finished_shards():
        if not shard.startswith(prefix):
            continue
        tail = shard[len(prefix):]
        if tail.isdigit():
            last = max(last, int(tail))
        present.update(store.shard_column(shard, "sha256"))
    return present, last + 1


def _write_rejects(path: Path, rejects: list[dict[str, Any]], concept: str, roots: list[str]) -> None:
    """Merge this call's rejects into the source's list: a rerun replaces its own entries."""
    rows: list[dict[str, Any]] = []
    if path.exists():
        try:
            old = pq.read_table(path).to_pylist()
        except Exception:  # a damaged reject list is only a report; rebuild it
            old = []
        fresh = {r["origin"] for r in rejects}
        for r in old:
            same_inputs = r.get("concept") == concept and any(str(r.get("origin", "")).startswith(x) for x in roots)
            if r.get("origin") in fresh or same_inputs:
                continue
            rows.append({k: r.get(k) for k in REJECTED_COLUMNS})
    rows.extend(rejects)
    schema = pa.schema([(c, pa.string()) for c in REJECTED_COLUMNS])
    atomic_write_parquet(pa.Table.from_pylist(rows, schema=schema), path)


# -- planning: what each input path holds ---------------------------------------------------

@dataclass
class _Source:
    root: Path
    count: int
    items: Callable[[], Iterator[_Item | _Reject | _Skip]]


def _plan(inputs: list[Path], spec: ConceptSpec, label: str | None) -> list[_Source]:
    sources: list[_Source] = []
    for root in inputs:
        root = root.resolve()
        if root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file())
            loose: list[tuple[Path, str | None]] = []
            for f in files:
                kind = _kind(f)
                if kind == "parquet":
                    src = _plan_parquet(f, spec, label, explicit=False)
                    if src is not None:
                        sources.append(src)
                elif kind == "tar":
                    sources.append(_plan_tar(f, spec, label))
                else:
                    lab = None if kind == "skip" else _folder_label(f, root, spec, label)
                    loose.append((f, lab))
            if loose:
                sources.append(_Source(root, len(loose), lambda loose=loose: _file_items(loose)))
        else:
            kind = _kind(root)
            if kind == "parquet":
                sources.append(_plan_parquet(root, spec, label, explicit=True))  # type: ignore[arg-type]
            elif kind == "tar":
                sources.append(_plan_tar(root, spec, label))
            else:
                lab = None if kind == "skip" else _folder_label(root, root.parent, spec, label)
                sources.append(_Source(root, 1, lambda f=root, lab=lab: _file_items([(f, lab)])))
    return sources


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("."):
        return "skip"  # .DS_Store, editor temp files
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if path.suffix.lower() in SIDECAR_EXTENSIONS or name in ("thumbs.db", "desktop.ini"):
        return "skip"
    return "image"  # anything else is tried: the bytes decide, not the name


def _match_label(value: str, spec: ConceptSpec) -> str | None:
    for lab in spec.labels:
        if value == lab or value.lower() == lab.lower():
            return lab
    return None


def _folder_label(path: Path, root: Path, spec: ConceptSpec, label: str | None) -> str:
    if label is not None:
        return label
    folder = path.parent
    found = _match_label(folder.name, spec)
    if found is None:
        raise InputError(
            f"{folder}: folder name '{folder.name}' is not a label of concept '{spec.name}' "
            f"(labels: {', '.join(spec.labels)}); name class folders after the labels or pass --label"
        )
    return found


def _file_items(files: list[tuple[Path, str | None]]) -> Iterator[_Item | _Skip]:
    for path, lab in files:
        if lab is None:
            yield _Skip(str(path))
        else:
            yield _Item(str(path), lab, None, lambda p=path: p.read_bytes())


def _label_value(value: Any, spec: ConceptSpec, names: list[str] | None) -> str | None:
    """A label cell (name, or integer id) to one of the concept's label names, or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if names is not None:  # a datasets ClassLabel: ints index ITS names, not ours
            return _match_label(names[value], spec) if 0 <= value < len(names) else None
        return spec.labels[value] if 0 <= value < len(spec.labels) else None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return _label_value(int(text), spec, names)
    return _match_label(text, spec)


def _first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if mapping.get(k) not in (None, ""):
            return mapping[k]
    return None


def _plan_parquet(path: Path, spec: ConceptSpec, label: str | None, explicit: bool) -> _Source | None:
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        if explicit:
            raise InputError(f"{path}: unreadable parquet: {exc}") from None
        # `exc` is unbound once the except block ends: keep its text for the lazy reject.
        detail = str(exc)[:200]
        return _Source(path, 1, lambda: iter([_Reject(str(path), "unreadable_parquet", detail)]))
    schema = pf.schema_arrow
    column = next((c for c in IMAGE_COLUMNS if c in schema.names), None)
    if column is None:
        column = next((f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
                       or (pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0)), None)
    if column is None:
        if explicit:
            raise InputError(f"{path}: no image column (expected one of {', '.join(IMAGE_COLUMNS)}, "
                             "or a binary / {{bytes, path}} column)")
        return None  # e.g. img2dataset's metadata parquet next to its tar: not an image table
    names = _classlabel_names(schema)
    label_col = "label" if "label" in schema.names else None
    if label is None:
        if label_col is None:
            folder = _match_label(path.parent.name, spec)
            if folder is None:
                raise InputError(f"{path}: no 'label' column and folder '{path.parent.name}' is not a "
                                 f"label of concept '{spec.name}'; pass --label")
        else:
            # Every distinct label value must map to a concept label before anything is written.
            for value in pq.read_table(path, columns=[label_col]).column(0).unique().to_pylist():
                if value is not None and _label_value(value, spec, names) is None:
                    raise InputError(f"{path}: label '{value}' is not a label of concept '{spec.name}' "
                                     f"(labels: {', '.join(spec.labels)}); pass --label to override")
    folder_label = _match_label(path.parent.name, spec)
    extra = [c for c in schema.names if c in LICENCE_KEYS + URL_KEYS]
    columns = [column] + ([label_col] if label_col else []) + extra

    def items() -> Iterator[_Item | _Reject]:
        row = 0
        for batch in pf.iter_batches(batch_size=64, columns=columns):
            for rec in batch.to_pylist():
                origin = str(_first(rec, URL_KEYS) or f"{path}#row={row}")
                lab = label
                if lab is None and label_col is not None:
                    lab = _label_value(rec.get(label_col), spec, names)
                lab = lab or folder_label
                row += 1
                if lab is None:
                    yield _Reject(origin, "missing_label", f"no label in {label_col or 'row'}")
                    continue
                cell = rec[column]
                data = _cell_bytes(cell, path.parent)
                if isinstance(data, _Reject):
                    yield _Reject(origin, data.reason, data.detail)
                    continue
                lic = _first(rec, LICENCE_KEYS)
                yield _Item(origin, lab, str(lic) if lic is not None else None, lambda d=data: d)

    return _Source(path, pf.metadata.num_rows, items)


def _classlabel_names(schema: pa.Schema) -> list[str] | None:
    meta = (schema.metadata or {}).get(b"huggingface")
    if not meta:
        return None
    try:
        feature = json.loads(meta)["info"]["features"]["label"]
    except (ValueError, KeyError, TypeError):
        return None
    names = feature.get("names") if isinstance(feature, dict) else None
    return list(names) if names else None


def _cell_bytes(cell: Any, base: Path) -> bytes | _Reject:
    if cell is None:
        return _Reject("", "missing_bytes", "empty image cell")
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        ref = cell.get("path")
        if ref:
            target = Path(ref) if Path(ref).is_absolute() else base / ref
            if target.is_file():
                return target.read_bytes()
            return _Reject("", "missing_bytes", f"image path {ref} not found and no bytes embedded")
    return _Reject("", "missing_bytes", f"unsupported image cell of type {type(cell).__name__}")


def _split_key(name: str) -> tuple[str, str]:
    """webdataset convention: the key is everything up to the first dot of the base name."""
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _is_image_ext(ext: str) -> bool:
    return ("." + ext.rsplit(".", 1)[-1]) in IMAGE_EXTENSIONS


def _plan_tar(path: Path, spec: ConceptSpec, label: str | None) -> _Source:
    try:
        with tarfile.open(path) as tf:
            members = [m for m in tf.getmembers() if m.isfile()]
            metas: dict[str, dict[str, Any]] = {}
            # First pass over the small members only: labels are checked before any write.
            for m in members:
                key, ext = _split_key(m.name)
                if ext in ("cls", "json") and label is None:
                    fh = tf.extractfile(m)
                    raw = fh.read() if fh else b""
                    metas.setdefault(key, {})[ext] = raw
    except (tarfile.TarError, OSError, EOFError) as exc:
        detail = str(exc)[:200]  # `exc` is unbound once the except block ends
        return _Source(path, 1, lambda: iter([_Reject(str(path), "unreadable_tar", detail)]))
    samples = sorted({_split_key(m.name)[0] for m in members if _is_image_ext(_split_key(m.name)[1])})
    folder_label = _match_label(path.parent.name, spec)
    if label is None:
        for key, meta in metas.items():
            value = _tar_label(meta)
            if value is not None and _label_value(value, spec, None) is None:
                raise InputError(f"{path}: sample '{key}' has label '{value}', not a label of concept "
                                 f"'{spec.name}' (labels: {', '.join(spec.labels)}); pass --label to override")

    def items() -> Iterator[_Item | _Reject | _Skip]:
        # Stream the tar in order (works for compressed shards too) and group members by key.
        try:
            with tarfile.open(path, mode="r|*") as tf:
                group: dict[str, bytes] = {}
                current: str | None = None
                for m in tf:
                    if not m.isfile():
                        continue
                    key, ext = _split_key(m.name)
                    if current is not None and key != current:
                        yield from _tar_sample(path, current, group, spec, label, folder_label)
                        group = {}
                    current = key
                    fh = tf.extractfile(m)
                    group[ext] = fh.read() if fh else b""
                if current is not None:
                    yield from _tar_sample(path, current, group, spec, label, folder_label)
        except (tarfile.TarError, OSError, EOFError) as exc:
            yield _Reject(str(path), "truncated_tar", str(exc)[:200])

    return _Source(path, len(samples), items)


def _tar_label(meta: dict[str, Any]) -> Any:
    if meta.get("cls") not in (None, b""):
        return meta["cls"].decode("utf-8", "replace").strip()
    if meta.get("json"):
        try:
            data = json.loads(meta["json"])
        except ValueError:
            return None
        if isinstance(data, dict):
            return _first(data, ("label", "class", "cls"))
    return None


def _tar_sample(path: Path, key: str, group: dict[str, bytes], spec: ConceptSpec, label: str | None,
                folder_label: str | None) -> Iterator[_Item | _Reject]:
    images = sorted(ext for ext in group if _is_image_ext(ext))
    meta: dict[str, Any] = {}
    if group.get("json"):
        try:
            loaded = json.loads(group["json"])
            meta = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            meta = {}
    origin = str(_first(meta, URL_KEYS) or f"{path}#{key}")
    if not images:
        return  # a metadata-only sample (img2dataset writes json for failed downloads)
    lab = label or _label_value(_tar_label(group), spec, None) or folder_label
    if lab is None:
        yield _Reject(origin, "missing_label", "no .cls or json 'label' and no --label")
        return
    lic = _first(meta, LICENCE_KEYS)
    data = group[images[0]]
    yield _Item(origin, lab, str(lic) if lic is not None else None, lambda d=data: d)


__all__ = ["IngestReport", "IngestSource", "ingest", "IMAGE_EXTENSIONS"]
