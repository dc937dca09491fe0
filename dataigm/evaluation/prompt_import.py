"""Import the prompt files users hold (attack sets, paraphrases, multilingual sets) as named
prompt sets with provenance.

Attack prompts (Ring-A-Bell, P4D, UnlearnDiffAtk, MMA-Diffusion) are often shared on request,
so users hold them as CSV or JSONL files whose columns differ from paper to paper. Each file is
read with a column mapping: built-in aliases (FIELD_COLUMNS) that `--map FIELD=COLUMN` overrides.
Every prompt records, as provenance: its base prompt id (when the file gives one, or when
`base` resolves the base prompt's text), the attack or the language, its seed when fixed, its
source and its licence, the file it came from and the file's own id; every other column of the
file is kept too (`categories`, `nudity_percentage`, ...).

Output: a prompt file `sample` reads (JSONL, `dataigm.evaluation.prompts.write_prompt_file`) and/or
RUN/eval_prompts.parquet, which `export` adds to the dataset's `prompts` config (and its card).
Bad input is one line naming the file, the line and the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from dataigm.errors import InputError
from dataigm.evaluation.prompts import (EvalPrompt, check_set_name, load_prompts, located_rows,
                                        write_prompt_file)
from dataigm.prompts import normalise_key
from dataigm.run import Run, is_safe_name
from dataigm.taxonomy import ConceptSpec, load_concept

# The file columns each field is read from when no --map names one, first found wins. An
# adversarial prompt column, when a file has one, is the prompt to sample; the file's plain or
# clean prompt is then the base prompt's text.
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "prompt": ("adv_prompt", "adversarial_prompt", "attack_prompt", "prompt", "sensitive prompt",
               "sensitive_prompt", "text", "caption"),
    "base_prompt": ("base_prompt", "original_prompt", "clean_prompt", "target_prompt", "prompt",
                    "sensitive prompt", "sensitive_prompt"),
    "prompt_id": ("prompt_id", "id", "case_number", "case_id"),
    "base_prompt_id": ("base_prompt_id", "base_id", "pair_id", "original_id"),
    "seed": ("seed", "evaluation_seed", "sd_seed"),
    "language": ("language", "lang"),
    "attack": ("attack", "attack_method"),
    "concept": ("concept",),
    "prompt_set": ("prompt_set",),
    "licence": ("licence", "license"),
}
KINDS = ("attack", "paraphrase", "multilingual")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass
class PromptImportConfig:
    """Settings of `dataigm prompts import`."""

    files: list[str] = field(default_factory=list)
    concept: str = ""                  # concept name or YAML; optional when the file has a concept column
    kind: Literal["attack", "paraphrase", "multilingual"] = "attack"
    attack: str = ""                   # the attack's name (ring-a-bell, p4d, unlearndiffatk, mma-diffusion, ...)
    language: str = ""                 # language of rows that name none (BCP-47 style code: de, fr, zh-Hans)
    prompt_set: str = ""               # default: the attack's name, `paraphrase`, or `lang-<code>`
    source: str = ""                   # where the prompts come from (paper, repository, "shared on request")
    source_url: str = ""
    licence: str = "unknown"
    columns: dict[str, str] = field(default_factory=dict)   # FIELD -> the file's column (overrides aliases)
    base: str | None = None            # dataset or prompt file holding the base prompts (ids or texts)
    out: str | None = None             # a JSONL prompt file that `sample --prompts` reads
    run: str | None = None             # a RUN folder: RUN/eval_prompts.parquet, exported with its prompts config

    def validate(self) -> None:
        if not self.files:
            raise ValueError("files: name at least one prompt file")
        unknown = sorted(set(self.columns) - set(FIELD_COLUMNS))
        if unknown:
            raise ValueError(f"columns: unknown field '{unknown[0]}' (fields: {', '.join(FIELD_COLUMNS)})")
        if self.kind == "attack" and not self.attack and "attack" not in self.columns:
            raise ValueError("attack: name the attack (--attack ring-a-bell, p4d, unlearndiffatk, mma-diffusion, ...)")
        if self.language and not LANGUAGE_CODE.match(self.language):
            raise ValueError(f"language: '{self.language}' is not a language code (de, fr, zh-Hans, ...)")
        if self.prompt_set:
            try:
                check_set_name(self.prompt_set, "prompt_set")
            except InputError as exc:
                raise ValueError(str(exc)) from None
        if not self.out and not self.run:
            raise ValueError("out: give --out FILE.jsonl (a prompt file for sample) and/or --run RUN")


@dataclass
class PromptImportReport:
    prompts: list[EvalPrompt]
    per_set: dict[str, int]
    with_base: int
    written: list[Path]

    def summary(self) -> str:
        sets = ", ".join(f"{k} {v}" for k, v in sorted(self.per_set.items()))
        return (f"imported {len(self.prompts)} prompts ({sets}; {self.with_base} name their base prompt) -> "
                + ", ".join(str(p) for p in self.written))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "prompts"


class _Columns:
    """Which column of one file each field is read from."""

    def __init__(self, path: Path, header: Sequence[str], mapping: dict[str, str]) -> None:
        self.found: dict[str, str] = {}
        lower = {h.lower().strip(): h for h in header}
        for name, column in mapping.items():
            if column not in header and column.lower() not in lower:
                raise InputError(f"{path}: column '{column}' (mapped to {name}) is not in the file "
                                 f"(columns: {', '.join(header)})")
            self.found[name] = column if column in header else lower[column.lower()]
        for name, aliases in FIELD_COLUMNS.items():
            if name in self.found:
                continue
            used = set(self.found.values())
            hit = next((lower[a] for a in aliases if a in lower and lower[a] not in used), None)
            if hit is not None:
                self.found[name] = hit
        if "prompt" not in self.found:
            raise InputError(f"{path}: no prompt column (looked for {', '.join(FIELD_COLUMNS['prompt'])}; "
                             f"columns: {', '.join(header)}); name it with --map prompt=COLUMN")

    def get(self, row: dict[str, Any], name: str) -> Any:
        column = self.found.get(name)
        value = row.get(column) if column is not None else None
        return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _whole_number(value: Any, where: str) -> int | None:
    """A seed from a file: a whole number (CSV gives text, some JSON files give 42.0), or None."""
    if value is None:
        return None
    try:
        number = float(value)
        if not number.is_integer():
            raise ValueError
        return int(number)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{where}: '{value}' is not a whole number") from None


def _base_index(ref: str | None, specs: dict[str, ConceptSpec]) -> tuple[dict[str, str], dict[str, str]]:
    """(base id by prompt id, base id by normalised prompt text) of the base prompts' source."""
    if not ref:
        return {}, {}
    by_id: dict[str, str] = {}
    by_text: dict[str, str] = {}
    for p in load_prompts(ref, specs, prompt_sets=("forget",), benchmark_only=False):
        by_id[p.prompt_id] = p.base_id
        by_text.setdefault(normalise_key(p.prompt), p.base_id)
    return by_id, by_text


def read_import_file(path: Path, config: PromptImportConfig, specs: dict[str, ConceptSpec],
                     base: tuple[dict[str, str], dict[str, str]]) -> list[EvalPrompt]:
    rows = located_rows(path)
    header = list(dict.fromkeys(k for _, row in rows if isinstance(row, dict) for k in row))
    columns = _Columns(path, header, config.columns)
    by_id, by_text = base
    out: list[EvalPrompt] = []
    seen: set[str] = set()
    for i, (place, raw) in enumerate(rows):
        where = f"{path}: {place}"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected an object with a prompt field")

        def column(name: str) -> str:
            return f"{where}: column '{columns.found.get(name, name)}'"

        prompt = str(columns.get(raw, "prompt") or "").strip()
        if not prompt:
            raise InputError(f"{column('prompt')}: the prompt is empty")
        concept = str(columns.get(raw, "concept") or config.concept or "")
        if concept not in specs:
            if columns.get(raw, "concept") is not None and config.concept:
                continue   # one file may hold several concepts' prompts: this import wants another
            raise InputError(f"{column('concept')}: concept '{concept}' is not the one imported "
                             f"({', '.join(specs) or 'none: give --concept'})")
        language = str(columns.get(raw, "language") or config.language or "")
        if language and not LANGUAGE_CODE.match(language):
            raise InputError(f"{column('language')}: '{language}' is not a language code (de, fr, zh-Hans, ...)")
        if config.kind == "multilingual" and not language:
            raise InputError(f"{where}: no language (add a 'language' column, map one with --map language=COLUMN, "
                             "or give --language)")
        attack = str(columns.get(raw, "attack") or config.attack or "")
        prompt_set = config.prompt_set or str(columns.get(raw, "prompt_set") or "") or (
            _slug(attack) if config.kind == "attack" else "paraphrase" if config.kind == "paraphrase"
            else f"lang-{language.lower()}")
        check_set_name(prompt_set, where)
        seed = _whole_number(columns.get(raw, "seed"), column("seed"))
        file_id = str(columns.get(raw, "prompt_id") or f"{i:05d}")
        # <set>-<the file's id>; a file holding several concepts' rows may number each concept
        # from 0, so its ids also name the concept.
        scope = f"{concept}-" if "concept" in columns.found else ""
        prompt_id = f"{prompt_set}-{scope}{re.sub(r'[^A-Za-z0-9_.-]+', '-', file_id).strip('-.') or i}"
        if not is_safe_name(prompt_id):
            raise InputError(f"{column('prompt_id')}: id '{file_id}' cannot name an image file")
        if prompt_id in seen:
            raise InputError(f"{column('prompt_id')}: id '{file_id}' appears twice in set '{prompt_set}'")
        seen.add(prompt_id)
        base_text = columns.get(raw, "base_prompt")
        base_text = str(base_text).strip() if base_text is not None and str(base_text).strip() != prompt else None
        given = columns.get(raw, "base_prompt_id")
        base_id = None
        if given is not None:
            base_id = by_id.get(str(given), str(given))
        elif base_text and by_text:
            base_id = by_text.get(normalise_key(base_text))
        licence = str(columns.get(raw, "licence") or config.licence)
        provenance: dict[str, Any] = {
            "kind": config.kind, "source": config.source or path.name, "licence": licence,
            "source_file": path.name, "source_id": file_id,
            **({"attack": attack} if attack else {}), **({"language": language} if language else {}),
            **({"source_url": config.source_url} if config.source_url else {}),
            **({"base_prompt": base_text} if base_text else {}),
            **({"base_prompt_id": str(given)} if given is not None else {}),
        }
        used = set(columns.found.values())
        for key, value in raw.items():   # every other column of the file, as it is
            if key not in used and value not in (None, "") and key not in provenance:
                provenance[str(key)] = value
        out.append(EvalPrompt(
            prompt_id=prompt_id, concept=concept, prompt_set=prompt_set, prompt=prompt,
            base_id=base_id or prompt_id, seed=seed, names_concept=specs[concept].names_concept(prompt),
            provenance=provenance,
        ))
    return out


def write_eval_prompts(run: Run, prompts: Sequence[EvalPrompt]) -> Path:
    """Add `prompts` to RUN/eval_prompts.parquet, replacing the sets of their concepts they name
    (importing a file again replaces its set). `export` puts these rows into the prompts config."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataigm.io import atomic_write_parquet

    replaced = {(p.concept, p.prompt_set) for p in prompts}
    rows = []
    if run.eval_prompts_path.exists():
        rows = [r for r in pq.read_table(run.eval_prompts_path).to_pylist()
                if (r["concept"], r["prompt_set"]) not in replaced]
    rows += [p.to_row() for p in prompts]
    ids = [r["prompt_id"] for r in rows]
    if len(ids) != len(set(ids)):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"{run.eval_prompts_path}: prompt_id '{dup}' is already used by another set")
    rows.sort(key=lambda r: (r["concept"], r["prompt_set"], r["prompt_id"]))
    atomic_write_parquet(pa.Table.from_pylist(rows), run.eval_prompts_path)
    return run.eval_prompts_path


def deliver(prompts: Sequence[EvalPrompt], out: str | None, run: str | None) -> list[Path]:
    """Write imported or translated prompts: a JSONL prompt file and/or RUN/eval_prompts.parquet."""
    written = []
    if out:
        written.append(write_prompt_file(out, prompts))
    if run:
        target = Run(run)
        target.require_folder()
        with target.lock():
            written.append(write_eval_prompts(target, prompts))
    return written


def import_prompts(config: PromptImportConfig) -> PromptImportReport:
    """Read every file into prompt sets and write them where the config says."""
    specs: dict[str, ConceptSpec] = {}
    if config.concept:
        spec = load_concept(config.concept)
        specs[spec.name] = spec
    else:
        from dataigm.taxonomy import builtin_concepts

        specs = {name: load_concept(name) for name in builtin_concepts()}
    base = _base_index(config.base, specs)
    prompts: list[EvalPrompt] = []
    for ref in config.files:
        prompts += read_import_file(Path(ref), config, specs, base)
    if not prompts:
        raise InputError(f"{', '.join(config.files)}: no prompts for concept(s) {', '.join(specs)}")
    ids = [p.prompt_id for p in prompts]
    if len(ids) != len(set(ids)):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"{', '.join(config.files)}: prompt id '{dup}' comes from two files; import them "
                         "as separate sets (--prompt-set) or one at a time")
    written = deliver(prompts, config.out, config.run)
    per_set: dict[str, int] = {}
    for p in prompts:
        per_set[p.prompt_set] = per_set.get(p.prompt_set, 0) + 1
    with_base = sum(1 for p in prompts if p.base_id != p.prompt_id)
    return PromptImportReport(prompts, per_set, with_base, written)
