"""What the inputs of `dataigm ingest` hold, read into items before anything is written.

Inputs (any mix, folders walked recursively, in sorted order so reruns see the same sequence):

* image files and ImageFolder trees: a file's label is its parent folder's name, which must be one
  of the concept's labels unless a label is given for every file; release layouts such as
  `<concept>/{train,test}/<label>/<file>` read as they are;
* parquet files with an image column (the `datasets` Image struct {bytes, path}, or raw bytes)
  and optional label / licence / url / split / pair_id columns;
* webdataset and img2dataset tar shards (`key.jpg` + `key.json` / `key.txt` / `key.cls`).

Each input becomes a stream of `Item`s (a bytes loader, the label, where it came from), `Reject`s
(with a reason) and `Skip`s (sidecar and hidden files). Where an item came from is always
relative: `origin` is the path below the ingested folder, starting with that folder's own name
(`nudity/train/nude/x.png`), a container member (`laion/00000.tar#000000012`,
`photos.parquet#row=7`), or the URL the data itself gives for the row; never a local absolute
path. File names that are not valid UTF-8 keep their undecodable bytes as `\\xNN` escapes.

Damaged containers never stop the run: an unreadable or truncated tar or parquet inside a folder
becomes a reject with its reason (rows already read from it before the damage are kept), and so
does a file that cannot be read (permissions, vanished). Label problems (an unknown class folder,
an unknown label value, an unknown split value) are errors the user must fix, raised before
anything is written.
"""

from __future__ import annotations

import json
import lzma
import os
import tarfile
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from dataigm.errors import InputError
from dataigm.taxonomy import ConceptSpec

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
SPLIT_KEYS = ("split",)
PAIR_KEYS = ("pair_id",)
# Folder names (and split values) that declare a split, and the split they mean.
SPLIT_NAMES = {"train": "train", "validation": "validation", "val": "validation", "valid": "validation",
               "test": "test"}
# What a damaged tar or gzip stream raises, beyond tarfile's own errors.
ARCHIVE_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)


def display(text: str) -> str:
    """A path as text that can be stored anywhere: bytes of a non-UTF-8 name (which Python
    keeps as surrogate escapes) become `\\xNN` escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")


@dataclass
class Item:
    origin: str                       # relative path, container member, or the row's own URL
    names: tuple[str, ...]            # what source-map patterns match: relative path, file name
    label: str
    licence: str | None               # given by the data for this row
    load: Callable[[], bytes]
    declared_split: str | None = None
    pair_key: str | None = None       # same key = one pair (stem across labels, or a pair_id value)
    stat: tuple[str, int, int] | None = None  # (file key, size, mtime_ns) of a loose file


@dataclass
class Reject:
    origin: str
    reason: str
    detail: str = ""


@dataclass
class Skip:
    origin: str


@dataclass
class Input:
    """One ingested path and what it holds."""

    key: str          # the input's path (keys its entries in the RUN's reject list; never exported)
    count: int
    items: Callable[[], Iterator[Item | Reject | Skip]]


@dataclass
class Options:
    label: str | None = None          # every image gets this label
    keep_split: bool = False          # honour split folders / a split column
    pair_by: str = "none"             # "stem": same stem under different label folders = a pair


def plan_inputs(paths: list[Path], spec: ConceptSpec, options: Options) -> list[Input]:
    """Every input path, planned: labels, splits and pairs are known before anything is written."""
    planned: list[Input | tuple[str, list[tuple[Path, Path, str | None]]]] = []
    every_loose: list[tuple[Path, Path, str | None]] = []
    for given in paths:
        root = given.resolve()
        base = root if root.is_dir() else root.parent
        # Sorted by their text (as fast as it gets for big trees; the same order on every rerun).
        files = sorted((p for p in root.rglob("*") if p.is_file()), key=str) if root.is_dir() else [root]
        loose: list[tuple[Path, Path, str | None]] = []   # (file, folder it is relative to, label)
        for f in files:
            kind = _kind(f)
            if kind == "parquet":
                found = _plan_parquet(f, base, spec, options, explicit=not root.is_dir())
                if found is not None:
                    planned.append(found)
            elif kind == "tar":
                planned.append(_plan_tar(f, base, spec, options))
            else:
                loose.append((f, base, None if kind == "skip" else _folder_label(f, spec, options.label)))
        if loose:
            planned.append((display(str(root)), loose))
            every_loose += loose
    # Pairing needs every loose file's stem and label before the first one is read.
    pairs = _stem_pairs(every_loose) if options.pair_by == "stem" else set()
    inputs = []
    for entry in planned:
        if isinstance(entry, Input):
            inputs.append(entry)
        else:
            key, loose = entry
            inputs.append(Input(key, len(loose), lambda loose=loose: _file_items(loose, pairs, options)))
    return inputs


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


def relative(path: Path, base: Path) -> str:
    """`path` below `base`, starting with the name of `base` (the ingested folder's own name)."""
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        rel = path.name
    return display(f"{base.name}/{rel}" if base.name else rel)


def match_label(value: str, spec: ConceptSpec) -> str | None:
    for lab in spec.labels:
        if value == lab or value.lower() == lab.lower():
            return lab
    return None


def split_of_folders(parts: list[str]) -> str | None:
    """The split the nearest `train` / `validation` / `val` / `test` folder declares."""
    for part in reversed(parts):
        found = SPLIT_NAMES.get(part.lower())
        if found:
            return found
    return None


def split_value(value: Any, where: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    found = SPLIT_NAMES.get(str(value).strip().lower())
    if found is None:
        raise InputError(f"{where}: split '{value}' is not one of {', '.join(sorted(SPLIT_NAMES))}")
    return found


def _folder_label(path: Path, spec: ConceptSpec, label: str | None) -> str:
    if label is not None:
        return label
    folder = path.parent
    found = match_label(folder.name, spec)
    if found is None:
        raise InputError(
            f"{display(str(folder))}: folder name '{display(folder.name)}' is not a label of concept "
            f"'{spec.name}' (labels: {', '.join(spec.labels)}); name class folders after the labels or pass --label"
        )
    return found


def _stem_pairs(loose: list[tuple[Path, Path, str | None]]) -> set[str]:
    """Stems found under two or more labels: each such stem is one pair (--pair-by stem)."""
    labels: dict[str, set[str]] = defaultdict(set)
    for f, _, lab in loose:
        if lab is not None:
            labels[display(f.stem)].add(lab)
    return {stem for stem, labs in labels.items() if len(labs) > 1}


def _file_items(files: list[tuple[Path, Path, str | None]], pairs: set[str],
                options: Options) -> Iterator[Item | Skip]:
    for path, base, lab in files:
        origin = relative(path, base)
        if lab is None:
            yield Skip(origin)
            continue
        try:
            st = path.stat()
            stat = (display(str(path)), st.st_size, st.st_mtime_ns)
        except OSError:
            stat = None  # the read below reports it
        parts = origin.split("/")[:-1]
        yield Item(origin, (origin.split("/", 1)[-1], display(path.name)), lab, None,
                   lambda p=path: p.read_bytes(),
                   declared_split=split_of_folders(parts) if options.keep_split else None,
                   pair_key=display(path.stem) if display(path.stem) in pairs else None, stat=stat)


def _label_value(value: Any, spec: ConceptSpec, names: list[str] | None) -> str | None:
    """A label cell (name, or integer id) to one of the concept's label names, or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if names is not None:  # a datasets ClassLabel: ints index ITS names, not ours
            return match_label(names[value], spec) if 0 <= value < len(names) else None
        return spec.labels[value] if 0 <= value < len(spec.labels) else None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return _label_value(int(text), spec, names)
    return match_label(text, spec)


def first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if mapping.get(k) not in (None, ""):
            return mapping[k]
    return None


def detail_of(exc: BaseException) -> str:
    """An exception as one short printable line (library messages can hold control bytes)."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(exc))
    return " ".join(text.split())[:200] or type(exc).__name__


def _damaged(path: Path, origin: str, reason: str, exc: BaseException) -> Input:
    detail = detail_of(exc)
    return Input(display(str(path)), 1, lambda: iter([Reject(origin, reason, detail)]))


def _plan_parquet(path: Path, base: Path, spec: ConceptSpec, options: Options,
                  explicit: bool) -> Input | None:
    origin = relative(path, base)
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except Exception as exc:  # pyarrow raises several types (and OSError) for a damaged file
        if explicit:
            raise InputError(f"{display(str(path))}: unreadable parquet: {exc}") from None
        return _damaged(path, origin, "unreadable_parquet", exc)
    column = next((c for c in IMAGE_COLUMNS if c in schema.names), None)
    if column is None:
        column = next((f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
                       or (pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0)), None)
    if column is None:
        if explicit:
            raise InputError(f"{display(str(path))}: no image column (expected one of {', '.join(IMAGE_COLUMNS)}, "
                             "or a binary / {bytes, path} column)")
        return None  # e.g. img2dataset's metadata parquet next to its tar: not an image table
    names = _classlabel_names(schema)
    label_col = "label" if "label" in schema.names else None
    split_col = next((c for c in SPLIT_KEYS if c in schema.names), None) if options.keep_split else None
    label = options.label
    try:
        if label is None and label_col is None and match_label(path.parent.name, spec) is None:
            raise InputError(f"{display(str(path))}: no 'label' column and folder '{display(path.parent.name)}' "
                             f"is not a label of concept '{spec.name}'; pass --label")
        # Every distinct label and split value must be known before anything is written.
        if label is None and label_col is not None:
            for value in pq.read_table(path, columns=[label_col]).column(0).unique().to_pylist():
                if value is not None and _label_value(value, spec, names) is None:
                    raise InputError(f"{display(str(path))}: label '{value}' is not a label of concept "
                                     f"'{spec.name}' (labels: {', '.join(spec.labels)}); pass --label to override")
        if split_col is not None:
            for value in pq.read_table(path, columns=[split_col]).column(0).unique().to_pylist():
                split_value(value, f"{display(str(path))}: column {split_col}")
    except InputError:
        raise
    except Exception as exc:  # a damaged row group shows only when it is read
        if explicit:
            raise InputError(f"{display(str(path))}: unreadable parquet: {exc}") from None
        return _damaged(path, origin, "unreadable_parquet", exc)
    folder_label = match_label(path.parent.name, spec)
    folder_split = split_of_folders(origin.split("/")[:-1]) if options.keep_split else None
    extra = [c for c in schema.names if c in LICENCE_KEYS + URL_KEYS + PAIR_KEYS]
    columns = [column] + [c for c in (label_col, split_col) if c] + extra
    where = origin.split("/", 1)[-1]

    def items() -> Iterator[Item | Reject]:
        row = 0
        try:
            # Row group by row group, so the rows before a damaged group are still ingested.
            for group in range(pf.num_row_groups):
                for rec in pf.read_row_group(group, columns=columns).to_pylist():
                    yield _parquet_item(rec, row, origin, where, column, label_col, split_col, spec, names,
                                        label, folder_label, folder_split, path.parent)
                    row += 1
        except Exception as exc:  # damage found mid-file: the rows read so far stay
            yield Reject(f"{origin}#row={row}", "unreadable_parquet", detail_of(exc))

    return Input(display(str(path)), pf.metadata.num_rows, items)


def _parquet_item(rec: dict[str, Any], row: int, origin: str, where: str, column: str,
                  label_col: str | None, split_col: str | None, spec: ConceptSpec,
                  names: list[str] | None, label: str | None, folder_label: str | None,
                  folder_split: str | None, folder: Path) -> Item | Reject:
    row_origin = str(first(rec, URL_KEYS) or f"{origin}#row={row}")
    lab = label
    if lab is None and label_col is not None:
        lab = _label_value(rec.get(label_col), spec, names)
    lab = lab or folder_label
    if lab is None:
        return Reject(row_origin, "missing_label", f"no label in {label_col or 'row'}")
    cell = rec[column]
    data = _cell_bytes(cell, folder)
    if isinstance(data, Reject):
        return Reject(row_origin, data.reason, data.detail)
    cell_name = display(str(cell.get("path") or "")) if isinstance(cell, dict) else ""
    lic = first(rec, LICENCE_KEYS)
    pair = first(rec, PAIR_KEYS)
    split = split_value(rec.get(split_col), where) if split_col else None
    return Item(row_origin, tuple(n for n in (where, Path(cell_name).name) if n), lab,
                str(lic) if lic is not None else None, lambda d=data: d,
                declared_split=split or folder_split, pair_key=str(pair) if pair is not None else None)


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


def _cell_bytes(cell: Any, base: Path) -> bytes | Reject:
    if cell is None:
        return Reject("", "missing_bytes", "empty image cell")
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        ref = cell.get("path")
        if ref:
            target = Path(ref) if Path(ref).is_absolute() else base / ref
            try:
                return target.read_bytes()
            except OSError:
                return Reject("", "missing_bytes", f"image path {Path(ref).name} not found and no bytes embedded")
    return Reject("", "missing_bytes", f"unsupported image cell of type {type(cell).__name__}")


def _split_key(name: str) -> tuple[str, str]:
    """webdataset convention: the key is everything up to the first dot of the base name."""
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _is_image_ext(ext: str) -> bool:
    return ("." + ext.rsplit(".", 1)[-1]) in IMAGE_EXTENSIONS


def _plan_tar(path: Path, base: Path, spec: ConceptSpec, options: Options) -> Input:
    origin = relative(path, base)
    label = options.label
    members: list[tarfile.TarInfo] = []
    metas: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(path) as tf:
            # First pass, over the small members only: labels are checked before any write. A
            # damaged archive stops here; what came before the damage is still ingested.
            for m in tf:
                if not m.isfile():
                    continue
                members.append(m)
                key, ext = _split_key(display(m.name))
                if ext in ("cls", "json") and label is None:
                    fh = tf.extractfile(m)
                    raw = fh.read() if fh else b""
                    metas.setdefault(key, {})[ext] = raw
    except ARCHIVE_ERRORS as exc:
        if not members:
            return _damaged(path, origin, "unreadable_tar", exc)
    samples = sorted({_split_key(display(m.name))[0] for m in members
                      if _is_image_ext(_split_key(m.name)[1])})
    folder_label = match_label(path.parent.name, spec)
    if label is None:
        for key, meta in metas.items():
            value = _tar_label(meta)
            if value is not None and _label_value(value, spec, None) is None:
                raise InputError(f"{display(str(path))}: sample '{key}' has label '{value}', not a label of concept "
                                 f"'{spec.name}' (labels: {', '.join(spec.labels)}); pass --label to override")
    context = _TarContext(origin, spec, options, folder_label)

    def items() -> Iterator[Item | Reject | Skip]:
        # Stream the tar in order (works for compressed shards too) and group members by key.
        current: str | None = None
        try:
            with tarfile.open(path, mode="r|*") as tf:
                group: dict[str, bytes] = {}
                for m in tf:
                    if not m.isfile():
                        continue
                    key, ext = _split_key(display(m.name))
                    if current is not None and key != current:
                        yield from _tar_sample(context, current, group)
                        group = {}
                    current = key
                    fh = tf.extractfile(m)
                    group[ext] = fh.read() if fh else b""
                if current is not None:
                    yield from _tar_sample(context, current, group)
        except ARCHIVE_ERRORS as exc:
            where = f"{origin}#{current}" if current else origin
            yield Reject(where, "truncated_tar", detail_of(exc))

    return Input(display(str(path)), len(samples), items)


@dataclass
class _TarContext:
    origin: str
    spec: ConceptSpec
    options: Options
    folder_label: str | None


def _tar_label(meta: dict[str, Any]) -> Any:
    if meta.get("cls") not in (None, b""):
        return meta["cls"].decode("utf-8", "replace").strip()
    if meta.get("json"):
        try:
            data = json.loads(meta["json"])
        except ValueError:
            return None
        if isinstance(data, dict):
            return first(data, ("label", "class", "cls"))
    return None


def _tar_sample(ctx: _TarContext, key: str, group: dict[str, bytes]) -> Iterator[Item | Reject]:
    images = sorted(ext for ext in group if _is_image_ext(ext))
    meta: dict[str, Any] = {}
    if group.get("json"):
        try:
            loaded = json.loads(group["json"])
            meta = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            meta = {}
    origin = str(first(meta, URL_KEYS) or f"{ctx.origin}#{key}")
    if not images:
        return  # a metadata-only sample (img2dataset writes json for failed downloads)
    lab = ctx.options.label or _label_value(_tar_label(group), ctx.spec, None) or ctx.folder_label
    if lab is None:
        yield Reject(origin, "missing_label", "no .cls or json 'label' and no --label")
        return
    split = None
    if ctx.options.keep_split:
        split = split_value(first(meta, SPLIT_KEYS), origin) or split_of_folders(
            ctx.origin.split("/")[:-1] + key.split("/")[:-1])
    lic = first(meta, LICENCE_KEYS)
    pair = first(meta, PAIR_KEYS)
    data = group[images[0]]
    member = f"{key}.{images[0]}"
    yield Item(origin, (f"{ctx.origin.split('/', 1)[-1]}/{member}", member.rsplit("/", 1)[-1]), lab,
               str(lic) if lic is not None else None, lambda d=data: d,
               declared_split=split, pair_key=str(pair) if pair is not None else None)
