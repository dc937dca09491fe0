"""`dataigm scorecard ROOT --concept C --judge J [--judge J2 ...] --out OUT`: EvalIGMU per method.

ROOT holds ORG (the original model) and every method: `dataigm sample` output, or a public
benchmark layout (a forget folder and a reference or unrelated folder, each with one subfolder
per method; nested category folders under the unrelated folder; the same file name means the
same prompt and seed), scored without renaming. Writes OUT/scorecard.parquet, scorecard.json (one
row per method x concept x metric, with its interval) and scorecard.html. Metric models:
features.backbone (inception | timm:<model> | clip:<model>), lpips.net, clip.model; a model that
cannot be loaded makes its metrics 'unavailable' with the reason. Every prompt set that is not
a dataset's own (attack, synonym, language sets) is a robustness axis (pre- and post-ASR); the
`neighbour` set feeds the neighbour matrix; `effectiveness.min_flagged` keeps only the prompts ORG
renders. Rerun to resume.
"""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, add_quiet, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("scorecard", help="score ORG and unlearned models: forgetting, preservation, alignment, "
                                         "subject kept, robustness, with intervals and a report",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="folder with ORG and the methods' images (sample output or a public layout)")
    p.add_argument("--concept", action="append", default=None, help="concept name or YAML (repeatable)")
    p.add_argument("--judge", action="append", default=None,
                   help="judge reference (nudenet | clip:MODEL | judge folder | hub id); CONCEPT=REF for one "
                        "concept only; repeatable")
    p.add_argument("--out", required=True, help="the scorecard folder")
    p.add_argument("--config", help="YAML with scorecard settings (features, lpips, clip, subject, bootstrap, ...)")
    p.add_argument("--reference-method", help="the original model's folder name (default ORG)")
    p.add_argument("--prompts", help="prompt file giving the prompt text of each file stem (public layouts)")
    p.add_argument("--features", help="FID/KID features: inception | timm:<model> | clip:<model>")
    p.add_argument("--clip", help="the CLIP for alignment and the subject check (hub id or folder)")
    p.add_argument("--labels", action="append", default=None, metavar="LABELS",
                   help="a `dataigm labels import` folder: its judges' sensitivity and specificity measured against "
                        "people correct the rates (repeatable)")
    p.add_argument("--device", help="cpu or cuda")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.config import read_yaml, resolve_config
    from dataigm.evaluation.scorecard import ScorecardConfig, scorecard

    data = read_yaml(args.config) if args.config else {}
    config = resolve_config(ScorecardConfig, data, args.config or "dataigm scorecard", sets=args.sets, overrides={
        "concepts": args.concept, "judges": args.judge, "reference_method": args.reference_method,
        "prompts": args.prompts, "features.backbone": args.features, "clip.model": args.clip,
        "human_labels": args.labels,
        "device": args.device})
    if printed_config(args, config):
        return 0
    report = scorecard(args.root, args.out, config, progress=not args.quiet)
    print(report.table())
    print(f"{'unchanged, kept' if report.resumed else 'written'}: {report.out}/scorecard.html, scorecard.parquet, "
          "scorecard.json")
    return 0
