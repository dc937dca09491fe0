"""Curation: validate -> exact dedup -> near dedup -> quality -> judge agreement -> review.

`curate(run_dir, config)` reads RUN/manifest.parquet and writes RUN/curation/{kept,dropped}.parquet
and report.json; see runner.py. Config: `CurationConfig` (the `curation:` section of a preset).
"""

from dataigm.curation.config import CURATION_STEPS, CurationConfig
from dataigm.curation.runner import CurationReport, curate

__all__ = ["CURATION_STEPS", "CurationConfig", "CurationReport", "curate"]
