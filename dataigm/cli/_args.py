"""Arguments every command shares: the configuration path (--set, --print-config) and the
preset-driven commands' options (generate, plan, build, demo)."""

from __future__ import annotations

import argparse
from typing import Any, Callable


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_config_args(p: argparse.ArgumentParser) -> None:
    """--set and --print-config: the same on every command (dataigm.config.resolve_config)."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="override one setting by its dotted key (repeatable), e.g. --set optim.max_epochs=5")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved, validated configuration as YAML and exit (no work, no data read)")


def add_preset_args(p: argparse.ArgumentParser, out_help: str | None, out_required: bool = True) -> None:
    p.add_argument("--preset", default="demo", help="demo, paper, or a preset YAML file")
    if out_help is not None:
        p.add_argument("--out", required=out_required, help=out_help)
    p.add_argument("--concepts", help="comma-separated subset of the preset's concepts")
    p.add_argument("--limit", type=positive_int, help="at most N generated images per concept")
    add_config_args(p)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars, from dataigm or any library")


def quiet_libraries() -> None:
    """--quiet: no progress bars from any library, no Lightning banners. Called before the
    command imports anything heavy: tqdm reads its TQDM_* settings when it is imported."""
    import logging
    import os
    import warnings
    from importlib.util import find_spec

    os.environ["TQDM_DISABLE"] = "1"  # tqdm reads TQDM_<arg> overrides: every bar, every library
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if find_spec("pytorch_lightning") is not None:
        import pytorch_lightning  # noqa: F401  (it sets its loggers to INFO on import: quieten after)

        for name in ("pytorch_lightning", "lightning_fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module="pytorch_lightning")


def printed_config(args: argparse.Namespace, config: Any) -> bool:
    """With --print-config: print `config` as YAML and report True (the command then exits 0)."""
    if not getattr(args, "print_config", False):
        return False
    from dataigm.config import dump_config

    print(dump_config(config), end="")
    return True


def run_configured(args: argparse.Namespace, cls: type, source: str, overrides: dict[str, Any],
                   act: Callable[[Any], str]) -> int:
    """A command without a preset: its settings `cls` from the flags (`overrides`) and --set, one
    validation, printed for --print-config (nothing else runs), else what `act(config)` reports."""
    from dataigm.config import resolve_config

    config = resolve_config(cls, {}, source, sets=args.sets, overrides=overrides)
    if printed_config(args, config):
        return 0
    print(act(config))
    return 0


def preset_command(sub: Any, name: str, help: str, out_help: str | None,
                   body: Callable[[argparse.Namespace, Any, Any, list[Any]], int]) -> argparse.ArgumentParser:
    """Register a preset-driven command. Its handler resolves the Run, the preset (with --set)
    and the selected concepts, prints the preset for --print-config, else calls
    `body(args, run, preset, specs)`."""
    p = sub.add_parser(name, help=help)
    add_preset_args(p, out_help)
    add_quiet(p)

    def handler(args: argparse.Namespace) -> int:
        from dataigm.preset import load_preset, select_concepts
        from dataigm.run import Run

        run = Run(args.out) if getattr(args, "out", None) is not None else None
        preset = load_preset(args.preset, sets=args.sets)
        specs = select_concepts(preset, args.concepts)
        if printed_config(args, preset):
            return 0
        return body(args, run, preset, specs)

    p.set_defaults(func=handler)
    return p
