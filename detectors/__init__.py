"""dataigm judges: Lightning + timm training, evaluation, export, the built-in judges, folder scoring.

`import dataigm.detectors` registers the IGMU-head architecture (`dataigm_igmu`) with timm, which
`timm.create_model("local-dir:JUDGE", pretrained=True)` needs for IGMU-head judges.
"""

from __future__ import annotations

import os
from importlib.util import find_spec

# albumentations asks pypi.org for a newer version at import time; judges run on offline and
# air-gapped machines and must make no network call of their own.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

if find_spec("timm") is not None:
    # Only with the `train` extra: NudeNet alone (the `nsfw` extra) needs neither torch nor timm.
    from dataigm.detectors import networks as _networks  # noqa: E402,F401  (registers dataigm_igmu)

from dataigm.detectors.judge import Judge, NudeNetJudge, TrainedJudge, ZeroShotClipJudge  # noqa: E402
from dataigm.detectors.scoring import score_folder, wilson_interval  # noqa: E402
from dataigm.judging import JudgePrediction  # noqa: E402

__all__ = ["Judge", "JudgePrediction", "NudeNetJudge", "TrainedJudge", "ZeroShotClipJudge", "score_folder",
           "wilson_interval"]
