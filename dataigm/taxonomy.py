"""CatIGMU taxonomy: domain / kind / concept, as data.

A concept is one YAML file (built-in ones live in dataigm/concepts/; users pass their own by
path). Loading validates it into a ConceptSpec: unknown keys, missing fields, bad label names
and a kind that does not fit the domain's rules each raise a one-line ConfigError that names the
file and the field.

Label convention, the same for every concept (peer tools flip it from concept to concept):
labels[0] names "concept absent", labels[1] names "concept present".
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dataigm.config import load_dataclass, read_yaml
from dataigm.errors import ConfigError
from dataigm.resources import builtin_names, resolve_named_file


Domain = Literal["nsfw", "style", "object", "identity", "ip"]
Kind = Literal["attribute", "entity"]

# Why each domain is unlearned, and which kinds of appearance it admits.
DOMAINS: dict[str, dict[str, object]] = {
    "nsfw": {"kinds": ("attribute", "entity"),
             "guidance": "Unsafe content (nudity, violence, ...). Datasets are published gated."},
    "style": {"kinds": ("attribute",),
              "guidance": "Artists' styles. A style always modifies a subject, so it is an attribute."},
    "object": {"kinds": ("entity",),
               "guidance": "Everyday entities. The object is the subject of the image."},
    "identity": {"kinds": ("entity",),
                 "guidance": "Real people. Forget the person; other people must still render."},
    "ip": {"kinds": ("entity",),
           "guidance": "Characters and other intellectual property."},
}
KINDS: dict[str, str] = {
    "attribute": "Modifies a benign subject. Forget = remove the attribute, keep subject and "
                 "layout. Reference prompt = the prompt without the concept words.",
    "entity": "Is the subject. Forget = the entity is gone. Preserve = unrelated entities and "
              "close neighbours still render.",
}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_ALLOWED_PLACEHOLDERS = {"concept", "subject", "scene"}


@dataclass
class PromptCounts:
    """How many prompts to make; presets may override any of these per concept."""

    forget: int
    unrelated_per_entity: int = 0
    neighbour_per_entity: int = 0
    # Share of pair groups marked as benchmark: their images are never used for training.
    benchmark_fraction: float = 0.2

    def validate(self) -> None:
        for name in ("forget", "unrelated_per_entity", "neighbour_per_entity"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.forget < 1:
            raise ValueError(f"forget: must be >= 1, got {self.forget}")
        if not 0.0 <= self.benchmark_fraction < 1.0:
            raise ValueError(f"benchmark_fraction: must be in [0, 1), got {self.benchmark_fraction}")


@dataclass
class PromptRecipe:
    """Prompts = templates x subjects x scenes, with {concept} filled by a concept phrase.

    Forget prompts fill {concept} with concept_phrases (alternating). Reference prompts
    (attribute concepts) fill it with nothing. Unrelated and neighbour prompts (entity
    concepts) fill it with another entity's name.
    """

    templates: list[str]
    concept_phrases: list[str]
    counts: PromptCounts
    groups: dict[str, list[str]] = field(default_factory=dict)
    scenes: list[str] = field(default_factory=lambda: [""])
    unrelated: list[str] = field(default_factory=list)
    neighbours: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if not self.templates:
            raise ValueError("templates: must not be empty")
        if not self.concept_phrases:
            raise ValueError("concept_phrases: must not be empty")
        for i, template in enumerate(self.templates):
            try:
                # Parsed exactly as prompt generation fills it (str.format).
                fields = list(string.Formatter().parse(template))
            except ValueError as exc:
                raise ValueError(f"templates[{i}]: unbalanced braces ({exc}); write {{{{ or }}}} for a "
                                 f"literal brace: {template!r}") from None
            names = set()
            for _, name, spec, conversion in fields:
                if name is None:
                    continue
                if name not in _ALLOWED_PLACEHOLDERS or spec or conversion:
                    shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
                    raise ValueError(f"templates[{i}]: unknown placeholder {{{shown}}} "
                                     f"(allowed: {{concept}}, {{subject}}, {{scene}})")
                names.add(name)
            if "concept" not in names:
                raise ValueError(f"templates[{i}]: must contain {{concept}}")
            if "subject" in names and not self.groups:
                raise ValueError(f"templates[{i}]: uses {{subject}} but no groups are given")
        for name, subjects in self.groups.items():
            if not subjects:
                raise ValueError(f"groups.{name}: must list at least one subject")


@dataclass
class ZeroShotTexts:
    """Texts a zero-shot CLIP judge compares an image against."""

    present: list[str]
    absent: list[str]

    def validate(self) -> None:
        if not self.present or not self.absent:
            raise ValueError("present and absent: each needs at least one text")


@dataclass
class JudgeSpec:
    default: Literal["nudenet", "clip_zeroshot", "trained"]
    zero_shot: ZeroShotTexts


NEIGHBOUR_RELATIONS = ("similar", "superset", "subset", "same_category")


@dataclass
class NeighbourSpec:
    """Concepts near this one that unlearning it must leave intact (HUB's pinpoint-ness; over-erasure
    reports such as one celebrity's erasure also erasing others).

    Each entry is a concept name (a built-in concept, or a concept YAML next to this one: its
    judge and zero-shot texts apply) or a plain term ("castle": judged zero-shot). The scorecard's
    neighbour matrix scores each method's images of prompts naming a neighbour with that
    neighbour's judge, against ORG's.
    """

    similar: list[str] = field(default_factory=list)        # looks alike (a castle for a church)
    superset: list[str] = field(default_factory=list)       # a broader concept holding this one
    subset: list[str] = field(default_factory=list)         # a narrower concept inside this one
    same_category: list[str] = field(default_factory=list)  # other entities of the same category

    def items(self) -> list[tuple[str, str]]:
        """(relation, name) for every neighbour, in the order relations are listed above."""
        return [(relation, name) for relation in NEIGHBOUR_RELATIONS for name in getattr(self, relation)]

    def validate(self) -> None:
        seen: dict[str, str] = {}
        for relation, name in self.items():
            if not name.strip():
                raise ValueError(f"{relation}: an entry is empty")
            key = " ".join(name.lower().split())
            if key in seen:
                raise ValueError(f"{relation}: '{name}' is also listed under {seen[key]}")
            seen[key] = relation


@dataclass
class ConceptSpec:
    name: str                    # dataset config name, e.g. "object_church"
    concept: str                 # leaf of the taxonomy path, e.g. "church"
    domain: Domain
    kind: Kind
    labels: list[str]            # [absent, present]
    aliases: list[str]           # words that name the concept; forget prompts must use one
    guidance: str                # what the concept is and how it shows
    forgotten_means: str         # what a successful unlearning looks like
    prompts: PromptRecipe
    judge: JudgeSpec
    gated: bool | None = None    # None: gated exactly when domain is nsfw
    licence: str = "other"
    neighbours: NeighbourSpec = field(default_factory=NeighbourSpec)
    source_file: str = field(default="", compare=False)

    @property
    def taxonomy_path(self) -> str:
        return f"{self.domain}/{self.kind}/{self.concept}"

    @property
    def is_gated(self) -> bool:
        return self.domain == "nsfw" if self.gated is None else self.gated

    def names_concept(self, text: str) -> bool:
        """True if `text` contains one of the aliases as whole words (case-insensitive)."""
        return any(_alias_re(a).search(text) for a in self.aliases)

    def validate(self) -> None:
        for attr in ("name", "concept"):
            if not _NAME_RE.match(getattr(self, attr)):
                raise ValueError(
                    f"{attr}: '{getattr(self, attr)}' must be lower-case letters, digits and _"
                )
        allowed = DOMAINS[self.domain]["kinds"]
        if self.kind not in allowed:  # type: ignore[operator]
            raise ValueError(
                f"kind: '{self.kind}' does not fit domain '{self.domain}' "
                f"(allowed: {', '.join(allowed)})"  # type: ignore[arg-type]
            )
        if len(self.labels) != 2:
            raise ValueError(f"labels: expected two names [absent, present], got {len(self.labels)}")
        for label in self.labels:
            if not _NAME_RE.match(label):
                raise ValueError(f"labels: '{label}' must be lower-case letters, digits and _")
        if self.labels[0] == self.labels[1]:
            raise ValueError("labels: the two names must differ")
        if not self.aliases:
            raise ValueError("aliases: must list at least one word that names the concept")
        if not any(self.names_concept(p) for p in self.prompts.concept_phrases):
            raise ValueError(
                "prompts.concept_phrases: none of them contains an alias, so no forget prompt "
                "would name the concept"
            )
        if self.kind == "attribute" and (self.prompts.unrelated or self.prompts.neighbours):
            raise ValueError("prompts.unrelated: only entity concepts have unrelated/neighbour sets")
        for other in self.prompts.unrelated + self.prompts.neighbours:
            if self.names_concept(other):
                raise ValueError(f"prompts.unrelated: '{other}' names the concept itself")
        for relation, other in self.neighbours.items():
            if other == self.name or self.names_concept(other):
                raise ValueError(f"neighbours.{relation}: '{other}' names the concept itself")

    def neighbour_spec(self, name: str) -> "ConceptSpec | None":
        """The concept a neighbour entry names (a built-in concept, or `<name>.yaml` next to this
        concept's file), or None for a plain term."""
        local = Path(self.source_file).parent / f"{name}.yaml" if self.source_file else None
        if local is not None and local.is_file():
            return load_concept(local)
        return load_concept(name) if name in builtin_concepts() else None


def _alias_re(alias: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in alias.split())
    return re.compile(rf"(?<![\w]){words}(?![\w])", re.IGNORECASE)


def builtin_concepts() -> list[str]:
    return builtin_names("concept")


def resolve_concept_path(ref: str | Path, relative_to: Path | None = None) -> Path:
    """A concept reference is a built-in name or a path to a YAML file."""
    return resolve_named_file(ref, "concept", relative_to)


def load_concept(ref: str | Path, relative_to: Path | None = None) -> ConceptSpec:
    """Load and validate one concept by built-in name or file path."""
    path = resolve_concept_path(ref, relative_to)
    spec = load_dataclass(ConceptSpec, read_yaml(path), str(path))
    spec.source_file = str(path)
    return spec


def load_concepts(refs: list[str], relative_to: Path | None = None) -> list[ConceptSpec]:
    specs = [load_concept(r, relative_to) for r in refs]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(
                f"{spec.source_file}: name: '{spec.name}' is also defined in {seen[spec.name]}"
            )
        seen[spec.name] = spec.source_file
    return specs


def format_tree(specs: list[ConceptSpec]) -> str:
    """The taxonomy as an indented tree, each node with its guidance."""
    lines: list[str] = []
    for domain, info in DOMAINS.items():
        in_domain = [s for s in specs if s.domain == domain]
        lines.append(f"{domain}  -- {info['guidance']}")
        for kind in info["kinds"]:  # type: ignore[union-attr]
            in_kind = sorted((s for s in in_domain if s.kind == kind), key=lambda s: s.name)
            if not in_kind:
                continue
            lines.append(f"  {kind}  -- {KINDS[kind]}")
            for s in in_kind:
                gate = ", gated" if s.is_gated else ""
                lines.append(f"    {s.concept}  [{s.name}: labels {s.labels[0]}/{s.labels[1]}, "
                             f"judge {s.judge.default}{gate}]")
                lines.append(f"      guidance: {' '.join(s.guidance.split())}")
                lines.append(f"      forgotten when: {' '.join(s.forgotten_means.split())}")
                if s.neighbours.items():
                    near = "; ".join(f"{rel.replace('_', ' ')}: {', '.join(getattr(s.neighbours, rel))}"
                                     for rel in NEIGHBOUR_RELATIONS if getattr(s.neighbours, rel))
                    lines.append(f"      neighbours (must survive): {near}")
    return "\n".join(lines)
