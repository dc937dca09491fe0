"""Presets: one YAML file that says what to build (`demo`, `paper`, or a user's file).

A preset names the concepts (built-in names or paths to concept YAML files), overrides prompt
counts, and carries one section per step: `generation`, `sources` (what `dataigm ingest` adds:
one `IngestSource` per entry, the same fields as its flags; `ingest:` is the older name of the
section), `curation` and `export`. Each section is the step's own config dataclass, so `dataigm curate RUN --set ...` and
`curation:` in a preset are the same thing. Loading goes through `resolve_config` (preset YAML,
then overrides, then one validation) and loads every concept file the preset names, so a bad
preset fails before any work.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from dataigm.config import read_yaml, resolve_config
from dataigm.curation.config import CurationConfig
from dataigm.errors import ConfigError
from dataigm.export import ExportConfig
from dataigm.generators.base import GenerationSettings
from dataigm.ingest import IngestSource
from dataigm.resources import builtin_names, resolve_named_file
from dataigm.taxonomy import ConceptSpec, PromptCounts, load_concepts


@dataclass
class CountsOverride:
    forget: int | None = None
    unrelated_per_entity: int | None = None
    neighbour_per_entity: int | None = None
    benchmark_fraction: float | None = None


@dataclass
class Preset:
    name: str
    concepts: list[str]
    seed: int = 0
    # Per concept name, or "*" for every concept; applied over the concept YAML's counts.
    prompt_counts: dict[str, CountsOverride] = field(default_factory=dict)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    sources: list[IngestSource] = field(default_factory=list)
    curation: CurationConfig = field(default_factory=CurationConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    # Judge preset used by `dataigm build`/`demo` when they train judges.
    judge: str | None = None
    source_file: str = field(default="", init=False, compare=False)
    specs: list[ConceptSpec] = field(default_factory=list, init=False, compare=False, repr=False)

    def validate(self) -> None:
        if not self.concepts:
            raise ValueError("concepts: must name at least one concept")

    def counts_for(self, spec: ConceptSpec) -> PromptCounts:
        counts = dataclasses.replace(spec.prompts.counts)
        for key in ("*", spec.name):
            override = self.prompt_counts.get(key)
            if override is None:
                continue
            for f in dataclasses.fields(override):
                value = getattr(override, f.name)
                if value is not None:
                    setattr(counts, f.name, value)
        return counts

    def spec(self, name: str) -> ConceptSpec:
        for s in self.specs:
            if s.name == name:
                return s
        raise ConfigError(
            f"{self.source_file}: concepts: '{name}' is not in this preset "
            f"({', '.join(s.name for s in self.specs)})"
        )


def builtin_presets() -> list[str]:
    return builtin_names("preset")


def resolve_preset_path(ref: str) -> Path:
    return resolve_named_file(ref, "preset")


def load_preset(ref: str, sets: Sequence[str] = (), overrides: Mapping[str, Any] | None = None) -> Preset:
    """Load and fully validate a preset by built-in name or path, with `--set` items and other
    overrides (dotted keys or nested mappings) merged in before the one validation."""
    path = resolve_preset_path(ref)
    source = str(path)
    preset = resolve_config(Preset, _renamed_sections(read_yaml(path), source), source, sets=sets,
                            overrides=overrides)
    preset.source_file = source
    preset.specs = load_concepts(preset.concepts, relative_to=path.parent)
    names = {s.name for s in preset.specs}
    for key in preset.prompt_counts:
        if key != "*" and key not in names:
            raise ConfigError(f"{source}: prompt_counts.{key}: not a concept of this preset")
    for spec in preset.specs:
        counts = preset.counts_for(spec)
        try:
            counts.validate()
        except ValueError as exc:
            raise ConfigError(f"{source}: prompt_counts.{spec.name}.{exc}") from None
    for i, src in enumerate(preset.sources):
        if src.concept not in names:
            raise ConfigError(f"{source}: sources[{i}].concept: '{src.concept}' is not a concept of this preset")
        if not src.paths:
            raise ConfigError(f"{source}: sources[{i}].paths: must list at least one folder or file")
        # Paths in a preset are relative to the preset file, wherever the command runs.
        src.paths = [p if Path(p).is_absolute() else str(path.parent / p) for p in src.paths]
    return preset


def _renamed_sections(data: Any, source: str) -> Any:
    """`ingest:` is the older name of `sources:`; giving both is ambiguous."""
    if isinstance(data, dict) and "ingest" in data:
        if "sources" in data:
            raise ConfigError(f"{source}: ingest: is the older name of sources:; give only sources:")
        data = {("sources" if k == "ingest" else k): v for k, v in data.items()}
    return data


def select_concepts(preset: Preset, only: str | None) -> list[ConceptSpec]:
    """`--concepts a,b`: a subset of the preset's concepts, by name."""
    if not only:
        return list(preset.specs)
    wanted = [c.strip() for c in only.split(",") if c.strip()]
    return [preset.spec(name) for name in wanted]
