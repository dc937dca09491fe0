"""`dataigm judge`: score a folder of generated images with a judge (share flagged + Wilson CI)."""

from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("judge", help="score a folder of images: share still showing the concept, 95%% CI")
    p.add_argument("--judge", required=True, help="judge folder | hub id | nudenet | clip:MODEL")
    p.add_argument("--images", required=True, help="folder of images (nested; one subfolder per method allowed)")
    p.add_argument("--concept", default=None, help="concept name (needed by clip:MODEL zero-shot judges)")
    p.add_argument("--out", default=None, help="report folder (default IMAGES-judge next to the folder)")
    p.add_argument("--threshold", type=float, default=None, help="override the judge's decision threshold")
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dataigm.detectors.judge import Judge
    from dataigm.detectors.scoring import score_folder, write_report

    judge = Judge.from_pretrained(args.judge, concept=args.concept, threshold=args.threshold)
    result = score_folder(judge, args.images, batch_size=args.batch_size)
    images = Path(args.images)
    out = Path(args.out) if args.out else images.parent / f"{images.resolve().name}-judge"
    write_report(result, out)
    print(result.table())
    print(f"per-image scores written to {out / 'scores.csv'}")
    return 0
