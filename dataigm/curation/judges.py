"""Judges for the judge-agreement step, and their score cache.

Any judge of the Judge protocol (dataigm.judging) can check a concept's labels: NudeNet (IGMU's
rule), a trained dataigm judge folder or hub id, zero-shot CLIP, or a registered judge. Scores
are cached in RUN/curation/judge_scores.parquet keyed by (sha256, judge identity), so
re-curating with another threshold or action never rescores.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataigm.curation.config import ConceptJudgeConfig
from dataigm.errors import MissingExtraError
from dataigm.io import atomic_write_parquet
from dataigm.judging import Judge, load_judge
from dataigm.run import Run

CACHE_NAME = "judge_scores.parquet"
CACHE_SCHEMA = pa.schema([("sha256", pa.string()), ("judge", pa.string()), ("score", pa.float64())])


def nudenet_available() -> bool:
    return importlib.util.find_spec("nudenet") is not None


def resolve_judge(cfg: ConceptJudgeConfig, concept: str) -> Judge | None:
    """The configured judge; None for `none` (and for `auto` without nudenet installed)."""
    if cfg.judge == "none":
        return None
    ref = "nudenet" if cfg.judge == "auto" else cfg.judge
    if ref == "nudenet" and not nudenet_available():
        if cfg.judge == "auto":
            return None
        raise MissingExtraError("nsfw", "nudenet")
    return load_judge(ref, concept=concept, threshold=cfg.threshold, device=cfg.device,
                      **({"classes": cfg.nudenet_classes} if ref == "nudenet" else {}))


def cached_scores(judge: Judge, items: pd.DataFrame, run: Run, cache_path: Path,
                  batch_size: int = 8, progress: bool = True) -> tuple[dict[str, float], int, int]:
    """Scores by sha256 for `items` (columns sha256, path); returns (scores, computed, cached)."""
    cache: dict[str, float] = {}
    old = None
    if cache_path.exists():
        try:
            old = pq.read_table(cache_path).to_pandas()
        except Exception:  # a damaged cache is recomputed, never trusted
            old = None
    if old is not None:
        mine = old[old["judge"] == judge.identity]
        cache = dict(zip(mine["sha256"], mine["score"].astype(float)))
    unique = items.drop_duplicates("sha256")
    todo = unique[~unique["sha256"].isin(cache)]
    shas = list(todo["sha256"])
    paths = [run.file(str(p)) for p in todo["path"]]
    fresh: dict[str, float] = {}
    bar = tqdm(total=len(shas), desc=f"curate: judge {judge.name}", unit="img",
               disable=not progress or not shas)
    for start in range(0, len(shas), batch_size):
        batch = paths[start:start + batch_size]
        scores = judge.predict(batch, batch_size=batch_size).probabilities
        if len(scores) != len(batch):
            raise RuntimeError(f"judge {judge.name} returned {len(scores)} scores for {len(batch)} images")
        fresh.update(zip(shas[start:start + batch_size], (float(s) for s in scores)))
        bar.update(len(batch))
    bar.close()
    if fresh:
        rows = [] if old is None else old.to_dict("records")
        rows.extend({"sha256": s, "judge": judge.identity, "score": v} for s, v in fresh.items())
        atomic_write_parquet(pa.Table.from_pylist(rows, schema=CACHE_SCHEMA), cache_path)
    cache.update(fresh)
    wanted = set(unique["sha256"])
    return {s: v for s, v in cache.items() if s in wanted}, len(fresh), len(unique) - len(todo)
