"""`dataigm ingest RUN --concept C --source NAME [options] PATH...`: add real, web or generated images.

Reads folders, ImageFolder and release trees (`<concept>/{train,test}/<label>/<file>`), parquet
files with an image column and webdataset / img2dataset tar shards. Clean JPEG, PNG and WebP
files are stored byte for byte (identity = sha256 of the source bytes, extension by real format);
only images that need normalising are re-encoded, and their row says why. Unusable files are
rejected with a reason and listed in RUN/ingest/<source>/rejected.parquet. A rerun over
unchanged inputs reads and decodes nothing.

Provenance is declared, per source and per file:

  --source-type generated --generator stable-diffusion --model-id CompVis/stable-diffusion-v1-4
  --licence cc-by-4.0 --licence-url URL --origin-url URL    (the upstream data set or page)
  --source-map 'SD-GEN_*=sd14:generated,generator=stable-diffusion,licence=creativeml-openrail-m'
  --source-map 'LAION_*=laion:web,licence=cc-by-4.0,origin_url=https://laion.ai/blog/laion-5b/'

A --source-map rule is PATTERN=NAME[:TYPE][,key=value...]: files whose name or path relative to
the ingested folder matches the glob PATTERN get source name NAME (and type TYPE, and the fields
given: generator, model_id, licence, licence_url, origin_url). The first matching rule wins.

The source's own split and pairs: --split-from-folders keeps the split that `train`,
`validation`/`val` or `test` folders above a file (or a parquet `split` column) declare;
--pair-by stem makes files with the same stem under different label folders one pair (a parquet
`pair_id` column always does).
"""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.cli._args import add_config_args, add_quiet, printed_config
from dataigm.errors import InputError

RULE_KEYS = ("source_type", "generator", "model_id", "licence", "licence_url", "origin_url")
SOURCE_TYPES = ("real", "web", "generated")


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("ingest", help="add real/web/generated images (folders, ImageFolder, parquet, tars) to a RUN",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="RUN folder")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image folders, files, .parquet or .tar shards")
    p.add_argument("--concept", required=True, help="built-in concept name or concept YAML path")
    p.add_argument("--source", required=True, dest="source_name", help="source name (e.g. laion, imagenet)")
    p.add_argument("--label", help="give every image this label (otherwise from class folders / label columns)")
    p.add_argument("--source-type", choices=SOURCE_TYPES, default=None, help="default: real")
    p.add_argument("--generator", help="what made generated images (e.g. stable-diffusion)")
    p.add_argument("--model-id", help="the model of generated images (e.g. CompVis/stable-diffusion-v1-4)")
    p.add_argument("--licence", "--license", dest="licence", help="licence recorded for rows whose data gives none")
    p.add_argument("--licence-url", "--license-url", dest="licence_url", help="link to the licence text")
    p.add_argument("--origin-url", help="the upstream data set or page the images come from")
    p.add_argument("--source-map", action="append", default=None, metavar="PATTERN=NAME[:TYPE][,key=value]",
                   help="per-file source by glob (repeatable; see above)")
    p.add_argument("--split-from-folders", action="store_true", default=None,
                   help="keep the split of train/validation/val/test folders (or a parquet split column)")
    p.add_argument("--pair-by", choices=("none", "stem"), default=None,
                   help="stem: files with the same stem under different label folders form a pair")
    p.add_argument("--shard-size", type=int, default=None, help="manifest rows per shard (default 1000)")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def parse_source_map(text: str) -> dict[str, Any]:
    """`PATTERN=NAME[:TYPE][,key=value...]` as a SourceRule mapping; one-line error otherwise."""
    pattern, eq, rest = text.partition("=")
    head, *pairs = rest.split(",")
    name, _, kind = head.partition(":")
    if not eq or not pattern.strip() or not name.strip():
        raise InputError(f"--source-map: expected PATTERN=NAME[:TYPE][,key=value...], got '{text}'")
    rule: dict[str, Any] = {"pattern": pattern.strip(), "source": name.strip()}
    if kind:
        rule["source_type"] = kind.strip()
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or key not in RULE_KEYS:
            raise InputError(f"--source-map '{text}': '{pair}' is not key=value with a key of "
                             f"{', '.join(RULE_KEYS)}")
        rule[key] = value.strip()
    return rule


def run(args: argparse.Namespace) -> int:
    from dataigm.config import resolve_config
    from dataigm.ingest import IngestSource, ingest
    from dataigm.run import Run

    run_folder = Run(args.run)
    rules = [parse_source_map(t) for t in args.source_map] if args.source_map else None
    source = resolve_config(IngestSource, {}, "dataigm ingest", sets=args.sets, overrides={
        "concept": args.concept, "source": args.source_name, "label": args.label,
        "source_type": args.source_type, "generator": args.generator, "model_id": args.model_id,
        "licence": args.licence, "licence_url": args.licence_url, "origin_url": args.origin_url,
        "source_map": rules, "split_from_folders": args.split_from_folders, "pair_by": args.pair_by,
        "shard_size": args.shard_size, "paths": list(args.paths)})
    if printed_config(args, source):
        return 0
    report = ingest(run_folder, source, progress=not args.quiet)
    print(report.summary())
    return 0
