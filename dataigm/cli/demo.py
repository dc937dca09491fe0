"""`dataigm demo`: the whole flow on the built-in default (toyworld, tiny judges) in minutes."""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, add_quiet, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("demo", help="build the demo DataIGM, train and score judges, write RUN/report.html")
    p.add_argument("--out", default="runs/demo", help="the RUN folder (default runs/demo)")
    p.add_argument("--preset", default="demo", help="the dataset preset (default demo: toyworld, CPU, minutes)")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.preset import load_preset
    from dataigm.run import Run

    run_folder = Run(args.out)
    preset = load_preset(args.preset, sets=args.sets)
    if printed_config(args, preset):
        return 0
    from dataigm.pipelines.demo import run_demo

    report = run_demo(run_folder, preset, progress=not args.quiet)
    dataset = run_folder.dataset_dir
    print(f"\ndemo finished in {report.seconds:.0f} s")
    print(f"  report:   {report.report_html}")
    print(f"  dataset:  {dataset}  (load_dataset('{dataset}', 'object_church'))")
    print(f"  judges:   {run_folder.judge_dir('<concept>')}  (dataigm.detectors.Judge.from_pretrained(...))")
    print(f"  scores:   {run_folder.scores_dir('<concept>', '<judge>')}/summary.json")
    if report.scorecard:
        print(f"  scorecard: {run_folder.root / report.scorecard['html']}  (simulated methods; "
              f"{sum(bool(c['caught']) for c in report.scorecard['caught'])} checks passed)")
    print("forgetting (share of images still showing the concept):")
    for r in report.forgetting:
        print(f"  {r['concept']:<18} {r['judge']:<8} {r['method']:<12} {r['share']:.3f} "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] (n={r['n']})")
    return 0
