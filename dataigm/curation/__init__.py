"""Curation: validate -> exact dedup -> near dedup -> quality -> judge agreement -> review.

`curate(run_dir, config)` reads RUN/manifest.parquet and writes RUN/curation/{kept,dropped}.parquet
and report.json; see runner.py. Config: `CurationConfig` (the `curation:` section of a preset).
"""

from dataigm.curation.config import CurationConfig
from dataigm.curation.judges import ImageScorer
from dataigm.curation.runner import CurationReport, curate

__all__ = ["CurationConfig", "CurationReport", "ImageScorer", "curate"]
