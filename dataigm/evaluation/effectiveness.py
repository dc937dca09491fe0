"""Which prompts the original model renders: the effectiveness filter of robust benchmarks.

Six-CD and EraseEval keep a forget prompt only when the original model shows the concept in most
seeds; otherwise a method gets credit for "forgetting" what was never drawn. A prompt is kept
when ORG's images of it are flagged in at least `min_flagged` (k) of its first `of` (n) seeds
(all of its images when n is 0).

Two places apply it: the scorecard (`effectiveness:` in its config: forgetting and robustness
rates count only kept prompts, and the kept count per set is a row of its own), and
`filter_prompts` (`dataigm prompts filter`), which measures it on ORG's sampled images and records
it in RUN/prompt_effectiveness.parquet: `export` then marks the dataset's prompts config
(`effective`, `effective_flagged`, `effective_of`), its card says how many prompts of each set
were kept, and `sample` leaves the others out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dataigm.errors import InputError
from dataigm.evaluation.judged import decide
from dataigm.evaluation.layout import discover
from dataigm.evaluation.prompts import DATASET_SETS
from dataigm.io import atomic_write_parquet
from dataigm.run import Run
from dataigm.taxonomy import load_concept


def kept_prompts(decisions: pd.DataFrame, min_flagged: int, of: int = 0) -> tuple[set[str], pd.Series]:
    """(kept prompts, flagged count per prompt) from one set's decisions of ORG (columns
    `cluster`: the prompt, `image_index`, `decision`)."""
    d = decisions[decisions["image_index"] < of] if of else decisions
    flagged = d.groupby("cluster")["decision"].sum().astype(int)
    return set(flagged.index[flagged >= min_flagged]), flagged


def rule_text(min_flagged: int, of: int) -> str:
    return f"ORG flagged in >= {min_flagged} of {'the first ' + str(of) if of else 'all'} seeds"


@dataclass
class FilterConfig:
    """Settings of `dataigm prompts filter`."""

    concept: str = ""
    judge: str = ""                    # the judge that decides whether ORG shows the concept
    min_flagged: int = 2               # k
    of: int = 0                        # n: the first n seeds of each prompt (0: all of them)
    reference_method: str = "ORG"
    sets: list[str] = field(default_factory=list)   # default: forget and every attack set sampled
    run: str = ""                      # the RUN whose dataset export marks the prompts
    batch_size: int = 32
    device: str = "cpu"

    def validate(self) -> None:
        if not self.concept or not self.judge:
            raise ValueError("concept and judge: both required (--concept, --judge)")
        if not self.run:
            raise ValueError("run: the RUN folder whose prompts config is filtered (--run)")
        if self.min_flagged < 1 or self.of < 0 or (self.of and self.min_flagged > self.of):
            raise ValueError(f"min_flagged: must be >= 1 and at most `of` seeds, got {self.min_flagged} of {self.of}")


@dataclass
class FilterReport:
    path: Path
    per_set: dict[str, tuple[int, int]]
    rule: str

    def summary(self) -> str:
        sets = ", ".join(f"{s}: {k} of {n} kept" for s, (k, n) in sorted(self.per_set.items()))
        return f"{self.rule}: {sets} -> {self.path} (export the RUN again to mark its prompts config)"


def filter_prompts(root: str | Path, config: FilterConfig, progress: bool = True) -> FilterReport:
    """Measure which prompts ORG renders in a `dataigm sample` root and record it in the RUN."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataigm.judging import load_judge

    run = Run(config.run)
    run.require_folder()
    spec = load_concept(config.concept)
    table = discover(root, spec.name)
    if table.layout != "dataigm sample":
        raise InputError(f"{root}: prompts filter reads `dataigm sample` output (its prompt ids are the dataset's); "
                         f"this is a {table.layout} layout")
    org = next((m for m in table.methods if m.lower() == config.reference_method.lower()), None)
    if org is None:
        raise InputError(f"{root}: no folder for the original model '{config.reference_method}'")
    judge = load_judge(config.judge, concept=spec.name, device=config.device)
    sets = config.sets or ["forget"] + [s for s in table.prompt_sets(spec.name) if s not in DATASET_SETS]
    rows: list[dict[str, Any]] = []
    per_set: dict[str, tuple[int, int]] = {}
    for prompt_set in sets:
        frame = table.select(org, spec.name, prompt_set).reset_index(drop=True)
        if frame.empty:
            raise InputError(f"{root}: {org} has no images of prompt set '{prompt_set}' for {spec.name}")
        answers = decide(judge, frame["path"].tolist(), config.batch_size, f"{judge.name} {org}/{prompt_set}",
                         progress=progress)
        frame["decision"] = [a == "yes" for _, a in answers]
        kept, flagged = kept_prompts(frame, config.min_flagged, config.of)
        seen = frame[frame["image_index"] < config.of] if config.of else frame
        counts = seen.groupby("cluster").size()
        for prompt_id in sorted(counts.index):
            rows.append({"prompt_id": prompt_id, "concept": spec.name, "prompt_set": prompt_set,
                         "effective": prompt_id in kept, "effective_flagged": int(flagged.get(prompt_id, 0)),
                         "effective_of": int(counts[prompt_id]), "rule": rule_text(config.min_flagged, config.of),
                         "judge": judge.name})
        per_set[prompt_set] = (len(kept), len(counts))
    with run.lock():
        old = pq.read_table(run.effectiveness_path).to_pylist() if run.effectiveness_path.exists() else []
        replaced = {(r["concept"], r["prompt_set"]) for r in rows}
        merged = [r for r in old if (r["concept"], r["prompt_set"]) not in replaced] + rows
        atomic_write_parquet(pa.Table.from_pylist(sorted(merged, key=lambda r: r["prompt_id"])), run.effectiveness_path)
    return FilterReport(run.effectiveness_path, per_set, rule_text(config.min_flagged, config.of))
