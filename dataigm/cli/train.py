"""`dataigm train`: train a concept judge on an exported dataset and write the JUDGE folder."""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("train", help="train a concept judge (Lightning + timm) and export it")
    p.add_argument("--data", help="exported dataset folder or hub id (same as --set dataset=...)")
    p.add_argument("--concept", help="dataset config name, e.g. object_church")
    p.add_argument("--out", help="judge folder to write (written whole: an interrupted run leaves the old judge)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the dataigm judge already in --out (same as --set overwrite=true)")
    p.add_argument("--preset", default="demo", help="demo | paper | path to a judge preset YAML (default demo)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-epochs", type=int, default=None, help="same as --set optim.max_epochs=N")
    p.add_argument("--device", default=None,
                   help="auto (the GPU when there is one), cpu, cuda or cuda:N; encoding and evaluation run there too")
    p.add_argument("--devices", type=int, default=None, help="number of devices (with --strategy ddp)")
    p.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    p.add_argument("--cache-dir", default=None, help="frozen-feature cache (default ~/.cache/dataigm/features)")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.detectors.config import load_train_config

    cfg = load_train_config(args.preset, sets=args.sets, **{
        "dataset": args.data, "concept": args.concept, "out": args.out, "seed": args.seed,
        "overwrite": True if args.overwrite else None,
        "cache_dir": args.cache_dir, "optim.max_epochs": args.max_epochs,
        "trainer.device": args.device, "trainer.devices": args.devices, "trainer.strategy": args.strategy})
    if printed_config(args, cfg):
        return 0
    from dataigm.detectors.evaluate import format_report
    from dataigm.detectors.train import train

    result = train(cfg)
    if result.report:
        print(format_report(result.report))
        print(f"judge written to {result.out}")
    return 0
