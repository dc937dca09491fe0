"""`dataigm judge`: score a folder of generated images with a judge (share flagged + Wilson CI)."""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("judge", help="score a folder of images: share still showing the concept, 95%% CI")
    p.add_argument("--judge", required=True,
                   help="judge folder | hub id | hf-hub:ORG/NAME | nudenet | clip:MODEL | a registered judge")
    p.add_argument("--images", required=True, help="folder of images (nested; one subfolder per method allowed)")
    p.add_argument("--out", default=None, help="report folder (default IMAGES-judge next to the folder)")
    p.add_argument("--concept", default=None, help="concept name (needed by clip:MODEL zero-shot judges)")
    p.add_argument("--threshold", type=float, default=None, help="override the judge's decision threshold")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None, help="auto (the GPU when there is one), cpu, cuda or cuda:N")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dataigm.config import resolve_config
    from dataigm.detectors.config import ScoreConfig

    cfg = resolve_config(ScoreConfig, {}, "dataigm judge", sets=args.sets, overrides={
        "concept": args.concept, "threshold": args.threshold, "batch_size": args.batch_size, "device": args.device})
    if printed_config(args, cfg):
        return 0
    from dataigm.detectors.scoring import score_folder, write_report
    from dataigm.judging import load_judge

    judge = load_judge(args.judge, concept=cfg.concept, threshold=cfg.threshold, device=cfg.device)
    result = score_folder(judge, args.images, batch_size=cfg.batch_size)
    images = Path(args.images)
    out = Path(args.out) if args.out else images.parent / f"{images.resolve().name}-judge"
    write_report(result, out)
    print(result.table())
    print(f"per-image scores written to {out / 'scores.csv'}")
    return 0
