"""`dataigm labels export|import`: check judges against people.

  export IMAGES --concept C --judge J [--judge J2] --out LABELS
      a stratified sample of the images (by top folder and the judges' decisions) for people to label:
      LABELS/labelling.html (images, shuffled, no judge's answer shown; nsfw concepts pixelated unless
      --pixelate none) and LABELS/labels.csv to fill in (label: present / absent, 1 / 0, or empty).
  import LABELS [--judge J ...]
      each judge against the people: accuracy, precision, recall, specificity and Cohen's kappa, and the
      agreement between judges, with intervals (LABELS/validation.json, validation.html). The results go
      into the card of every dataigm judge folder given, which `dataigm scorecard` then uses to correct
      its rates; for other judges, pass `--set human_labels=[LABELS]` to the scorecard.
"""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, add_quiet, positive_int, run_configured


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("labels", help="check judges against people: a sample to label, then each judge's agreement",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    ex = actions.add_parser("export", help="a stratified sample of images for people to label (HTML page + CSV)")
    ex.add_argument("images", nargs="?", help="a folder of images (a sample root, a public layout, any folder)")
    ex.add_argument("--out", required=True, help="the labelling folder")
    ex.add_argument("--concept", help="concept name or YAML")
    ex.add_argument("--judge", action="append", default=None, help="judge reference (repeatable)")
    ex.add_argument("--per-stratum", type=positive_int, help="images per (folder, judges' decisions) stratum (default 8)")
    ex.add_argument("--pixelate", choices=("nsfw", "all", "none"), help="pixelate the copies shown (default nsfw)")
    ex.add_argument("--overwrite", action="store_true", help="draw a new sample over a CSV that holds labels")
    ex.add_argument("--device", help="cpu or cuda")
    add_config_args(ex)
    add_quiet(ex)
    ex.set_defaults(func=run_export)
    im = actions.add_parser("import", help="the filled CSV -> each judge against the people, into the judges' cards")
    im.add_argument("folder", metavar="LABELS", help="the labelling folder labels export wrote")
    im.add_argument("--labels", help="the filled CSV (default LABELS/labels.csv)")
    im.add_argument("--judge", action="append", default=None,
                    help="judge reference (repeatable; default: the judges the sample was drawn with)")
    im.add_argument("--images", help="where the images are now, if they moved since the export")
    im.add_argument("--no-cards", action="store_true", help="leave the judges' cards as they are")
    im.add_argument("--device", help="cpu or cuda")
    add_config_args(im)
    add_quiet(im)
    im.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> int:
    from dataigm.errors import InputError
    from dataigm.evaluation.labels import LabelsExportConfig, export_for_labelling

    def act(config: LabelsExportConfig) -> str:
        if not args.images:
            raise InputError("labels export: give the folder of images to sample from")
        return export_for_labelling(args.images, args.out, config, progress=not args.quiet).summary()

    return run_configured(args, LabelsExportConfig, "dataigm labels export", {
        "concept": args.concept, "judges": args.judge, "per_stratum": args.per_stratum, "pixelate": args.pixelate,
        "overwrite": True if args.overwrite else None, "device": args.device}, act)


def run_import(args: argparse.Namespace) -> int:
    from dataigm.evaluation.labels import LabelsImportConfig, import_labels

    return run_configured(args, LabelsImportConfig, "dataigm labels import", {
        "labels": args.labels, "judges": args.judge, "images": args.images,
        "update_cards": False if args.no_cards else None, "device": args.device},
        lambda config: import_labels(args.folder, config, progress=not args.quiet).table())
