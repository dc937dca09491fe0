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
    effective_only: bool = True,
) -> list[EvalPrompt]:
    """The prompts of one source for the concepts in `specs` (all of a file's prompts; the
    selected sets, benchmark subset by default, of a dataset's prompts config, without the
    prompts it marks as not rendered by the original model unless `effective_only` is off)."""
    if is_prompt_file(source):
        return read_prompt_file(source, specs, default_set)
    return _dataset_prompts(source, specs, prompt_sets, benchmark_only, effective_only)


def _dataset_prompts(source: str, specs: dict[str, ConceptSpec], prompt_sets: Sequence[str],
                     benchmark_only: bool, effective_only: bool = True) -> list[EvalPrompt]:
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
        if effective_only and row.get("effective") is False:
            continue   # `dataigm prompts filter`: the original model does not render it
        # Imported sets carry their own provenance (attack, language, source, licence, seed).
        own = json.loads(row["provenance"]) if row.get("provenance") else {}
        seed = row.get("seed")
        out.append(EvalPrompt(
            prompt_id=row["prompt_id"], concept=row["concept"], prompt_set=row["prompt_set"],
            prompt=row["prompt"], base_id=row["pair_id"], names_concept=bool(row.get("names_concept")),
            seed=None if seed is None else int(seed),
            provenance={**own, "dataset": _public_source(source), "config": "prompts",
                        **({"group": row["group"]} if row.get("group") else {})},
        ))
    return sorted(out, key=lambda p: p.prompt_id)


def file_rows(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in located_rows(path)]


def located_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for every row of a prompt file: `where` is "line N" (CSV: the line the record
    starts on, the header being line 1; JSONL and TXT: its line), "item N" (a JSON list) or "row N"
    (parquet), so a bad value can be reported at its place. A byte-order mark is accepted."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".txt":
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            return [(f"line {i + 1}", {"prompt": line.strip()}) for i, line in enumerate(lines) if line.strip()]
        if suffix == ".csv":
            out = []
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames is None:
                    return []
                end = reader.line_num
                for row in reader:
                    out.append((f"line {end + 1}", dict(row)))
                    end = reader.line_num
            return out
        if suffix == ".jsonl":
            out = []
            for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines()):
                if line.strip():
                    try:
                        out.append((f"line {i + 1}", json.loads(line)))
                    except ValueError as exc:
                        raise InputError(f"{path}: line {i + 1}: not JSON: {exc}") from None
            return out
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if not isinstance(data, list):
                raise InputError(f"{path}: expected a JSON list of prompt objects")
            return [(f"item {i + 1}", row) for i, row in enumerate(data)]
        import pyarrow.parquet as pq

        return [(f"row {i + 1}", row) for i, row in enumerate(pq.read_table(path).to_pylist())]
    except FileNotFoundError:
        raise InputError(f"{path}: prompt file not found") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise InputError(f"{path}: unreadable prompt file: {' '.join(str(exc).split())[:200]}") from None


def read_prompt_file(ref: str, specs: dict[str, ConceptSpec], default_set: str = "forget") -> list[EvalPrompt]:
    path = Path(ref)
    rows = located_rows(path)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.") or "prompts"
    out: list[EvalPrompt] = []
    seen: set[str] = set()
    for i, (place, raw) in enumerate(rows):
        where = f"{path}: {place}"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected an object with a 'prompt' field")
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
    return swap_concept_words(prompts, spec, unused, prompt_set,
                              {"attack": "alias_swap", "source": "dataigm alias swap"})


def swap_concept_words(prompts: Iterable[EvalPrompt], spec: ConceptSpec, replacements: Sequence[str],
                       prompt_set: str, provenance: dict[str, Any], whole_phrase: bool = False) -> list[EvalPrompt]:
    """Each forget prompt of `spec` with its alias words (`whole_phrase`: its whole concept phrase,
    "stone church" rather than "church") replaced by one of `replacements` (in turn): synonyms,
    misspellings, translations of the concept words, or a neighbour (the neighbour matrix's
    prompts). Same base id as the forget prompt, so the same seeds; provenance records the base
    prompt and what replaced what."""
    if not replacements:
        return []
    pattern = _alias_pattern(list(spec.prompts.concept_phrases) + list(spec.aliases) if whole_phrase
                             else spec.aliases)
    out = []
    for i, p in enumerate(x for x in prompts if x.concept == spec.name and x.prompt_set == "forget"):
        found = pattern.search(p.prompt)
        if not found:
            continue
        replacement = replacements[i % len(replacements)]
        swapped = clean_prompt(pattern.sub(replacement, p.prompt))
        out.append(EvalPrompt(
            prompt_id=f"{p.prompt_id}-{prompt_set}", concept=p.concept, prompt_set=prompt_set, prompt=swapped,
            base_id=p.base_id, names_concept=spec.names_concept(swapped),
            provenance={**provenance, "base_prompt": p.prompt, "base_prompt_id": p.prompt_id,
                        "replaced": found.group(0), "with": replacement},
        ))
    return out


def neighbour_prompts(prompts: Iterable[EvalPrompt], spec: ConceptSpec, per_neighbour: int | None = None,
                      names: Sequence[str] | None = None) -> list[EvalPrompt]:
    """The `neighbour` prompt set of the neighbour matrix: for each neighbour the concept
    declares (`neighbours:`, or the `names` given), its forget prompts with the concept words
    replaced by the neighbour (a neighbour concept by its first concept phrase, a term as it is):
    "a photo of a stone church in a village" -> "a photo of a parachute in a village". Same base
    ids, so the same seeds as the forget prompts. At most `per_neighbour` prompts each. The whole
    concept phrase is replaced ("a stone church" -> "a parachute", "with Van Gogh style" -> "in
    the style of Claude Monet"), so nothing of the concept's own phrase colours the neighbour."""
    prompts = list(prompts)
    out: list[EvalPrompt] = []
    for relation, name in spec.neighbours.items():
        if names is not None and name not in names:
            continue
        other = spec.neighbour_spec(name)
        phrase = other.prompts.concept_phrases[0] if other is not None else \
            f"in the style of {name}" if spec.domain == "style" else name
        tag = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        made = swap_concept_words(prompts, spec, [phrase], f"neighbour-{tag}",
                                  {"neighbour": name, "relation": relation, "source": "dataigm neighbour prompts"},
                                  whole_phrase=True)
        for p in made[:per_neighbour]:
            p.prompt_set = "neighbour"
            # Another concept's name must not bring the target concept back.
            if not p.names_concept:
                out.append(p)
    return out


def _alias_pattern(aliases: Sequence[str]) -> re.Pattern[str]:
    phrases = sorted(aliases, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(w) for w in a.split()) for a in phrases)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
