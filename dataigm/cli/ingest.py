"""`dataigm ingest RUN --concept C --source NAME [--label L] PATH...`: add real or web images.

Decodes images from folders, ImageFolder trees (class folders named like the concept's labels),
parquet files with an image column, and webdataset / img2dataset tar shards, stores each once
(content-addressed) and adds manifest rows. Unusable files are rejected with a reason and listed
in RUN/ingest/<source>/rejected.parquet.
"""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, add_quiet, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("ingest", help="add real/web images (folders, ImageFolder, parquet, tars) to a RUN",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="RUN folder")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image folders, files, .parquet or .tar shards")
    p.add_argument("--concept", required=True, help="built-in concept name or concept YAML path")
    p.add_argument("--source", required=True, dest="source_name", help="source name (e.g. laion, imagenet)")
    p.add_argument("--label", help="give every image this label (otherwise from class folders / label columns)")
    p.add_argument("--source-type", choices=("real", "web"), default=None)
    p.add_argument("--licence", "--license", dest="licence", help="licence recorded for rows that have none")
    p.add_argument("--shard-size", type=int, default=None, help="manifest rows per shard (default 1000)")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.config import resolve_config
    from dataigm.ingest import IngestSource, ingest
    from dataigm.run import Run

    run_folder = Run(args.run)
    source = resolve_config(IngestSource, {}, "dataigm ingest", sets=args.sets, overrides={
        "concept": args.concept, "source": args.source_name, "label": args.label,
        "source_type": args.source_type, "licence": args.licence, "shard_size": args.shard_size,
        "paths": list(args.paths)})
    if printed_config(args, source):
        return 0
    report = ingest(run_folder, source, progress=not args.quiet)
    print(report.summary())
    return 0
