"""dataigm judges: Lightning + timm training, evaluation, export, the Judge API, folder scoring.

`import dataigm.detectors` registers the IGMU-head architecture (`dataigm_igmu`) with timm, which
`timm.create_model("local-dir:JUDGE", pretrained=True)` needs for IGMU-head judges.
"""

from __future__ import annotations

import os

# albumentations asks pypi.org for a newer version at import time; judges run on offline and
# air-gapped machines and must make no network call of their own.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from dataigm.detectors import networks as _networks  # noqa: E402,F401  (registers dataigm_igmu with timm)
from dataigm.detectors.judge import Judge, JudgePrediction, NudeNetJudge, TrainedJudge, ZeroShotClipJudge
from dataigm.detectors.scoring import score_folder, wilson_interval

__all__ = ["Judge", "JudgePrediction", "NudeNetJudge", "TrainedJudge", "ZeroShotClipJudge", "score_folder",
           "wilson_interval"]
