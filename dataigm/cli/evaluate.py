"""`dataigm evaluate`: re-evaluate a judge on a dataset (metrics, slices, plots)."""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.cli._args import add_config_args, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("evaluate", help="evaluate a judge on a dataset: metrics, slices, ROC and reliability plots")
    p.add_argument("--judge", required=True, help="judge folder or hub id")
    p.add_argument("--data", required=True, help="exported dataset folder or hub id")
    p.add_argument("--out", default=None, help="folder for metrics.json, roc.png, reliability.png (default JUDGE/eval)")
    p.add_argument("--concept", default=None, help="dataset config (default: the judge's concept)")
    p.add_argument("--rethreshold", action="store_true",
                   help="choose a new threshold on this dataset's validation split instead of the judge's own")
    p.add_argument("--rule", default=None, choices=["max_f1", "target_fpr"], help="threshold rule with --rethreshold")
    p.add_argument("--target-fpr", type=float, default=None)
    p.add_argument("--device", default=None, help="auto (the GPU when there is one), cpu, cuda or cuda:N")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from dataigm.config import resolve_config
    from dataigm.detectors.config import EvaluateConfig
    from dataigm.judge_folder import JudgeFolder

    cfg = resolve_config(EvaluateConfig, {}, "dataigm evaluate", sets=args.sets, overrides={
        "concept": args.concept, "rethreshold": args.rethreshold or None, "rule": args.rule,
        "target_fpr": args.target_fpr, "device": args.device})
    if printed_config(args, cfg):
        return 0
    # A local judge is locked while it is read and its eval/ written: a train or publish on the
    # same folder is refused meanwhile (and this is refused while they run).
    local = Path(args.judge).is_dir()
    with JudgeFolder(args.judge).lock() if local else contextlib.nullcontext():
        return _evaluate(args, cfg, local)


def _evaluate(args: argparse.Namespace, cfg: Any, local: bool) -> int:
    from pathlib import Path

    from dataigm.detectors.data import JudgeDataModule
    from dataigm.detectors.evaluate import evaluate, format_report
    from dataigm.detectors.judge import TrainedJudge
    from dataigm.devices import resolve_device
    from dataigm.errors import InputError
    from dataigm.judge_folder import JudgeFolder

    device = resolve_device(cfg.device)
    judge = TrainedJudge.from_pretrained(args.judge, device=device)
    concept = cfg.concept or judge.concept
    if not concept:
        raise InputError(f"{args.judge}: judge config names no concept; pass --concept")
    pc = judge.config.get("pretrained_cfg", {})
    data_config = {"input_size": tuple(pc["input_size"]), "mean": tuple(pc["mean"]), "std": tuple(pc["std"]),
                   "interpolation": pc.get("interpolation", "bilinear")}
    dm = JudgeDataModule(args.data, concept, data_config)
    if dm.label_names != judge.label_names:
        raise InputError(f"{args.data}: concept {concept!r} labels {dm.label_names} differ from the judge's {judge.label_names}")
    out = Path(args.out) if args.out else (JudgeFolder(args.judge).eval_dir if local else Path("eval"))
    report = evaluate(judge.network, dm, cfg.rule, cfg.target_fpr, out_dir=out, batch_size=cfg.batch_size,
                      device=device,
                      threshold=None if cfg.rethreshold or len(judge.label_names) != 2 else judge.threshold)
    print(format_report(report))
    print(f"metrics written to {out / 'metrics.json'}")
    return 0
