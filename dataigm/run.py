"""The RUN folder: one object owns its layout, run.json, concept snapshots, lock and temp files.

Every step reads and writes a RUN folder through a `Run`; no other module spells a path inside
it. The layout (docs/CONTRACTS.md, "RUN folder"):

    run.json                     preset snapshot, generation settings, concepts, library versions
    concepts/<name>.yaml         the concept files the run was generated with
    prompts.parquet              every prompt set
    images/<concept>/...         image files, written once
    shards/<shard>.parquet|.done manifest rows per shard; the marker is written last
    manifest.parquet             the union of finished shards
    ingest/<source>/rejected.parquet, index.parquet
    curation/                    kept.parquet, dropped.parquet, report.json, caches
    dataset/                     the exported Hugging Face dataset folder (default target)
    judges/<concept>/            judge folders the demo trains
    .lock                        held by the dataigm process working on the run
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dataigm.errors import InputError
from dataigm.io import RunLock, atomic_write_bytes, atomic_write_json

# Image file names are ids; the extension follows the bytes (generated images are PNG).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _located(*parts: str) -> property:
    """A read-only attribute: the path `parts` inside the run."""
    return property(lambda self: self.root.joinpath(*parts))


class Run:
    """A RUN folder. Cheap to construct; nothing is created until a step writes."""

    def __init__(self, root: str | Path) -> None:
        if not str(root).strip():
            raise InputError("--out: the RUN folder must not be empty (give a folder name)")
        self.root = Path(root)

    @classmethod
    def of(cls, run: "Run | str | Path") -> "Run":
        """A Run for a folder path, or the Run itself: steps accept either."""
        return run if isinstance(run, Run) else cls(run)

    def __repr__(self) -> str:
        return f"Run({str(self.root)!r})"

    # -- layout ------------------------------------------------------------------------
    # Fixed files and folders of the run, relative to its root.
    info_path = _located("run.json")
    concepts_dir = _located("concepts")
    prompts_path = _located("prompts.parquet")
    images_dir = _located("images")
    shards_dir = _located("shards")
    manifest_path = _located("manifest.parquet")
    curation_dir = _located("curation")
    kept_path = _located("curation", "kept.parquet")
    dropped_path = _located("curation", "dropped.parquet")
    curation_report_path = _located("curation", "report.json")
    dataset_dir = _located("dataset")
    forgetting_path = _located("forgetting.json")
    report_path = _located("report.html")

    # Files and folders named by a concept, source or judge.
    def concept_snapshot(self, name: str) -> Path:
        return self.concepts_dir / f"{name}.yaml"

    def ingest_dir(self, source: str) -> Path:
        return self.root / "ingest" / source

    def rejected_path(self, source: str) -> Path:
        return self.ingest_dir(source) / "rejected.parquet"

    def ingest_index_path(self, source: str) -> Path:
        """Per ingested source: (file, size, mtime) -> sha256 of its bytes, and decode failures
        by sha256, so a rerun over unchanged inputs reads and decodes nothing."""
        return self.ingest_dir(source) / "index.parquet"

    def curation_cache(self, name: str) -> Path:
        return self.curation_dir / name

    def judge_dir(self, concept: str) -> Path:
        return self.root / "judges" / concept

    def unlearned_dir(self, concept: str) -> Path:
        return self.root / "unlearned" / concept

    def scores_dir(self, concept: str, judge: str) -> Path:
        return self.root / "scores" / concept / judge

    # The evaluation: `dataigm sample` writes one method per folder under a sample root (each
    # method folder is a Run of its own), `dataigm scorecard` writes a scorecard folder.
    sampled_dir = _located("sampled")                     # the demo's sample root
    scorecard_dir = _located("scorecard")                 # the demo's scorecard folder
    synonym_prompts_path = _located("synonym_prompts.jsonl")   # the demo's synonym prompt set
    attack_prompts_dir = _located("attack_prompts")       # the demo's attack prompt files
    eval_prompts_path = _located("eval_prompts.parquet")  # imported evaluation prompt sets (export adds them)
    effectiveness_path = _located("prompt_effectiveness.parquet")   # which prompts ORG renders (export marks them)
    models_dir = _located("models")                       # models the demo builds (random-init)
    # Inside a method folder: completed when `sample.done` (written last) exists.
    sample_marker = _located("sample.done")
    # Inside a scorecard folder: `scorecard.done` is written last.
    scorecard_table = _located("scorecard.parquet")
    scorecard_json = _located("scorecard.json")
    scorecard_html = _located("scorecard.html")
    scorecard_marker = _located("scorecard.done")
    plots_dir = _located("plots")
    cache_dir = _located("cache")
    judge_answers_dir = _located("answers")               # raw answers of judges that keep them (VLM)
    # Inside a labelling folder (`dataigm labels export` / `import`): labels.done is written last.
    labels_items = _located("items.parquet")
    labels_csv = _located("labels.csv")
    labels_page = _located("labelling.html")
    labels_marker = _located("labels.done")
    validation_report = _located("validation.json")
    validation_html = _located("validation.html")

    def method_dir(self, method: str) -> Path:
        """A method's folder inside a sample root (this run being the root)."""
        return self.root / method

    def sampled_image(self, prompt_set: str, prompt_id: str, image_index: int) -> str:
        """A sampled image inside a method folder: <prompt_set>/<prompt_id>_<k>.png, so the same
        name in two method folders is the same prompt and seed."""
        return f"{prompt_set}/{prompt_id}_{image_index}.png"

    def sampled_images_dir(self, prompt_set: str) -> Path:
        return self.root / prompt_set

    def relative(self, path: Path) -> str:
        """A path inside the run as the manifest records it (POSIX, relative to the run)."""
        return path.relative_to(self.root).as_posix()

    def file(self, rel: str) -> Path:
        """The file a manifest `path` names."""
        return self.root / rel

    def generated_image(self, concept: str, shard: str, image_id: str) -> str:
        return f"images/{concept}/{shard}/{image_id}.png"

    def ingested_images_dir(self, concept: str, source: str) -> Path:
        return self.images_dir / concept / f"ingest-{source}"

    def ingested_image(self, concept: str, source: str, sha256: str, extension: str) -> str:
        # Content-addressed by the sha256 of the source bytes: the same input always lands on
        # the same name, with the extension of the format really stored.
        return self.relative(self.ingested_images_dir(concept, source) / sha256[:2] / f"{sha256}{extension}")

    # -- lock and leftovers ------------------------------------------------------------
    def lock(self) -> RunLock:
        """The exclusive lock on this run (re-entrant within one process)."""
        return RunLock(self.root)

    def sweep_temp_files(self) -> int:
        """Remove temp files a killed process left in the run's own files and shard folder
        (kill -9 skips every cleanup). Call only while holding the lock, before writing."""
        removed = 0
        for folder in (self.root, self.shards_dir):
            for tmp in folder.glob(".*.tmp") if folder.is_dir() else []:
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    def sweep_folders(self, folders: "list[Path]", recursive: bool = False) -> int:
        """Temp files a killed process left in these folders of the run (and in the run's own)."""
        removed = self.sweep_temp_files()
        for folder in folders:
            found = (folder.rglob if recursive else folder.glob)(".*.tmp") if folder.is_dir() else []
            for tmp in found:
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    def sweep_ingest_temp_files(self, concept: str, source: str) -> int:
        """Temp files a killed ingest left in the run, among its images and in its ingest folder
        (call under the lock, before writing)."""
        return self.sweep_folders([self.ingested_images_dir(concept, source), self.ingest_dir(source)],
                                  recursive=True)

    def discard_partial_shard(self, concept: str, shard: str) -> None:
        """Temp files an interrupted write of this shard left, and its marker (it is redone)."""
        folder = self.images_dir / concept / shard
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
        self.marker_path(shard).unlink(missing_ok=True)

    # -- shards ------------------------------------------------------------------------
    def shard_parquet(self, shard: str) -> Path:
        return self.shards_dir / f"{shard}.parquet"

    def marker_path(self, shard: str) -> Path:
        return self.shards_dir / f"{shard}.done"

    def marked_shards(self) -> list[str]:
        if not self.shards_dir.is_dir():
            return []
        return sorted(p.stem for p in self.shards_dir.glob("*.done"))

    # -- run.json ----------------------------------------------------------------------
    def exists(self) -> bool:
        return self.info_path.is_file()

    def read_info(self) -> dict[str, Any]:
        """run.json as a mapping ({} for a folder no step has recorded yet)."""
        if not self.info_path.exists():
            return {}
        try:
            data = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError(f"{self.info_path}: unreadable; it is not a dataigm RUN folder") from None
        if not isinstance(data, dict):
            raise InputError(f"{self.info_path}: not a dataigm run record")
        return data

    def write_info(self, info: dict[str, Any]) -> None:
        atomic_write_json(self.info_path, info)

    def require_info(self) -> dict[str, Any]:
        info = self.read_info()
        if not info:
            raise InputError(f"{self.info_path}: not found; is {self.root} a dataigm RUN folder?")
        return info

    def preset_section(self, name: str) -> dict[str, Any]:
        """A section of the preset the run was built with ({} when none is recorded), so a
        later step on the run keeps the settings it was built with."""
        preset = self.read_info().get("preset")
        section = preset.get(name) if isinstance(preset, dict) else None
        return section if isinstance(section, dict) else {}

    def load_spec(self, name: str) -> Any:
        """A concept of this run: its snapshot when recorded, else the built-in of that name."""
        from dataigm.errors import ConfigError
        from dataigm.taxonomy import load_concept

        snapshot = self.concept_snapshot(name)
        try:
            spec = load_concept(snapshot if snapshot.exists() else name)
        except ConfigError as exc:
            raise ConfigError(f"concept '{name}' (from the manifest): {exc}") from None
        if spec.name != name:
            raise ConfigError(f"{spec.source_file}: name: '{spec.name}' but the manifest says '{name}'")
        return spec

    def record_concept(self, spec: Any) -> Path:
        """Snapshot the concept file a step used into concepts/<name>.yaml (the run then knows
        its concepts even when their files move), unless it is already there."""
        snapshot = self.concept_snapshot(spec.name)
        if Path(spec.source_file).resolve() != snapshot.resolve():
            data = Path(spec.source_file).read_bytes()
            if not snapshot.is_file() or snapshot.read_bytes() != data:
                snapshot.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(snapshot, data)
        return snapshot

    def require_folder(self) -> None:
        if not self.root.is_dir():
            raise InputError(f"{self.root}: RUN folder not found")


SOURCE_NAME_RULE = "must be letters, digits, '_', '.', '-' (it names folders and shards)"


def is_safe_name(name: str) -> bool:
    """A source name becomes folder and shard names: letters, digits, '_', '.', '-'."""
    return bool(_SAFE_NAME.match(name or ""))


def check_source_name(name: str, flag: str = "--source") -> str:
    if not is_safe_name(name):
        raise InputError(f"{flag}: '{name}' {SOURCE_NAME_RULE}")
    return name
