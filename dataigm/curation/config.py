"""Curation settings: the `curation:` section of a preset, or a YAML file for `dataigm curate`.

Every threshold has a default, so an empty mapping is a valid config. Load with
`load_dataclass(CurationConfig, data, source)` (dataigm.config), which rejects unknown keys and
wrong types with a one-line error naming the file and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dataigm.nudenet_rule import IGMU_THRESHOLD, NUDENET_CLASSES  # IGMU's rule, shared with the NudeNet judge
from dataigm.devices import check_device
from dataigm.registry import Registry

# Curation steps by name; a preset lists them in the order they run (`curation.steps`). Others
# are added through the `dataigm.curation_steps` entry-point group (a `Step` subclass).
CURATION_STEPS: Registry[type] = Registry("curation step", "dataigm.curation_steps")
CURATION_STEPS.register("validation", "dataigm.curation.steps:Validation")
CURATION_STEPS.register("exact_dedup", "dataigm.curation.steps:ExactDedup")
CURATION_STEPS.register("near_dedup", "dataigm.curation.steps:NearDedup")
CURATION_STEPS.register("quality", "dataigm.curation.steps:Quality")
CURATION_STEPS.register("judge_agreement", "dataigm.curation.steps:JudgeAgreement")
DEFAULT_STEPS = ("validation", "exact_dedup", "near_dedup", "quality", "judge_agreement")


@dataclass
class ValidationConfig:
    """Every stored file must decode; absurd sizes and aspect ratios are dropped."""

    enabled: bool = True
    min_side: int = 8
    max_side: int = 16384
    max_aspect: float = 6.0         # long side / short side
    max_pixels: int = 89_478_485    # Pillow's decompression-bomb limit
    verify_sha256: bool = True      # the file's bytes must match the manifest's sha256

    def validate(self) -> None:
        if self.min_side < 1:
            raise ValueError(f"min_side: must be >= 1, got {self.min_side}")
        if self.max_side < self.min_side:
            raise ValueError(f"max_side: must be >= min_side ({self.min_side}), got {self.max_side}")
        if self.max_aspect < 1.0:
            raise ValueError(f"max_aspect: must be >= 1, got {self.max_aspect}")


@dataclass
class ExactDedupConfig:
    enabled: bool = True


@dataclass
class NearDedupConfig:
    """Perceptual-hash near duplicates within a Hamming radius (64-bit hashes).

    Measured on this project's fixtures: JPEG q=70 and 0.5x/1.5x resizes move a phash by <= 2
    bits, a 2% crop by <= 6, a 4% crop by up to ~12 (mean 4); distinct images sit around 32.
    """

    enabled: bool = True
    hash: Literal["phash", "dhash"] = "phash"
    radius: int = 8
    # Which rows are compared: near duplicates only matter inside one dataset config (concept).
    scope: Literal["concept", "all"] = "concept"
    method: Literal["auto", "flat", "mih", "faiss-multihash"] = "auto"
    # Which member of a cluster is kept: the smallest id (deterministic, the default) or the
    # one with the most pixels (ties by id). "largest" also keeps upscaled copies over originals.
    prefer: Literal["id", "largest"] = "id"

    def validate(self) -> None:
        if not 0 <= self.radius <= 24:
            raise ValueError(f"radius: must be in [0, 24] bits of 64, got {self.radius}")


@dataclass
class QualityConfig:
    enabled: bool = True
    min_side: int = 64              # shorter side, pixels
    min_std: float = 2.0            # grey-level standard deviation (0-255): below = flat/blank
    min_entropy: float = 1.0        # grey-level histogram entropy in bits (0-8)

    def validate(self) -> None:
        if self.min_side < 1:
            raise ValueError(f"min_side: must be >= 1, got {self.min_side}")
        if self.min_std < 0 or self.min_entropy < 0:
            raise ValueError("min_std: min_std and min_entropy must be >= 0")


@dataclass
class ConceptJudgeConfig:
    """How one concept's labels are checked against a judge.

    judge: `none`, `auto` (nudenet if installed, else skipped with a note), or any judge
    reference (dataigm.judging.load_judge): `nudenet`, `clip:MODEL`, a trained judge folder or
    hub id, or a registered judge. The judge's score is P(concept present); the judge says
    "present" when score >= threshold. A row disagrees when its label says otherwise by more
    than `margin` (score < threshold - margin for present rows, score >= threshold + margin for
    absent rows).

    What happens to a disagreeing row depends on who set its label (`labelled_by`):
    `action` for labels the source gave (class folders, label columns, --label: people), whose
    default `flag` keeps the row and marks it (`judge_disagrees`, exported with `judge_score`),
    so a detector never overrides a human label unless you ask; `prompt_label_action` for images
    dataigm generated, whose label is only the prompt's intent: by default `drop`, since an image
    that failed to show what its prompt asked for (or showed it unasked) is a wrong label.
    """

    judge: str = "auto"
    action: Literal["drop", "flag"] = "flag"
    prompt_label_action: Literal["drop", "flag"] = "drop"
    threshold: float = IGMU_THRESHOLD
    margin: float = 0.0
    nudenet_classes: list[str] = field(default_factory=lambda: list(NUDENET_CLASSES))
    batch_size: int = 8
    device: str = "auto"   # auto | cpu | cuda | cuda:N (NudeNet always runs on the CPU)

    def validate(self) -> None:
        check_device(self.device)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold: must be in [0, 1], got {self.threshold}")
        if self.margin < 0:
            raise ValueError(f"margin: must be >= 0, got {self.margin}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


@dataclass
class JudgeAgreementConfig:
    enabled: bool = True
    # Per concept (dataset config name). Concepts not listed are not judged.
    concepts: dict[str, ConceptJudgeConfig] = field(
        default_factory=lambda: {"nudity": ConceptJudgeConfig(judge="auto")}
    )


@dataclass
class ReviewConfig:
    """Human review overrides: a CSV or JSONL of id,action[,label]; action drop|relabel|keep."""

    file: str | None = None


@dataclass
class CurationConfig:
    # The automatic steps, in the order they run; review overrides (human decisions) always
    # come after them.
    steps: list[str] = field(default_factory=lambda: list(DEFAULT_STEPS))
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    exact_dedup: ExactDedupConfig = field(default_factory=ExactDedupConfig)
    near_dedup: NearDedupConfig = field(default_factory=NearDedupConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    judge_agreement: JudgeAgreementConfig = field(default_factory=JudgeAgreementConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    # Settings of steps added through entry points, by step name.
    step_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def validate(self) -> None:
        for i, name in enumerate(self.steps):
            if name not in CURATION_STEPS:
                raise ValueError(f"steps[{i}]: unknown curation step '{name}' "
                                 f"(known: {', '.join(CURATION_STEPS.names())})")
        if len(set(self.steps)) != len(self.steps):
            raise ValueError("steps: a step is listed twice")
