"""`dataigm export RUN --to RUN/dataset`: leak-free splits + Hugging Face dataset folder + card."""

from __future__ import annotations

import argparse
from pathlib import Path

from dataigm.errors import InputError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "export",
        help="split a RUN (leak-free) and write a Hugging Face dataset folder with its card",
        description=(
            "Assign train/validation/test splits (pairs, prompts and near-duplicate clusters never "
            "cross splits; benchmark prompts never in train), then write one parquet config per "
            "concept plus a 'prompts' config, contact sheets and a README.md card. The target is "
            "replaced atomically: a failed export leaves an earlier one untouched."
        ),
    )
    p.add_argument("run", type=Path, help="RUN folder (manifest.parquet, optionally curation/)")
    p.add_argument("--to", type=Path, default=None, help="dataset folder to write (default: RUN/dataset)")
    p.add_argument("--repo-id", default=None, help="hub repo id shown in the card's load instructions")
    p.add_argument("--split-config", type=Path, default=None,
                   help="YAML with 'fractions: {train, validation, test}' and 'seed'")
    p.add_argument("--fractions", default=None, metavar="TRAIN,VAL,TEST",
                   help="split fractions, e.g. 0.8,0.1,0.1 (overrides --split-config)")
    p.add_argument("--seed", type=int, default=None, help="split hash seed (overrides --split-config)")
    p.add_argument("--max-shard-mb", type=float, default=500.0, help="largest parquet shard in MB (default 500)")
    p.add_argument("--no-contact-sheets", action="store_true", help="skip the contact sheet PNGs")
    p.set_defaults(func=run)


def _split_config(args: argparse.Namespace) -> "object":
    from dataigm.splits import SplitConfig, load_split_config, split_config_from

    cfg = load_split_config(args.split_config) if args.split_config else SplitConfig()
    data = {"fractions": dict(cfg.fractions), "seed": cfg.seed}
    if args.fractions is not None:
        parts = args.fractions.split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            values = []
        if len(values) != 3:
            raise InputError(f"--fractions: expected three numbers TRAIN,VAL,TEST, got '{args.fractions}'")
        data["fractions"] = dict(zip(("train", "validation", "test"), values))
    if args.seed is not None:
        data["seed"] = args.seed
    return split_config_from(data, "--fractions/--seed")


def run(args: argparse.Namespace) -> int:
    from dataigm.export import export_dataset
    from dataigm.io import RunLock

    if not args.run.is_dir():
        raise InputError(f"{args.run}: RUN folder not found")
    if args.max_shard_mb <= 0:
        raise InputError(f"--max-shard-mb: must be > 0, got {args.max_shard_mb}")
    cfg = _split_config(args)
    out = args.to if args.to is not None else args.run / "dataset"
    with RunLock(args.run):
        report = export_dataset(args.run, out, cfg, repo_id=args.repo_id,
                                max_shard_bytes=int(args.max_shard_mb * 1e6),
                                contact_sheets=not args.no_contact_sheets)
    print(report.summary())
    return 0
