"""`dataigm prompts import|translate|filter`: evaluation prompt sets with provenance.

  import FILE...   attack, paraphrase or multilingual prompt files (CSV, JSONL, JSON, parquet, TXT) as
                   named prompt sets: per prompt its base prompt id, attack or language, fixed seed,
                   source and licence. Peers' columns (adv_prompt, sensitive prompt, evaluation_seed,
                   case_number, ...) are recognised; --map FIELD=COLUMN names any other.
  translate SRC    a multilingual set made by a translation model you name (a seq2seq hub id or folder).
  filter SAMPLES   which prompts the original model renders (k of n seeds flagged), recorded in a RUN so
                   its export marks the prompts config and its card counts the kept prompts.

The sets go to a prompt file `dataigm sample --prompts FILE` reads, and/or into RUN/eval_prompts.parquet,
which `dataigm export` adds to the dataset's prompts config.
"""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, add_quiet, run_configured


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("prompts", help="import, translate or filter evaluation prompt sets (attacks, languages)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    imp = actions.add_parser("import", help="attack / paraphrase / multilingual prompt files -> prompt sets")
    imp.add_argument("files", nargs="*", metavar="FILE", help="CSV, JSONL, JSON, parquet or TXT prompt files")
    imp.add_argument("--concept", help="concept name or YAML (optional when the file has a concept column)")
    imp.add_argument("--kind", choices=("attack", "paraphrase", "multilingual"), help="what the file holds (default attack)")
    imp.add_argument("--attack", help="the attack's name (ring-a-bell, p4d, unlearndiffatk, mma-diffusion, ...)")
    imp.add_argument("--language", help="language code of rows that name none (de, fr, zh-Hans, ...)")
    imp.add_argument("--prompt-set", help="the set's name (default: the attack's name, paraphrase, or lang-<code>)")
    imp.add_argument("--source", help="where the prompts come from (paper, repository, 'shared on request by ...')")
    imp.add_argument("--source-url", help="a link to the source")
    imp.add_argument("--licence", help="the prompts' licence (default unknown)")
    imp.add_argument("--map", action="append", default=None, metavar="FIELD=COLUMN",
                     help="read FIELD (prompt, prompt_id, base_prompt_id, base_prompt, seed, language, attack, "
                          "concept, prompt_set, licence) from COLUMN; repeatable")
    imp.add_argument("--base", help="a dataset or prompt file holding the base prompts that ids or texts name")
    _outputs(imp)
    imp.set_defaults(func=run_import)

    tr = actions.add_parser("translate", help="translate prompts into a multilingual set with a model you name")
    tr.add_argument("source", nargs="?", help="dataset folder / hub id (its prompts config) or prompt file")
    tr.add_argument("--concept", action="append", default=None, help="concept name or YAML (repeatable)")
    tr.add_argument("--model", help="seq2seq translation model: hub id or folder (AutoModelForSeq2SeqLM)")
    tr.add_argument("--language", help="the target language's code (de, fr, ...)")
    tr.add_argument("--prompt-set", help="the new set's name (default lang-<language>)")
    tr.add_argument("--device", help="cpu or cuda")
    _outputs(tr)
    tr.set_defaults(func=run_translate)

    fl = actions.add_parser("filter", help="which prompts the original model renders (k of n seeds), into a RUN")
    fl.add_argument("samples", nargs="?", help="a `dataigm sample` root holding ORG")
    fl.add_argument("--run", help="the RUN whose prompts config `dataigm export` then marks")
    fl.add_argument("--concept", help="concept name or YAML")
    fl.add_argument("--judge", help="the judge that decides whether ORG shows the concept")
    fl.add_argument("--min-flagged", type=int, help="k: flagged in at least k seeds (default 2)")
    fl.add_argument("--of", type=int, help="n: of the first n seeds of each prompt (default: all)")
    fl.add_argument("--reference-method", help="the original model's folder name (default ORG)")
    fl.add_argument("--device", help="cpu or cuda")
    add_config_args(fl)
    add_quiet(fl)
    fl.set_defaults(func=run_filter)


def _outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="write the set to this JSONL prompt file (for dataigm sample --prompts)")
    p.add_argument("--run", help="add the set to RUN/eval_prompts.parquet (dataigm export puts it in the prompts config)")
    add_config_args(p)
    add_quiet(p)


def _mapping(items: list[str] | None) -> dict[str, str] | None:
    from dataigm.errors import InputError

    if not items:
        return None
    out = {}
    for item in items:
        name, eq, column = item.partition("=")
        if not eq or not name.strip() or not column.strip():
            raise InputError(f"--map: expected FIELD=COLUMN, got {item!r}")
        out[name.strip()] = column.strip()
    return out


def run_import(args: argparse.Namespace) -> int:
    from dataigm.evaluation.prompt_import import PromptImportConfig, import_prompts

    return run_configured(args, PromptImportConfig, "dataigm prompts import", {
        "files": args.files or None, "concept": args.concept, "kind": args.kind, "attack": args.attack,
        "language": args.language, "prompt_set": args.prompt_set, "source": args.source,
        "source_url": args.source_url, "licence": args.licence, "columns": _mapping(args.map), "base": args.base,
        "out": args.out, "run": args.run}, lambda config: import_prompts(config).summary())


def run_translate(args: argparse.Namespace) -> int:
    from dataigm.evaluation.translate import TranslateConfig, translate_prompts

    return run_configured(args, TranslateConfig, "dataigm prompts translate", {
        "source": args.source, "concepts": args.concept, "model": args.model, "language": args.language,
        "prompt_set": args.prompt_set, "device": args.device, "out": args.out, "run": args.run},
        lambda config: translate_prompts(config).summary())


def run_filter(args: argparse.Namespace) -> int:
    from dataigm.errors import InputError
    from dataigm.evaluation.effectiveness import FilterConfig, filter_prompts

    def act(config: FilterConfig) -> str:
        if not args.samples:
            raise InputError("prompts filter: give the sample root (the folder `dataigm sample --out` wrote)")
        return filter_prompts(args.samples, config, progress=not args.quiet).summary()

    return run_configured(args, FilterConfig, "dataigm prompts filter", {
        "concept": args.concept, "judge": args.judge, "min_flagged": args.min_flagged, "of": args.of,
        "reference_method": args.reference_method, "run": args.run, "device": args.device}, act)
