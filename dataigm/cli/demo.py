"""`dataigm demo`: the whole flow on the built-in default (toyworld, tiny judges) in minutes."""

from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("demo", help="build the demo DataIGM, train and score judges, write RUN/report.html")
    p.add_argument("--out", default="runs/demo", help="the RUN folder (default runs/demo)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    report = run_demo(args.out, progress=not args.quiet)
    out = report.run_dir
    print(f"\ndemo finished in {report.seconds:.0f} s")
    print(f"  report:   {report.report_html}")
    print(f"  dataset:  {out / 'dataset'}  (load_dataset('{out / 'dataset'}', 'object_church'))")
    print(f"  judges:   {out / 'judges'}/<concept>  (detectors.Judge.from_pretrained(...))")
    print(f"  scores:   {out / 'scores'}/<concept>/<judge>/summary.json")
    print("forgetting (share of images still showing the concept):")
    for r in report.forgetting:
        print(f"  {r['concept']:<18} {r['judge']:<8} {r['method']:<12} {r['share']:.3f} "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] (n={r['n']})")
    return 0
