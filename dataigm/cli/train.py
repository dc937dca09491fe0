"""`dataigm train`: train a concept judge on an exported dataset and write the JUDGE folder."""

from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("train", help="train a concept judge (Lightning + timm) and export it")
    p.add_argument("--data", required=True, help="exported dataset folder or hub id")
    p.add_argument("--concept", required=True, help="dataset config name, e.g. object_church")
    p.add_argument("--out", required=True, help="judge folder to write")
    p.add_argument("--preset", default="demo", help="demo | paper | path to a judge preset YAML (default demo)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--devices", type=int, default=None, help="number of devices (with --strategy ddp)")
    p.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    p.add_argument("--cache-dir", default=None, help="frozen-feature cache (default ~/.cache/dataigm/features)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.detectors.config import load_train_config
    from dataigm.detectors.evaluate import format_report
    from dataigm.detectors.train import train

    cfg = load_train_config(args.preset, dataset=args.data, concept=args.concept, out=args.out, seed=args.seed,
                            cache_dir=args.cache_dir)
    if args.max_epochs is not None:
        cfg.optim.max_epochs = args.max_epochs
    if args.devices is not None:
        cfg.trainer.devices = args.devices
    if args.strategy is not None:
        cfg.trainer.strategy = args.strategy
    result = train(cfg)
    if result.report:
        print(format_report(result.report))
        print(f"judge written to {result.out}")
    return 0
