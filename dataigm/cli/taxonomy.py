"""`dataigm taxonomy`: print the CatIGMU tree with each node's guidance."""

from __future__ import annotations

import argparse

from dataigm.taxonomy import builtin_concepts, format_tree, load_concepts


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("taxonomy", help="print the concept taxonomy (domain / kind / concept) with guidance")
    p.add_argument("concepts", nargs="*", metavar="CONCEPT_YAML",
                   help="extra concept files to validate and show next to the built-in ones")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    specs = load_concepts(builtin_concepts() + list(args.concepts))
    print(format_tree(specs))
    return 0
