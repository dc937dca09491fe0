"""`dataigm curate RUN [--config FILE] [--set key=value ...]`: keep/drop manifests with reasons."""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.errors import ConfigError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "curate",
        help="validate, deduplicate, filter and judge-check RUN/manifest.parquet",
        description="Runs validation, exact and near-duplicate removal, quality filters, judge "
                    "agreement and review overrides over RUN/manifest.parquet; writes "
                    "RUN/curation/kept.parquet, dropped.parquet and report.json. Images are never "
                    "rewritten; hashes and judge scores are cached, so re-curating is fast.",
    )
    p.add_argument("run", help="RUN folder")
    p.add_argument("--config", help="YAML with the curation settings (or a preset with a 'curation:' section)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. near_dedup.radius=6 or review.file=review.csv")
    p.add_argument("--review", help="review overrides file (same as --set review.file=FILE)")
    p.set_defaults(func=run)


def build_config(config_file: str | None, sets: list[str], review: str | None = None,
                 run_dir: str | None = None) -> Any:
    """The CurationConfig from a YAML file (default: the curation section of the preset the RUN
    was generated with, recorded in RUN/run.json) plus dotted KEY=VALUE overrides."""
    import json
    from pathlib import Path

    import yaml

    from dataigm.config import load_dataclass, read_yaml
    from dataigm.curation.config import CurationConfig

    data: Any = {}
    source = "--set"
    run_json = Path(run_dir) / "run.json" if run_dir else None
    if not config_file and run_json is not None and run_json.exists():
        # Re-curating a RUN keeps the settings it was built with (the demo preset, for
        # instance, switches NudeNet agreement off for its abstract nudity proxy).
        data = json.loads(run_json.read_text(encoding="utf-8")).get("preset", {}).get("curation") or {}
        source = f"{run_json} (preset curation section)"
    if config_file:
        data = read_yaml(config_file) or {}
        source = config_file
        if isinstance(data, dict) and "curation" in data:
            data = data["curation"] or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: expected a mapping of curation settings")
    if review:
        sets = [*sets, f"review.file={review}"]
    for item in sets:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set: expected KEY=VALUE, got '{item}'")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    if sets and config_file:
        source = f"{config_file} (with --set)"
    return load_dataclass(CurationConfig, data, source)


def run(args: argparse.Namespace) -> int:
    from dataigm.curation import curate

    config = build_config(args.config, args.set, args.review, run_dir=args.run)
    report = curate(args.run, config)
    print(report.summary())
    return 0
