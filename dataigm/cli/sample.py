"""`dataigm sample`: one method's benchmark images, OUT/<method>/<prompt_set>/<prompt_id>_<k>.png.

A method is a diffusers pipeline (a hub id or a folder) with optional --unet / --text-encoder
overrides (.safetensors files or folders): the form most unlearning methods release. Sample the
original model as ORG, then each unlearned model under its own name, into the same OUT; every
method gets the same seeds. Model settings (size, scheduler, steps, guidance, dtype, images per
prompt) come from a preset's generation section (default: paper, Stable Diffusion v1.4 as IGMU).
Rerun to resume; under `accelerate launch` every GPU takes its own shards.
"""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_config_args, add_quiet, positive_int, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("sample", help="sample one method's benchmark images (ORG or an unlearned model) into OUT",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", help="the method's folder name under OUT (ORG for the original model)")
    p.add_argument("--prompts", action="append", default=None, metavar="SOURCE",
                   help="a dataset folder or hub id (its 'prompts' config) or a prompt file "
                        "(.csv/.jsonl/.json/.parquet/.txt); repeatable")
    p.add_argument("--concept", action="append", default=None, help="concept name or YAML (repeatable)")
    p.add_argument("--out", required=True, help="the sample root; the method goes to OUT/<method>/")
    p.add_argument("--preset", default="paper", help="preset whose generation section sets the model settings "
                                                     "(default paper; demo for toyworld)")
    p.add_argument("--model", help="diffusers pipeline: hub id or folder (same as --set generation.model=...)")
    p.add_argument("--unet", help="UNet override: .safetensors file or folder")
    p.add_argument("--text-encoder", help="text encoder override: .safetensors file or folder")
    p.add_argument("--generator", help="a registered generator (default: the preset's; diffusers with --model)")
    p.add_argument("--images-per-prompt", type=positive_int, help="N images per prompt (default: the preset's)")
    p.add_argument("--prompt-set", help="the set of a prompt file's rows that name none (default forget)")
    p.add_argument("--all-prompts", action="store_true", help="every prompt of a dataset, not only the benchmark subset "
                                                                "(and those the effectiveness filter left out)")
    p.add_argument("--erased", action="append", default=None, metavar="CONCEPT",
                   help="a concept this model was made to forget (repeatable; a multi-concept model: the scorecard's "
                        "neighbour matrix then calls its loss of the others its target, not over-erasure)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, or auto (the GPU accelerate assigns)")
    add_config_args(p)
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.config import read_yaml, resolve_config
    from dataigm.evaluation.sample import SampleConfig, sample
    from dataigm.preset import resolve_preset_path

    path = resolve_preset_path(args.preset)
    generation = dict((read_yaml(path) or {}).get("generation") or {})
    generator = args.generator
    if args.model and not generator and generation.get("generator") not in ("diffusers", "tiny"):
        generator = "diffusers"
    config = resolve_config(SampleConfig, {"generation": generation}, f"{path} (generation section)",
                            sets=args.sets, overrides={
        "method": args.method, "prompts": args.prompts, "concepts": args.concept,
        "prompt_set": args.prompt_set, "benchmark_only": False if args.all_prompts else None,
        "effective_only": False if args.all_prompts else None, "erased": args.erased,
        "generation.model": args.model, "generation.unet": args.unet, "generation.text_encoder": args.text_encoder,
        "generation.generator": generator, "generation.images_per_prompt": args.images_per_prompt,
        "generation.device": args.device})
    if printed_config(args, config):
        return 0
    report = sample(args.out, config, progress=not args.quiet)
    print(report.summary())
    return 0
