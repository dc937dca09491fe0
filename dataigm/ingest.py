"""Ingestion of real, web and already generated images into a RUN folder.

What the inputs hold (folders, ImageFolder and release trees, parquet, tar shards) is read by
dataigm.ingest_inputs. This step decides, per item:

* **identity**: the sha256 of the source bytes. An image already ingested for this concept and
  source is recognised by it without decoding; a rerun over unchanged files does not even read
  them (RUN/ingest/<source>/index.parquet maps (file, size, mtime) to that sha256, and remembers
  which bytes failed to decode, so a rerun decodes nothing);
* **storage**: an image whose bytes decode cleanly into a plain picture (JPEG, PNG or WebP, RGB or
  grey, no EXIF rotation, one frame) is stored byte for byte, with the extension of its real
  format (JPEG bytes behind a .png name become `.jpg`). Only the others are re-encoded once as
  PNG (CMYK, 16-bit, EXIF rotation, palette or alpha, animation, other formats), and the row's
  `normalised` column says why. Files land under
  `RUN/images/<concept>/ingest-<source>/<sha[:2]>/<sha><ext>`;
* **provenance**, declared per source and per file (`IngestSource`, and `source_map` rules that
  match file names or relative paths): source type (`real`, `web` or `generated`), source name,
  generator and model for generated images, licence and its link, the upstream reference
  (`origin_url`), and `origin`, the path relative to the ingested folder (never a local absolute
  path). Labels come from the source (class folders, label columns, `--label`): `labelled_by`
  is `source`;
* **the source's own split and pairs**, when asked: `split_from_folders` keeps the split that
  `train` / `validation` / `val` / `test` folders (or a parquet `split` column) declare, in
  `declared_split`; `pair_by: stem` makes files with the same stem under different label
  folders one pair, and a parquet `pair_id` column does the same;
* **limits**: images over `max_pixels` or `max_aspect` are rejected from their header, before
  decoding, so curation never meets them.

Manifest rows go to their own shards `RUN/shards/ingest-<concept>-<source>-NNNNN.parquet` with a
`.done` marker (dataigm.store), then RUN/manifest.parquet is rebuilt from all finished shards.
Files that cannot be used are rejected with a reason in `RUN/ingest/<source>/rejected.parquet`
and never stop the run. Temp files a killed ingest left are swept first, under the run's lock.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataigm.errors import InputError
from dataigm.imageio import DEFAULT_MAX_ASPECT, DEFAULT_MAX_PIXELS, ImageRejected, decode_image, encode_png
from dataigm.ingest_inputs import IMAGE_EXTENSIONS, Item, Options, Reject, Skip, display, plan_inputs
from dataigm.io import atomic_write_parquet
from dataigm.manifest import ManifestRow, library_versions
from dataigm.run import SOURCE_NAME_RULE, Run, check_source_name, is_safe_name
from dataigm.store import ShardStore, ShardWriter, sha256_bytes
from dataigm.taxonomy import ConceptSpec, load_concept

SourceType = Literal["real", "web", "generated"]
REJECTED_COLUMNS = ("concept", "input", "origin", "reason", "detail")
INDEX_SCHEMA = pa.schema([("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
                          ("sha256", pa.string()), ("reason", pa.string()), ("detail", pa.string()),
                          ("limits", pa.string())])


@dataclass
class SourceRule:
    """Per-file provenance: files whose relative path or name matches `pattern` (a glob, e.g.
    `SD-GEN_*`) get this source name and whichever of the other fields are set (the rest come
    from the ingest source). The first matching rule wins."""

    pattern: str
    source: str
    source_type: SourceType | None = None
    generator: str | None = None
    model_id: str | None = None
    licence: str | None = None
    licence_url: str | None = None
    origin_url: str | None = None

    def validate(self) -> None:
        if not self.pattern.strip():
            raise ValueError("pattern: must not be empty")
        if not is_safe_name(self.source):
            raise ValueError(f"source: '{self.source}' {SOURCE_NAME_RULE}")


@dataclass(frozen=True)
class Provenance:
    """What a row records about where it came from (IngestSource, then the matching rule)."""

    source_name: str
    source_type: str
    generator: str | None
    model_id: str | None
    licence: str | None
    licence_url: str | None
    origin_url: str | None


@dataclass
class IngestSource:
    """Real, web or generated images for one concept: the settings of `dataigm ingest`, and one
    entry of a preset's `sources:` list (where `paths` are relative to the preset file)."""

    concept: str                     # built-in concept name or concept YAML path
    source: str                      # source name (laion, imagenet, ...): names folders, shards, reject list
    paths: list[str] = field(default_factory=list)
    label: str | None = None         # every image gets this label (else class folders / label columns)
    source_type: SourceType = "real"
    generator: str | None = None     # generated images: what made them (e.g. stable-diffusion)
    model_id: str | None = None      # generated images: the model (e.g. CompVis/stable-diffusion-v1-4)
    licence: str | None = None       # for rows whose data gives none (an SPDX id or a name)
    licence_url: str | None = None   # the licence text
    origin_url: str | None = None    # the upstream data set or page
    source_map: list[SourceRule] = field(default_factory=list)
    split_from_folders: bool = False  # keep the split of train/validation/val/test folders or a split column
    pair_by: Literal["none", "stem"] = "none"
    shard_size: int = 1000           # manifest rows per shard
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_aspect: float = DEFAULT_MAX_ASPECT

    def validate(self) -> None:
        if not is_safe_name(self.source):
            raise ValueError(f"source: '{self.source}' {SOURCE_NAME_RULE}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size: must be >= 1, got {self.shard_size}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels: must be >= 1, got {self.max_pixels}")
        if not self.max_aspect >= 1.0:
            raise ValueError(f"max_aspect: must be >= 1, got {self.max_aspect}")
        for where, prov in [("", self.provenance(None))] + [
                (f"source_map[{i}].", self.provenance(r)) for i, r in enumerate(self.source_map)]:
            if prov.source_type == "generated" and not (prov.generator or prov.model_id):
                raise ValueError(f"{where}generator: generated images need --generator or --model-id "
                                 f"(what made source '{prov.source_name}')")

    def provenance(self, rule: SourceRule | None) -> Provenance:
        def pick(name: str) -> Any:
            value = getattr(rule, name) if rule is not None else None
            return value if value is not None else getattr(self, name)

        kind = pick("source_type")
        generated = kind == "generated"
        return Provenance(source_name=rule.source if rule is not None else self.source, source_type=kind,
                          generator=pick("generator") if generated else None,
                          model_id=pick("model_id") if generated else None,
                          licence=pick("licence"), licence_url=pick("licence_url"),
                          origin_url=pick("origin_url"))

    def rule_for(self, names: tuple[str, ...]) -> SourceRule | None:
        """The first source_map rule whose pattern matches one of `names`."""
        for rule in self.source_map:
            if any(fnmatch.fnmatchcase(n, rule.pattern) for n in names):
                return rule
        return None


@dataclass
class IngestReport:
    """What one ingest call did; `reasons` counts rejects by reason code."""

    concept: str
    source_name: str
    source_type: str
    seen: int = 0
    accepted: int = 0           # new images written and added to the manifest
    already_present: int = 0    # identical source bytes already ingested for this concept and source
    rejected: int = 0
    skipped: int = 0            # sidecar / metadata files, hidden files
    read: int = 0               # files whose bytes were read (a rerun over unchanged files reads none)
    decoded: int = 0            # images decoded or refused from their header (a rerun over unchanged files: none)
    reasons: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)     # accepted per source name
    normalised: dict[str, int] = field(default_factory=dict)  # re-encoded, by reason
    declared_splits: dict[str, int] = field(default_factory=dict)
    pairs: int = 0              # accepted rows that belong to a declared pair
    shards: list[str] = field(default_factory=list)
    rejected_path: str | None = None
    manifest_rows: int = 0
    swept: int = 0              # temp files of a killed ingest removed

    def summary(self) -> str:
        lines = [
            f"ingest {self.source_name} ({self.source_type}) -> {self.concept}: "
            f"{self.seen} seen, {self.accepted} accepted, {self.already_present} already present, "
            f"{self.rejected} rejected, {self.skipped} skipped ({self.read} read, {self.decoded} decoded)",
        ]
        for title, counts in (("labels", self.labels), ("sources", self.sources),
                              ("declared splits", self.declared_splits), ("re-encoded", self.normalised)):
            if counts:
                lines.append(f"  {title}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        if self.pairs:
            lines.append(f"  rows in declared pairs: {self.pairs}")
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  rejected {reason}: {n}")
        if self.rejected_path:
            lines.append(f"  rejects listed in {self.rejected_path}")
        if self.swept:
            lines.append(f"  removed {self.swept} temp files of an interrupted ingest")
        lines.append(f"  manifest: {self.manifest_rows} rows")
        return "\n".join(lines)


def ingest(run: Run | str | Path, source: IngestSource, spec: ConceptSpec | None = None,
           progress: bool = True) -> IngestReport:
    """Ingest the images of `source.paths` into the run for one concept (module docstring)."""
    run = Run.of(run)
    check_source_name(source.source)
    spec = spec or load_concept(source.concept)
    if source.label is not None and source.label not in spec.labels:
        raise InputError(f"--label: '{source.label}' is not a label of concept '{spec.name}' "
                         f"(labels: {', '.join(spec.labels)})")
    if not source.paths:
        raise InputError("no input paths given")
    inputs = [Path(p) for p in source.paths]
    for p in inputs:
        if not p.exists():
            raise InputError(f"{display(str(p))}: no such file or folder")

    # Plan first: label problems (unknown class folders, unknown label or split values) are
    # errors the user must fix, reported before a single image is written.
    options = Options(label=source.label, keep_split=source.split_from_folders, pair_by=source.pair_by)
    planned = plan_inputs(inputs, spec, options)
    total = sum(s.count for s in planned)
    report = IngestReport(concept=spec.name, source_name=source.source, source_type=source.source_type)
    store = ShardStore(run)
    prefix = f"ingest-{spec.name}-{source.source}-"

    with run.lock():
        report.swept = run.sweep_ingest_temp_files(spec.name, source.source)
        run.record_concept(spec)
        present, next_index = _existing(store, prefix)
        index = _Index(run.ingest_index_path(source.source), f"{source.max_pixels}/{source.max_aspect:g}")
        work = _Work(run, spec, source, store, prefix, report, present, index,
                     store.writer(f"{prefix}{next_index:05d}"))
        rejects: list[dict[str, Any]] = []
        bar = tqdm(total=total or None, desc=f"ingest {source.source}", unit="img", disable=not progress)
        for planned_input in planned:
            for entry in planned_input.items():
                report.seen += 1
                bar.update(1)
                if isinstance(entry, Skip):
                    report.skipped += 1
                    continue
                reject = entry if isinstance(entry, Reject) else work.add(entry)
                if reject is not None:
                    work.reasons[reject.reason] += 1
                    rejects.append({"concept": spec.name, "input": planned_input.key, "origin": reject.origin,
                                    "reason": reject.reason, "detail": reject.detail})
        bar.close()
        work.finish()
        report.rejected = sum(work.reasons.values())
        for name, counts in (("reasons", work.reasons), ("labels", work.labels), ("sources", work.sources),
                             ("normalised", work.normalised), ("declared_splits", work.splits)):
            setattr(report, name, dict(counts))
        rejected_path = run.rejected_path(source.source)
        _write_rejects(rejected_path, rejects, spec.name, [s.key for s in planned])
        report.rejected_path = str(rejected_path)
        index.save()
        report.manifest_rows = _manifest_rows(store, bool(report.shards))
    return report


class _Index:
    """RUN/ingest/<source>/index.parquet: (file, size, mtime_ns) -> sha256 of its bytes, and
    the decode failure of a sha256 (valid for the same pixel and aspect limits)."""

    def __init__(self, path: Path, limits: str) -> None:
        self.path, self.limits = path, limits
        self.files: dict[str, tuple[int, int, str]] = {}
        self.failures: dict[str, tuple[str, str, str]] = {}
        self.changed = False
        if path.exists():
            try:
                rows = pq.read_table(path).to_pylist()
            except Exception:  # a damaged index is rebuilt, never trusted
                rows = []
            for r in rows:
                if r.get("file"):
                    self.files[r["file"]] = (r["size"], r["mtime_ns"], r["sha256"])
                elif r.get("reason"):
                    self.failures[r["sha256"]] = (r["reason"], r.get("detail") or "", r.get("limits") or "")

    def sha_of(self, stat: tuple[str, int, int] | None) -> str | None:
        """The sha256 of an unchanged file (same size and mtime), else None."""
        if stat is None:
            return None
        known = self.files.get(stat[0])
        return known[2] if known is not None and known[:2] == stat[1:] else None

    def remember(self, stat: tuple[str, int, int] | None, sha: str) -> None:
        if stat is not None and self.files.get(stat[0]) != (stat[1], stat[2], sha):
            self.files[stat[0]] = (stat[1], stat[2], sha)
            self.changed = True

    def failure(self, sha: str) -> tuple[str, str] | None:
        known = self.failures.get(sha)
        return known[:2] if known is not None and known[2] == self.limits else None

    def fail(self, sha: str, reason: str, detail: str) -> None:
        self.failures[sha] = (reason, detail, self.limits)
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        rows = [{"file": f, "size": s, "mtime_ns": m, "sha256": h} for f, (s, m, h) in sorted(self.files.items())]
        rows += [{"sha256": h, "reason": r, "detail": d, "limits": lim}
                 for h, (r, d, lim) in sorted(self.failures.items())]
        atomic_write_parquet(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA), self.path)


@dataclass
class _Work:
    """The state of one ingest call while items stream through `add`."""

    run: Run
    spec: ConceptSpec
    source: IngestSource
    store: ShardStore
    prefix: str
    report: IngestReport
    present: set[str]
    index: _Index
    writer: ShardWriter
    seen_now: dict[str, tuple[str, str]] = field(default_factory=dict)  # sha -> (origin, label)
    versions: str = field(default_factory=library_versions)
    reasons: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    normalised: Counter[str] = field(default_factory=Counter)
    splits: Counter[str] = field(default_factory=Counter)

    def add(self, item: Item) -> Reject | None:
        """Store one item and add its row; a Reject when it cannot be used."""
        sha = self.index.sha_of(item.stat)
        data: bytes | None = None
        if sha is None or (sha not in self.present and self.index.failure(sha) is None):
            try:
                data = item.load()
            except OSError as exc:
                return Reject(item.origin, "unreadable", exc.strerror or type(exc).__name__)
            self.report.read += 1
            sha = sha256_bytes(data)
        self.index.remember(item.stat, sha)
        if sha in self.present:
            self.report.already_present += 1
            return None
        failure = self.index.failure(sha)
        if failure is not None:
            return Reject(item.origin, *failure)
        if sha in self.seen_now:
            first_origin, first_label = self.seen_now[sha]
            reason = "duplicate_in_source" if first_label == item.label else "conflicting_duplicate"
            return Reject(item.origin, reason, f"same image as {first_origin} (label {first_label})")
        assert data is not None  # only known shas skip the read, and those returned above
        try:
            decoded = decode_image(data, max_pixels=self.source.max_pixels, max_aspect=self.source.max_aspect)
        except ImageRejected as exc:
            self.index.fail(sha, exc.reason, exc.detail)
            return Reject(item.origin, exc.reason, exc.detail)
        finally:
            self.report.decoded += 1
        self.seen_now[sha] = (item.origin, item.label)
        ext, stored, stored_sha = decoded.kept_extension, data, sha
        if ext is None:  # needs normalising: re-encoded once, and the row says why
            ext, stored = ".png", encode_png(decoded.image)
            stored_sha = sha256_bytes(stored)
            for why in str(decoded.normalise).split(","):
                self.normalised[why] += 1
        rel = self.run.ingested_image(self.spec.name, self.source.source, sha, ext)
        self.writer.add(self._row(item, sha, stored_sha, rel, decoded), self._bytes_to_write(rel, stored, stored_sha))
        if len(self.writer) >= self.source.shard_size:
            self._next_shard()
        return None

    def _row(self, item: Item, source_sha: str, stored_sha: str, rel: str, decoded: Any) -> ManifestRow:
        prov = self.source.provenance(self.source.rule_for(item.names))
        width, height = decoded.image.size
        licence, licence_url = prov.licence, prov.licence_url
        if item.licence is not None and item.licence != prov.licence:
            licence, licence_url = item.licence, None  # the data's own licence; the source's link is not its text
        self.labels[item.label] += 1
        self.sources[prov.source_name] += 1
        if item.declared_split:
            self.splits[item.declared_split] += 1
        if item.pair_key is not None:
            self.report.pairs += 1
        self.report.accepted += 1
        return ManifestRow(
            id=f"{self.spec.name}-ingest-{self.source.source}-{source_sha[:16]}", concept=self.spec.name,
            taxonomy_path=self.spec.taxonomy_path, label=item.label,
            label_id=self.spec.labels.index(item.label), source=prov.source_type,
            source_name=prov.source_name, generator=prov.generator, model_id=prov.model_id,
            pair_id=f"{self.source.source}:{item.pair_key}" if item.pair_key is not None else None,
            height=height, width=width, versions=self.versions, sha256=stored_sha,
            path=rel,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            licence=licence, licence_url=licence_url, origin=item.origin, origin_url=prov.origin_url,
            labelled_by="source", source_sha256=source_sha, normalised=decoded.normalise,
            declared_split=item.declared_split,
        )

    def _bytes_to_write(self, rel: str, stored: bytes, stored_sha: str) -> bytes | None:
        """None when the content-addressed file is already there with these bytes (a shard of
        an interrupted run wrote it); else the bytes to write."""
        path = self.run.file(rel)
        try:
            if path.stat().st_size == len(stored) and sha256_bytes(path.read_bytes()) == stored_sha:
                return None
        except OSError:
            pass  # not there (the usual case): write it
        return stored

    def _next_shard(self) -> None:
        """Finish the shard being written and start the next one."""
        self.writer.finish()
        self.report.shards.append(self.writer.shard)
        number = int(self.writer.shard[len(self.prefix):]) + 1
        self.writer = self.store.writer(f"{self.prefix}{number:05d}")

    def finish(self) -> None:
        if len(self.writer):
            self._next_shard()


def _existing(store: ShardStore, prefix: str) -> tuple[set[str], int]:
    """Identities (source sha256) of images this concept+source already has, and the next shard
    number. Shards written before `source_sha256` existed are keyed by their file's sha256."""
    present: set[str] = set()
    last = -1
    for shard in store.finished_shards():
        if not shard.startswith(prefix):
            continue
        tail = shard[len(prefix):]
        if tail.isdigit():
            last = max(last, int(tail))
        names = pq.read_schema(store.run.shard_parquet(shard)).names
        stored = store.shard_column(shard, "sha256")
        source = store.shard_column(shard, "source_sha256") if "source_sha256" in names else [None] * len(stored)
        present.update(s if s is not None else f for s, f in zip(source, stored))
    return present, last + 1


def _manifest_rows(store: ShardStore, wrote: bool) -> int:
    """Rebuild RUN/manifest.parquet when shards changed (or it is missing or older than a
    marker: a killed run); else read its row count."""
    manifest = store.run.manifest_path
    if not wrote and manifest.exists():
        newest = max((store.run.marker_path(s).stat().st_mtime_ns for s in store.finished_shards()), default=0)
        if manifest.stat().st_mtime_ns >= newest:
            return pq.ParquetFile(manifest).metadata.num_rows
    return store.rebuild_manifest().num_rows


def _write_rejects(path: Path, rejects: list[dict[str, Any]], concept: str, inputs: list[str]) -> None:
    """Merge this call's rejects into the source's list: a rerun replaces its own entries (those
    of the same concept and input)."""
    rows: list[dict[str, Any]] = []
    old: list[dict[str, Any]] | None = None
    if path.exists():
        try:
            old = [{k: r.get(k) for k in REJECTED_COLUMNS} for r in pq.read_table(path).to_pylist()]
        except Exception:  # a damaged reject list is only a report; rebuild it
            old = []
        fresh = {r["origin"] for r in rejects}
        for r in old:
            if r.get("origin") in fresh or (r.get("concept") == concept and r.get("input") in inputs):
                continue
            rows.append(r)
    rows.extend(rejects)
    if rows == old:
        return  # a rerun that found the same rejects
    schema = pa.schema([(c, pa.string()) for c in REJECTED_COLUMNS])
    atomic_write_parquet(pa.Table.from_pylist(rows, schema=schema), path)


__all__ = ["IngestReport", "IngestSource", "SourceRule", "Provenance", "ingest", "IMAGE_EXTENSIONS"]
