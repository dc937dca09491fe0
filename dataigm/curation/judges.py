"""Image scorers for the judge-agreement step, and their score cache.

An `ImageScorer` is anything with a `name` (which identifies it in the cache: change the model
or its class rule and the name must change) and `score(paths) -> list[float]` giving
P(concept present) per image. Built in: NudeNet (IGMU's rule: the max score among the
configured EXPOSED classes), and trained dataigm judge folders through `detectors.Judge`
(imported only when a folder is configured).

Scores are cached in RUN/curation/judge_scores.parquet keyed by (sha256, judge name), so
re-curating with another threshold or action never rescores.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataigm.errors import ConfigError, MissingExtraError
from dataigm.io import atomic_write_parquet
from dataigm.nudenet_rule import nudenet_score

CACHE_NAME = "judge_scores.parquet"
CACHE_SCHEMA = pa.schema([("sha256", pa.string()), ("judge", pa.string()), ("score", pa.float64())])


@runtime_checkable
class ImageScorer(Protocol):
    name: str

    def score(self, paths: list[Path]) -> list[float]:
        """P(concept present) for each image file, in order."""
        ...


class NudeNetScorer:
    """NudeNet 3.4 detector (its bundled 320n ONNX model, offline); score = max over classes."""

    def __init__(self, classes: Sequence[str], batch_size: int = 8) -> None:
        import importlib.metadata as md

        from nudenet import NudeDetector  # the `nsfw` extra

        self.classes = sorted(classes)
        self.batch_size = batch_size
        digest = hashlib.sha1(",".join(self.classes).encode()).hexdigest()[:8]
        self.name = f"nudenet-{md.version('nudenet')}-{digest}"
        self._detector = NudeDetector()

    def score(self, paths: list[Path]) -> list[float]:
        detections = self._detector.detect_batch([str(p) for p in paths], batch_size=self.batch_size)
        return [nudenet_score(dets, self.classes) for dets in detections]


class TrainedJudgeScorer:
    """A trained dataigm judge folder (JUDGE/config.json + model.safetensors) via detectors.Judge."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        config = self.folder / "config.json"
        if not config.is_file():
            raise ConfigError(f"{self.folder}: not a judge folder (no config.json)")
        weights = self.folder / "model.safetensors"
        digest = hashlib.sha256(config.read_bytes() + (weights.read_bytes() if weights.exists() else b""))
        self.name = f"judge-{self.folder.resolve().name}-{digest.hexdigest()[:12]}"
        self._judge = None

    def score(self, paths: list[Path]) -> list[float]:
        from PIL import Image

        if self._judge is None:
            from dataigm.detectors import Judge  # lazily: the `train` extra

            self._judge = Judge.from_pretrained(str(self.folder))
        images = []
        for p in paths:
            with Image.open(p) as im:
                images.append(im.convert("RGB"))
        return [float(x) for x in self._judge.predict(images).probabilities]


def nudenet_available() -> bool:
    return importlib.util.find_spec("nudenet") is not None


def resolve_scorer(judge: str, classes: Sequence[str], batch_size: int,
                   source: str = "judge") -> ImageScorer | None:
    """Config value -> scorer; None for `none` (and for `auto` without nudenet installed)."""
    if judge == "none":
        return None
    if judge in ("auto", "nudenet"):
        if not nudenet_available():
            if judge == "auto":
                return None
            raise MissingExtraError("nsfw", "nudenet")
        return NudeNetScorer(classes, batch_size)
    path = Path(judge)
    if not path.exists():
        raise ConfigError(f"{source}: '{judge}' is not nudenet, none, auto or an existing judge folder")
    return TrainedJudgeScorer(path)


def cached_scores(scorer: ImageScorer, items: pd.DataFrame, run_dir: Path, cache_path: Path,
                  batch_size: int = 8, progress: bool = True) -> tuple[dict[str, float], int, int]:
    """Scores by sha256 for `items` (columns sha256, path); returns (scores, computed, cached)."""
    cache: dict[str, float] = {}
    old = None
    if cache_path.exists():
        try:
            old = pq.read_table(cache_path).to_pandas()
        except Exception:
            old = None
    if old is not None:
        mine = old[old["judge"] == scorer.name]
        cache = dict(zip(mine["sha256"], mine["score"].astype(float)))
    unique = items.drop_duplicates("sha256")
    todo = unique[~unique["sha256"].isin(cache)]
    shas = list(todo["sha256"])
    paths = [run_dir / str(p) for p in todo["path"]]
    fresh: dict[str, float] = {}
    bar = tqdm(total=len(shas), desc=f"curate: judge {scorer.name}", unit="img",
               disable=not progress or not shas)
    for start in range(0, len(shas), batch_size):
        scores = scorer.score(paths[start:start + batch_size])
        if len(scores) != len(paths[start:start + batch_size]):
            raise RuntimeError(f"scorer {scorer.name} returned {len(scores)} scores for "
                               f"{len(paths[start:start + batch_size])} images")
        fresh.update(zip(shas[start:start + batch_size], (float(s) for s in scores)))
        bar.update(len(scores))
    bar.close()
    if fresh:
        rows = [] if old is None else old.to_dict("records")
        rows.extend({"sha256": s, "judge": scorer.name, "score": v} for s, v in fresh.items())
        atomic_write_parquet(pa.Table.from_pylist(rows, schema=CACHE_SCHEMA), cache_path)
    cache.update(fresh)
    wanted = set(unique["sha256"])
    return {s: v for s, v in cache.items() if s in wanted}, len(fresh), len(unique) - len(todo)
