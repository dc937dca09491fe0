"""`dataigm export RUN --to DATASET`: split and write a Hugging Face dataset folder with a card."""

from __future__ import annotations

import argparse
from pathlib import Path

from dataigm.cli._args import add_config_args, add_quiet, printed_config
from dataigm.errors import InputError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "export",
        help="write RUN as a Hugging Face dataset folder (parquet + README card), leak-free splits",
        description=(
            "Read RUN/curation/kept.parquet (or RUN/manifest.parquet), assign leak-free splits (pairs, "
            "prompts and near-duplicate clusters never cross splits; benchmark prompts never in train), "
            "then write one parquet config per concept plus a 'prompts' config (when the run has prompts), "
            "contact sheets (pixelated for nsfw concepts) and a "
            "README.md card. Splits a source declared are kept (a conflict is an error naming the rows); a "
            "split that misses its fraction by more than 2 points is a warning naming the group. The target "
            "is replaced atomically: a failed export leaves an earlier one untouched. Settings: the export "
            "section of the preset the RUN was built with."
        ),
    )
    p.add_argument("run", type=Path, help="RUN folder (manifest.parquet, optionally curation/)")
    p.add_argument("--to", type=Path, default=None, help="dataset folder to write (default: RUN/dataset)")
    p.add_argument("--repo-id", default=None, help="hub repo id shown in the card's load instructions")
    p.add_argument("--split-config", type=Path, default=None,
                   help="YAML with 'fractions: {train, validation, test}' and 'seed'")
    p.add_argument("--fractions", default=None, metavar="TRAIN,VAL,TEST",
                   help="split fractions, e.g. 0.8,0.1,0.1 (same as --set split.fractions...)")
    p.add_argument("--seed", type=int, default=None, help="split hash seed (same as --set split.seed=N)")
    p.add_argument("--max-shard-mb", type=float, default=None, help="largest parquet shard in MB (default 500)")
    p.add_argument("--no-contact-sheets", action="store_true", help="skip the contact sheet PNGs")
    p.add_argument("--pixelate", choices=("nsfw", "all", "none"), default=None, dest="pixelate",
                   help="which contact sheets are pixelated (default nsfw: those of nsfw-domain concepts; "
                        "none only for local review)")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def _fractions(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise InputError(f"--fractions: expected three numbers TRAIN,VAL,TEST, got '{text}'")
    return dict(zip(("train", "validation", "test"), values))


def run(args: argparse.Namespace) -> int:
    from dataigm.config import read_yaml, resolve_config
    from dataigm.export import ExportConfig, export_dataset
    from dataigm.run import Run

    run_folder = Run(args.run)
    data = run_folder.preset_section("export")
    overrides = {"split": read_yaml(args.split_config) if args.split_config else None,
                 "split.fractions": _fractions(args.fractions), "split.seed": args.seed,
                 "max_shard_mb": args.max_shard_mb, "repo_id": args.repo_id,
                 "contact_sheets": False if args.no_contact_sheets else None,
                 "contact_sheet_pixelate": args.pixelate}
    config = resolve_config(ExportConfig, data, f"{run_folder.info_path} (preset export section)",
                            sets=args.sets, overrides=overrides)
    if printed_config(args, config):
        return 0
    run_folder.require_folder()
    with run_folder.lock():
        report = export_dataset(run_folder, args.to, config, progress=not args.quiet)
    print(report.summary())
    return 0
