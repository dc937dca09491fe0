"""Evaluation prompts: named prompt sets (axes) with a base prompt id and free-form provenance.

A prompt set is an axis of the evaluation: `forget`, `reference`, `unrelated`, `neighbour` come
from a dataset's `prompts` config; anything else (an attack set, a paraphrase or multilingual
file, the demo's synonym set) comes from a prompt file and is carried, by name, from the prompts
through `sample`'s manifest into every scorecard row.

Each prompt has a `base_id`: the prompt it derives from or pairs with (a forget prompt and its
reference prompt share one; an attack prompt names the forget prompt it attacks). Seeds are drawn
from (base id, image index), so paired prompts get the same seeds in every method. Everything
else a file says about a prompt (attack, language, source, licence, ...) is kept as provenance.

Sources: a dataset folder or hub id (its `prompts` config, through `datasets.load_dataset`), or a
prompt file: .csv, .jsonl, .json (a list of objects), .parquet, or .txt (one prompt per line).
File columns: `prompt` (required), `prompt_id` (or `id`), `prompt_set`, `concept`,
`base_prompt_id` (or `pair_id`), `seed`; any other column is provenance.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from dataigm.errors import InputError
from dataigm.io import atomic_write_text
from dataigm.prompts import clean_prompt
from dataigm.run import is_safe_name
from dataigm.taxonomy import ConceptSpec

DATASET_SETS = ("forget", "reference", "unrelated", "neighbour")
# The sets a scorecard reads as preservation / forgetting; any other name is an attack-style set.
PROMPT_FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet", ".txt")
_KNOWN = {"prompt", "prompt_id", "id", "prompt_set", "concept", "base_prompt_id", "pair_id", "seed"}
# A prompt-set name becomes a folder inside a method folder: these are the folder's own files.
RESERVED_SET_NAMES = {"shards", "images", "concepts", "cache", "plots", "models"}
_SET_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass
class EvalPrompt:
    prompt_id: str
    concept: str
    prompt_set: str
    prompt: str
    base_id: str                       # pairs prompts: same base id -> same seeds
    seed: int | None = None            # a fixed seed from the file (image k uses seed + k)
    names_concept: bool = False        # the prompt names the concept through an alias
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["provenance"] = json.dumps(self.provenance, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "EvalPrompt":
        data = dict(row)
        prov = data.get("provenance")
        data["provenance"] = json.loads(prov) if isinstance(prov, str) and prov else (prov or {})
        seed = data.get("seed")
        data["seed"] = None if seed is None or seed != seed else int(seed)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def check_set_name(name: str, where: str) -> str:
    if not _SET_NAME.match(name or "") or name in RESERVED_SET_NAMES:
        raise InputError(f"{where}: prompt set '{name}' must be lower-case letters, digits, '_' or '-' "
                         f"and not one of {', '.join(sorted(RESERVED_SET_NAMES))} (it names a folder)")
    return name


def _public_source(ref: str) -> str:
    """What provenance records about a source: never a local absolute path."""
    path = Path(ref)
    return path.name if path.exists() else ref


def is_prompt_file(ref: str) -> bool:
    return Path(ref).suffix.lower() in PROMPT_FILE_SUFFIXES and not Path(ref).is_dir()


def load_prompts(
    source: str,
    specs: dict[str, ConceptSpec],
    *,
    prompt_sets: Sequence[str] = ("forget", "reference", "unrelated"),
    benchmark_only: bool = True,
    default_set: str = "forget",
) -> list[EvalPrompt]:
    """The prompts of one source for the concepts in `specs` (all of a file's prompts; the
    selected sets, benchmark subset by default, of a dataset's prompts config)."""
    if is_prompt_file(source):
        return read_prompt_file(source, specs, default_set)
    return _dataset_prompts(source, specs, prompt_sets, benchmark_only)


def _dataset_prompts(source: str, specs: dict[str, ConceptSpec], prompt_sets: Sequence[str],
                     benchmark_only: bool) -> list[EvalPrompt]:
    import datasets

    local = Path(source)
    if (source.startswith((".", "/")) or local.exists()) and not local.is_dir():
        raise InputError(f"{source}: not a prompt file ({', '.join(PROMPT_FILE_SUFFIXES)}) or a dataset folder")
    try:
        # A fresh cache per read: `datasets` keys a local folder's cache on its name and file
        # names, not its data, and the prompts config is small.
        with tempfile.TemporaryDirectory(prefix="dataigm-prompts-") as cache:
            rows = datasets.load_dataset(source, "prompts", split="train", cache_dir=cache).to_list()
    except (ValueError, FileNotFoundError) as exc:
        raise InputError(f"{source}: cannot load its 'prompts' config: {' '.join(str(exc).split())[:300]}") from None
    out = []
    for row in rows:
        if row["concept"] not in specs or row["prompt_set"] not in prompt_sets:
            continue
        if benchmark_only and not row.get("benchmark"):
            continue
        out.append(EvalPrompt(
            prompt_id=row["prompt_id"], concept=row["concept"], prompt_set=row["prompt_set"],
            prompt=row["prompt"], base_id=row["pair_id"], names_concept=bool(row.get("names_concept")),
            provenance={"source": _public_source(source), "config": "prompts", "group": row.get("group")},
        ))
    return sorted(out, key=lambda p: p.prompt_id)


def file_rows(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".txt":
            return [{"prompt": line.strip()} for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as fh:
                return [dict(r) for r in csv.DictReader(fh)]
        if suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            return [json.loads(line) for line in lines if line.strip()]
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise InputError(f"{path}: expected a JSON list of prompt objects")
            return data
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    except FileNotFoundError:
        raise InputError(f"{path}: prompt file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: unreadable prompt file: {' '.join(str(exc).split())[:200]}") from None


def read_prompt_file(ref: str, specs: dict[str, ConceptSpec], default_set: str = "forget") -> list[EvalPrompt]:
    path = Path(ref)
    rows = file_rows(path)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.") or "prompts"
    out: list[EvalPrompt] = []
    seen: set[str] = set()
    for i, raw in enumerate(rows):
        if not isinstance(raw, dict):
            raise InputError(f"{path}: row {i + 1}: expected an object with a 'prompt' field")
        where = f"{path}: row {i + 1}"
        prompt = str(raw.get("prompt") or "").strip()
        if not prompt:
            raise InputError(f"{where}: field 'prompt' is missing or empty")
        prompt_id = str(raw.get("prompt_id") or raw.get("id") or f"{stem}-{i:05d}")
        if not is_safe_name(prompt_id):
            raise InputError(f"{where}: prompt_id '{prompt_id}' must be letters, digits, '_', '.', '-' "
                             "(it names image files)")
        if prompt_id in seen:
            raise InputError(f"{where}: prompt_id '{prompt_id}' appears twice")
        seen.add(prompt_id)
        concept = str(raw.get("concept") or "")
        if concept and concept not in specs:
            continue   # one file may hold the sets of several concepts: this sample wants others
        concept = concept or (next(iter(specs)) if len(specs) == 1 else "")
        if not concept:
            raise InputError(f"{where}: no 'concept' field, and {len(specs)} concepts are sampled "
                             f"({', '.join(specs)}); add a 'concept' column or sample one concept")
        prompt_set = check_set_name(str(raw.get("prompt_set") or default_set), where)
        seed = raw.get("seed")
        try:
            seed = None if seed in (None, "") else int(seed)
        except (TypeError, ValueError):
            raise InputError(f"{where}: seed '{seed}' is not a whole number") from None
        provenance = {k: v for k, v in raw.items() if k not in _KNOWN and v not in (None, "")}
        provenance.setdefault("source", path.name)
        out.append(EvalPrompt(
            prompt_id=prompt_id, concept=concept, prompt_set=prompt_set, prompt=prompt,
            base_id=str(raw.get("base_prompt_id") or raw.get("pair_id") or prompt_id), seed=seed,
            names_concept=specs[concept].names_concept(prompt), provenance=provenance,
        ))
    return out


def write_prompt_file(path: str | Path, prompts: Iterable[EvalPrompt]) -> Path:
    """Prompts as JSONL with the file columns above (provenance fields inlined)."""
    lines = []
    for p in prompts:
        row = {"prompt_id": p.prompt_id, "concept": p.concept, "prompt_set": p.prompt_set, "prompt": p.prompt,
               "base_prompt_id": p.base_id, **({"seed": p.seed} if p.seed is not None else {}),
               **{k: v for k, v in p.provenance.items() if k not in _KNOWN}}
        lines.append(json.dumps(row, sort_keys=True))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)


def alias_swap_prompts(prompts: Iterable[EvalPrompt], spec: ConceptSpec, prompt_set: str = "synonym") -> list[EvalPrompt]:
    """Each forget prompt of `spec` with the concept named by another alias, one its forget
    prompts never use ("a nude woman" -> "an unclothed woman"): what a method that only hid
    its training prompts' words still draws. Same base id, so the same seeds as the original.
    Concepts whose forget prompts use every alias get none."""
    phrases = " | ".join(spec.prompts.concept_phrases)
    unused = [a for a in spec.aliases if not _alias_pattern([a]).search(phrases)]
    if not unused:
        return []
    pattern = _alias_pattern(spec.aliases)
    out = []
    for i, p in enumerate(x for x in prompts if x.concept == spec.name and x.prompt_set == "forget"):
        found = pattern.search(p.prompt)
        if not found:
            continue
        replacement = unused[i % len(unused)]
        swapped = clean_prompt(pattern.sub(replacement, p.prompt))
        out.append(EvalPrompt(
            prompt_id=f"{p.prompt_id}-{prompt_set}", concept=p.concept, prompt_set=prompt_set, prompt=swapped,
            base_id=p.base_id, names_concept=spec.names_concept(swapped),
            provenance={"attack": "alias_swap", "base_prompt": p.prompt, "replaced": found.group(0),
                        "with": replacement, "source": "dataigm alias swap"},
        ))
    return out


def _alias_pattern(aliases: Sequence[str]) -> re.Pattern[str]:
    phrases = sorted(aliases, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(w) for w in a.split()) for a in phrases)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
