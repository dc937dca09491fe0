"""A judge's answers over image files, in batches: (probability, yes | no | unsure) per image.

Shared by the commands that judge plain image files outside a scorecard (labels, the prompt
effectiveness filter); the scorecard has its own cached path (ScoreContext.decisions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm


def decide(judge: Any, paths: Sequence[str | Path], batch_size: int, desc: str,
           references: Sequence[str | Path | None] | None = None, progress: bool = True) -> list[tuple[float, str]]:
    """(probability, yes | no | unsure) per image; a judge that takes references (a VLM judge)
    gets `references[i]` with image i."""
    out: list[tuple[float, str]] = []
    for start in tqdm(range(0, len(paths), batch_size), desc=desc, leave=False, disable=not progress):
        part = [str(p) for p in paths[start:start + batch_size]]
        extra = {}
        if references is not None and getattr(judge, "uses_references", False):
            extra["references"] = [str(r) if r else None for r in references[start:start + batch_size]]
        pred = judge.predict(part, batch_size=batch_size, **extra)
        unsure = pred.unsure if pred.unsure is not None else np.zeros(len(part), dtype=bool)
        out += [(float(p), "unsure" if u else "yes" if d else "no")
                for p, d, u in zip(pred.probabilities, pred.decisions, unsure)]
    return out
