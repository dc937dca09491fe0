"""`dataigm curate RUN [--config FILE] [--set key=value ...]`: keep/drop manifests with reasons.

Runs validation, exact and near-duplicate removal, quality filters, judge agreement and review
overrides over RUN/manifest.parquet; writes RUN/curation/kept.parquet, dropped.parquet and
report.json. Images are never rewritten; hashes and judge scores are cached, so re-curating is
fast. Settings: the curation section of the preset the RUN was built with, or --config.
"""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.cli._args import add_config_args, add_quiet, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("curate", help="validate, deduplicate, filter and judge-check RUN/manifest.parquet",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="RUN folder")
    p.add_argument("--config", help="YAML with the curation settings (or a preset with a 'curation:' section)")
    p.add_argument("--review", help="review overrides file (same as --set review.file=FILE)")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def curation_config(run_folder: Any, config_file: str | None, sets: list[str], review: str | None = None) -> Any:
    """The CurationConfig: a YAML file (default: the curation section of the preset the RUN was
    built with, recorded in RUN/run.json), then --review and --set, validated once."""
    from dataigm.config import read_yaml, resolve_config
    from dataigm.curation.config import CurationConfig
    from dataigm.errors import ConfigError

    if config_file:
        data = read_yaml(config_file) or {}
        if isinstance(data, dict) and "curation" in data:
            data = data["curation"] or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: expected a mapping of curation settings")
        source = config_file
    else:
        # Re-curating a RUN keeps the settings it was built with (the demo preset, for
        # instance, switches NudeNet agreement off for its abstract nudity proxy).
        data, source = run_folder.preset_section("curation"), f"{run_folder.info_path} (preset curation section)"
    return resolve_config(CurationConfig, data, source, sets=sets, overrides={"review.file": review})


def run(args: argparse.Namespace) -> int:
    from dataigm.curation import curate
    from dataigm.run import Run

    run_folder = Run(args.run)
    config = curation_config(run_folder, args.config, args.sets, args.review)
    if printed_config(args, config):
        return 0
    report = curate(run_folder, config, progress=not args.quiet)
    print(report.summary())
    return 0
