"""Prompt sets per concept: forget, reference, unrelated, neighbour, and a benchmark subset.

Prompts are templates x subjects x scenes from the concept YAML, enumerated in a seeded order so
the same seed always gives the same sets. Exact and normalised duplicates are removed (peer prompt
sets carry 0.2-13.8% duplicates), every forget prompt is checked to name the concept through an
alias, and every other prompt is checked not to (peer style sets had up to 45% of prompts that
never name the artist). Each check's result is reported, and each dropped prompt keeps its reason.

Pairing: for an attribute concept the reference prompt is the forget prompt with the concept words
removed; for an entity concept the unrelated and neighbour prompts put another entity into the
forget prompt's template and scene. Prompts of one pair share a pair_id, so generation can give
them the same seeds and the splitter can keep them together.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from dataigm.taxonomy import ConceptSpec, PromptCounts

PROMPT_SETS = ("forget", "reference", "unrelated", "neighbour")
PROMPT_COLUMNS = (
    "prompt_id", "concept", "taxonomy_path", "prompt_set", "prompt", "pair_id", "group",
    "benchmark", "names_concept",
)


@dataclass
class PromptRow:
    prompt_id: str
    concept: str          # dataset config name (ConceptSpec.name)
    taxonomy_path: str
    prompt_set: str
    prompt: str
    pair_id: str
    group: str
    benchmark: bool
    names_concept: bool


@dataclass
class PromptReport:
    concept: str
    counts: dict[str, int] = field(default_factory=dict)
    requested: dict[str, int] = field(default_factory=dict)
    duplicates_removed: int = 0
    forget_naming_concept: int = 0
    forget_total: int = 0
    dropped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SPACE_RE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:!?])")
_REPEATED_COMMA_RE = re.compile(r"(,\s*)+,")
_ARTICLE_RE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def clean_prompt(text: str) -> str:
    """Tidy a filled template: spaces, stray commas, and 'a' -> 'an' before a vowel."""
    text = _SPACE_RE.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    text = _REPEATED_COMMA_RE.sub(",", text)
    text = text.strip(" ,;")
    text = _ARTICLE_RE.sub(lambda m: m.group(1) + "n ", text)
    return text


def normalise_key(text: str) -> str:
    """Key for 'normalised duplicate' detection: case, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _fill(template: str, concept: str, subject: str, scene: str) -> str:
    return clean_prompt(template.format(concept=concept, subject=subject, scene=scene))


def _is_benchmark(seed: int, concept: str, pair_id: str, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{concept}:{pair_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _split_evenly(total: int, names: list[str]) -> dict[str, int]:
    base, extra = divmod(total, len(names))
    return {name: base + (1 if i < extra else 0) for i, name in enumerate(names)}


def build_prompt_sets(
    spec: ConceptSpec, counts: PromptCounts | None = None, seed: int = 0
) -> tuple[list[PromptRow], PromptReport]:
    """Build all prompt sets of one concept. Deterministic in (spec, counts, seed)."""
    recipe = spec.prompts
    counts = counts or recipe.counts
    report = PromptReport(concept=spec.name)
    rows: list[PromptRow] = []
    seen: set[str] = set()

    def add(prompt_set: str, prompt: str, pair_id: str, group: str, index: int) -> bool:
        key = normalise_key(prompt)
        if key in seen:
            report.duplicates_removed += 1
            return False
        names = spec.names_concept(prompt)
        if prompt_set == "forget" and not names:
            report.dropped.append({"prompt": prompt, "reason": "forget prompt does not name the concept"})
            return False
        if prompt_set != "forget" and names:
            report.dropped.append({"prompt": prompt, "reason": f"{prompt_set} prompt names the concept"})
            return False
        seen.add(key)
        rows.append(PromptRow(
            prompt_id=f"{spec.name}-{prompt_set}-{index:05d}", concept=spec.name,
            taxonomy_path=spec.taxonomy_path, prompt_set=prompt_set, prompt=prompt,
            pair_id=pair_id, group=group,
            benchmark=_is_benchmark(seed, spec.name, pair_id, counts.benchmark_fraction),
            names_concept=names,
        ))
        return True

    groups = recipe.groups or {"all": [""]}
    per_group = _split_evenly(counts.forget, list(groups))
    # The (template, subject, scene) of each accepted forget prompt, in order: unrelated and
    # neighbour prompts reuse them so the pair differs only in the entity.
    bases: list[tuple[str, str, str, str]] = []  # (template, subject, scene, pair_id)
    spare: list[tuple[str, str, str]] = []
    forget_index = 0
    for group, subjects in groups.items():
        rng = random.Random(f"{seed}:{spec.name}:{group}")
        # One forget prompt per (template, subject, scene) first, the concept phrase alternating
        # (IGMU alternates "nude"/"naked"): then each unrelated prompt derived from it is unique
        # too. For an attribute the reference prompt must be unique, so that is all there is;
        # an entity may reuse a frame with another phrase when the frames run out.
        frames = [(t, s, sc) for t in recipe.templates for s in subjects for sc in recipe.scenes]
        rng.shuffle(frames)
        candidates: list[tuple[str, str, str, str | None]] = [(*f, None) for f in frames]
        if spec.kind == "entity":
            extra_phrases = [(*f, p) for f in frames for p in recipe.concept_phrases]
            rng.shuffle(extra_phrases)
            candidates += extra_phrases
        accepted = 0
        for template, subject, scene, phrase in candidates:
            if accepted >= per_group[group]:
                spare.append((template, subject, scene))
                continue
            if phrase is None:
                phrase = recipe.concept_phrases[accepted % len(recipe.concept_phrases)]
            pair_id = f"{spec.name}-pair-{forget_index:05d}"
            forget = _fill(template, phrase, subject, scene)
            if spec.kind == "attribute":
                reference = _fill(template, "", subject, scene)
                if normalise_key(reference) in seen or normalise_key(forget) in seen:
                    report.duplicates_removed += 1
                    continue
                if not add("forget", forget, pair_id, group, forget_index):
                    continue
                if not add("reference", reference, pair_id, group, forget_index):
                    # Keep sets paired: a forget prompt without its reference is removed too.
                    rows.pop()
                    seen.discard(normalise_key(forget))
                    continue
            elif not add("forget", forget, pair_id, group, forget_index):
                continue
            bases.append((template, subject, scene, pair_id))
            forget_index += 1
            accepted += 1

    report.requested["forget"] = counts.forget
    if spec.kind == "entity":
        # Bases beyond the forget prompts (spare combinations) get pair ids of their own.
        extra = [(t, s, sc, f"{spec.name}-pair-{len(bases) + i:05d}") for i, (t, s, sc) in enumerate(spare)]
        for prompt_set, entities, per_entity in (
            ("unrelated", recipe.unrelated, counts.unrelated_per_entity),
            ("neighbour", recipe.neighbours, counts.neighbour_per_entity),
        ):
            index = 0
            for entity in entities:
                made = 0
                for template, subject, scene, pair_id in bases + extra:
                    if made >= per_entity:
                        break
                    if add(prompt_set, _fill(template, entity, subject, scene), pair_id, entity, index):
                        made += 1
                        index += 1
            report.requested[prompt_set] = per_entity * len(entities)

    for name in PROMPT_SETS:
        report.counts[name] = sum(1 for r in rows if r.prompt_set == name)
    if spec.kind == "attribute":
        report.requested["reference"] = counts.forget
    forget_rows = [r for r in rows if r.prompt_set == "forget"]
    report.forget_total = len(forget_rows)
    report.forget_naming_concept = sum(r.names_concept for r in forget_rows)
    return rows, report


def shortfalls(report: PromptReport) -> list[str]:
    """Sets that came out smaller than requested (not enough distinct combinations)."""
    return [
        f"{name}: {report.counts.get(name, 0)} of {want} requested"
        for name, want in report.requested.items()
        if report.counts.get(name, 0) < want
    ]


def prompts_table(rows: list[PromptRow]) -> Any:
    """Prompt rows as a pyarrow Table (the dataset's `prompts` config later)."""
    import pyarrow as pa

    return pa.Table.from_pylist([asdict(r) for r in rows]) if rows else pa.table(
        {c: pa.array([], pa.bool_() if c in ("benchmark", "names_concept") else pa.string())
         for c in PROMPT_COLUMNS}
    )


# Words that only join a concept phrase to the rest of a prompt ("with Van Gogh style", "in the
# style of Vincent van Gogh", "by Van Gogh"): they go with the alias, or the stripped prompt
# keeps a dangling "in the style of".
_CONNECTIVE_BEFORE = r"(?:(?:with|in\s+the\s+style\s+of|in\s+the\s+manner\s+of|by)\s+)?"
_CONNECTIVE_AFTER = r"(?:\s+style)?"


def strip_words(prompt: str, words: list[str] | tuple[str, ...]) -> str:
    """`prompt` with every phrase of `words` removed from ONE copy of it (longest phrases first,
    whole words, any case, with their connectives), then tidied.

    Repeated until none is left, so an alias that only appears once another is removed ("van
    gogh van gogh style") is removed too. (IGMU's released CSDR code strips seven concatenated
    copies of the prompt, which leaves the concept in the text it scores; this never copies.)
    """
    phrases = sorted({" ".join(w.split()) for w in words if w.strip()}, key=len, reverse=True)
    if not phrases:
        return clean_prompt(prompt)
    body = "|".join(r"\s+".join(re.escape(part) for part in p.split()) for p in phrases)
    pattern = re.compile(rf"(?<!\w){_CONNECTIVE_BEFORE}(?:{body}){_CONNECTIVE_AFTER}(?!\w)", re.IGNORECASE)
    text = prompt
    while True:
        stripped = pattern.sub(" ", text)
        if stripped == text:
            return clean_prompt(stripped)
        text = stripped


def strip_concept_words(prompt: str, spec: ConceptSpec) -> str:
    """The prompt with every alias of the concept removed: the reference prompt of an attribute
    concept, and the text alignment metrics score against."""
    return strip_words(prompt, list(spec.aliases))
