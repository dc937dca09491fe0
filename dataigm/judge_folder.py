"""The JUDGE folder: one object owns its layout, its lock, its completion marker and its swap.

A judge is written whole (docs/CONTRACTS.md, "Judge folder"): `dataigm train` builds it in a
staging folder next to JUDGE (`.<name>.tmp-train`), writes the completion marker
`dataigm_judge.json` last (the sha256 and size of every judge file), then swaps the staging
folder in with one atomic rename. A kill -9 at any moment leaves the old complete judge or the
new complete one, never a mix, and the next writer sweeps the leftovers under the lock.

Whether a judge is finished is decided by the marker alone: loaders, `evaluate`, `publish` and
the demo all ask `JudgeFolder.is_finished()` / `require_finished()`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from dataigm.errors import InputError
from dataigm.io import (RunLock, atomic_write_bytes, atomic_write_json, folder_lock, fsync_file, replace_folder, staging_folder,
                        staging_folder_path, sweep_folder_leftovers)

MARKER = "dataigm_judge.json"
MARKER_FORMAT = "dataigm-judge/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "README.md"
METRICS = "metrics.json"
# The judge itself: what the marker lists and what `publish judge` uploads. Anything else in
# the folder (training/ logs, eval/ reports) belongs to the user, not to the judge.
JUDGE_FILES = (WEIGHTS, CONFIG, CARD, METRICS, "roc.png", "reliability.png")
REQUIRED = (WEIGHTS, CONFIG, CARD)
TRAINING = "training"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class JudgeFolder:
    """A JUDGE folder. Cheap to construct; nothing is created until a writer installs a judge."""

    def __init__(self, root: str | Path) -> None:
        if not str(root).strip():
            raise InputError("--out: the judge folder must not be empty (give a folder name)")
        self.root = Path(root)
        self._digests: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"JudgeFolder({str(self.root)!r})"

    # -- layout ------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.root / name

    weights_path = property(lambda self: self.root / WEIGHTS)
    config_path = property(lambda self: self.root / CONFIG)
    marker_path = property(lambda self: self.root / MARKER)
    metrics_path = property(lambda self: self.root / METRICS)
    training_dir = property(lambda self: self.root / TRAINING)
    eval_dir = property(lambda self: self.root / "eval")

    # -- lock, leftovers, swap ---------------------------------------------------------
    def lock(self) -> RunLock:
        """The exclusive lock on this judge (`.<name>.lock` next to it): train, evaluate and
        publish hold it, so a second writer is refused in one line."""
        return folder_lock(self.root)

    def sweep(self) -> int:
        """Remove what a killed writer left (staging folders next to JUDGE; temp files of older
        versions inside it). Call only while holding the lock."""
        removed = sweep_folder_leftovers(self.root)
        if self.root.is_dir():
            for leftover in list(self.root.glob(".export-*")) + list(self.root.glob(".*.tmp")):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    def staging(self, tag: str = "train") -> Path:
        """An empty folder next to JUDGE to build the new judge in (a fixed tag, so every
        process of a multi-device training finds the same one)."""
        return staging_folder(self.root, tag)

    def staging_path(self, tag: str = "train") -> Path:
        """Where `staging(tag)` puts the folder (for processes that do not create it)."""
        return staging_folder_path(self.root, tag)

    def check_target(self, overwrite: bool) -> None:
        """Refuse to write over anything that is not a dataigm judge, and over a judge unless
        `overwrite` (the user's files are never replaced silently)."""
        if not self.root.exists():
            return
        if not self.root.is_dir():
            raise InputError(f"{self.root}: exists and is not a folder; choose another --out")
        if not any(self.root.iterdir()):
            return
        if not self.is_dataigm_judge():
            raise InputError(f"{self.root}: not empty and not a dataigm judge (no {MARKER}); refusing to "
                             "replace it, choose another --out")
        if not overwrite:
            raise InputError(f"{self.root}: already holds a dataigm judge; pass --overwrite "
                             "(or overwrite: true) to replace it")

    def is_dataigm_judge(self) -> bool:
        """A judge dataigm wrote: finished (marker), or one written before markers existed
        (config.json with a "dataigm" block, or a training/ record)."""
        if self.marker_path.is_file() or (self.training_dir / "train_config.json").is_file():
            return True
        try:
            return isinstance(json.loads(self.config_path.read_text(encoding="utf-8")).get("dataigm"), dict)
        except (OSError, ValueError, AttributeError):
            return False

    def install(self, staged: str | Path) -> None:
        """Seal the finished judge in `staged` (marker written last) and swap it in whole."""
        JudgeFolder(staged).seal()
        replace_folder(staged, self.root)
        self._digests.clear()

    def update(self, changes: dict[str, bytes]) -> None:
        """Replace some files of a finished judge (its card, its metrics) and re-seal it, written
        whole like a training: a copy of the folder (hard links for the files that stay, which are
        never written in place) gets the new files and a new marker, then is swapped in. A kill at
        any moment leaves the old judge or the updated one. Call holding the lock."""
        unknown = sorted(set(changes) - set(JUDGE_FILES) - {WEIGHTS})
        if unknown or WEIGHTS in changes or CONFIG in changes:
            raise InputError(f"{self.root}: only {CARD}, {METRICS} and plots can be updated, not {unknown or [WEIGHTS]}")
        self.require_finished()
        staged = self.staging("update")

        def link(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:   # a file system without hard links: copy
                shutil.copy2(src, dst)

        for item in self.root.iterdir():
            if item.name == MARKER or item.name in changes:
                continue
            if item.is_dir():
                shutil.copytree(item, staged / item.name, copy_function=link)
            else:
                link(str(item), str(staged / item.name))
        for name, data in changes.items():
            atomic_write_bytes(staged / name, data)
        self.install(staged)

    # -- the marker --------------------------------------------------------------------
    def seal(self) -> dict[str, Any]:
        """Write the completion marker for the judge files present (the required ones must be)."""
        for name in REQUIRED:
            if not self.path(name).is_file():
                raise InputError(f"{self.path(name)}: missing; a judge folder has {', '.join(REQUIRED)}")
        files = {name: {"sha256": file_sha256(self.path(name)), "size": self.path(name).stat().st_size}
                 for name in JUDGE_FILES if self.path(name).is_file()}
        for name in files:
            fsync_file(self.path(name))  # on disk before the marker that vouches for them
        marker = {"format": MARKER_FORMAT, "files": files}
        atomic_write_json(self.marker_path, marker)
        return marker

    def is_finished(self) -> bool:
        return self.marker_path.is_file()

    def read_marker(self) -> dict[str, Any]:
        """The marker, checked for shape; a one-line InputError when missing or damaged."""
        try:
            marker = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{self.root}: not a finished dataigm judge ({MARKER} missing: its training was "
                             "interrupted, or another tool wrote it); retrain it with dataigm train") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.marker_path}: unreadable judge marker: {exc}") from None
        files = marker.get("files") if isinstance(marker, dict) else None
        if (not isinstance(files, dict) or marker.get("format") != MARKER_FORMAT
                or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("size"), int)
                           for v in files.values())):
            raise InputError(f"{self.marker_path}: not a {MARKER_FORMAT} marker")
        missing = [n for n in REQUIRED if n not in files]
        if missing or set(files) - set(JUDGE_FILES):
            raise InputError(f"{self.marker_path}: lists {sorted(files)}; a judge has {', '.join(REQUIRED)}"
                             f" and at most {', '.join(JUDGE_FILES)}")
        return marker

    def require_finished(self, names: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The marker, after checking that the files it lists (or `names` of them) are exactly
        the ones it recorded: a truncated, replaced or edited file is refused in one line."""
        if not self.root.is_dir():
            raise InputError(f"{self.root}: judge folder not found")
        marker = self.read_marker()
        files = marker["files"]
        for name in names if names is not None else tuple(files):
            if name not in files:
                continue
            self.verify_file(name, files[name])
        return marker

    def verify_file(self, name: str, record: dict[str, Any]) -> None:
        path = self.path(name)
        if not path.is_file():
            raise InputError(f"{path}: missing (listed in {MARKER}); the judge folder is damaged")
        size = path.stat().st_size
        if size != record["size"] or self.digest(name) != record["sha256"]:
            what = f"{size} bytes, recorded {record['size']}" if size != record["size"] else "sha256 differs"
            raise InputError(f"{path}: damaged or changed since the judge was written ({what}); retrain the "
                             f"judge or restore the file")

    def digest(self, name: str) -> str:
        """sha256 of one file of the folder (computed once per JudgeFolder object)."""
        if name not in self._digests:
            self._digests[name] = file_sha256(self.path(name))
        return self._digests[name]

    def judge_files(self) -> list[str]:
        """The files of the finished judge, marker included: what `publish judge` uploads."""
        return sorted(self.read_marker()["files"]) + [MARKER]

    def read_config(self) -> dict[str, Any]:
        """config.json with every field the loaders use checked (see `check_judge_config`)."""
        return read_judge_config(self.root)


# ----------------------------------------------------------------------------- config.json

def read_judge_config(folder: str | Path) -> dict[str, Any]:
    """config.json, with every field the loaders use checked: a bad value is one line naming it."""
    path = Path(folder) / CONFIG
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not a judge folder (config.json missing)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable judge config: {exc}") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: expected a JSON object")
    check_judge_config(cfg, str(path))
    return cfg


def bad_field(where: str, field: str, why: str, value: Any) -> InputError:
    shown = json.dumps(value)[:60] if not isinstance(value, str) else repr(value[:60])
    return InputError(f"{where}: {field}: {why}, got {shown}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_judge_config(cfg: dict[str, Any], where: str) -> None:
    """The timm fields and the "dataigm" block of a judge config (no torch needed)."""
    arch = cfg.get("architecture")
    if not isinstance(arch, str) or not arch:
        raise bad_field(where, "architecture", "missing (not a timm config)", arch)
    k = cfg.get("num_classes")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise bad_field(where, "num_classes", "must be a whole number >= 1", k)
    if not isinstance(cfg.get("model_args", {}), dict):
        raise bad_field(where, "model_args", "must be a mapping", cfg.get("model_args"))
    labels = cfg.get("label_names")
    if labels is not None:
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
            raise bad_field(where, "label_names", "must list at least two label names", labels)
        if k != (1 if len(labels) == 2 else len(labels)):
            raise bad_field(where, "num_classes", f"does not fit {len(labels)} label_names", k)
    pc = cfg.get("pretrained_cfg", {})
    if not isinstance(pc, dict):
        raise bad_field(where, "pretrained_cfg", "must be a mapping", pc)
    size = pc.get("input_size", [3, 224, 224])
    if not (isinstance(size, list) and len(size) == 3 and all(isinstance(v, int) and v > 0 for v in size)):
        raise bad_field(where, "pretrained_cfg.input_size", "must be [channels, height, width]", size)
    for key in ("mean", "std"):
        values = pc.get(key, [0.5] * size[0])
        if not (isinstance(values, list) and len(values) == size[0] and all(_is_number(v) for v in values)
                and (key == "mean" or all(v > 0 for v in values))):
            raise bad_field(where, f"pretrained_cfg.{key}", f"must be {size[0]} finite numbers", values)
    block = cfg.get("dataigm", {})
    if not isinstance(block, dict):
        raise bad_field(where, "dataigm", "must be a mapping", block)
    threshold = block.get("threshold")
    if threshold is not None and not (_is_number(threshold) and 0.0 <= threshold <= 1.0):
        raise bad_field(where, "dataigm.threshold", "must be a number in [0, 1] (or null)", threshold)
    if block.get("concept") is not None and not isinstance(block["concept"], str):
        raise bad_field(where, "dataigm.concept", "must be a concept name", block["concept"])
