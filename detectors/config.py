"""Judge training configuration: dataclasses validated by dataigm.config.

A preset (pipelines/presets/judge-*.yaml) fills everything except `dataset`, `concept` and `out`,
which the CLI sets. Bad values raise a one-line ConfigError naming the file and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from dataigm.config import read_yaml, resolve_config
from dataigm.devices import Precision, check_device
from dataigm.resources import resolve_named_file



@dataclass
class ModelConfig:
    backbone: str = "test_resnet"
    pretrained: bool = False  # True downloads the backbone's weights through timm (user machines)
    head: Literal["linear", "igmu"] = "linear"
    freeze_backbone: bool = True
    drop_rate: float = 0.3  # IGMU head dropout
    image_size: int | None = None  # overrides the backbone's input size (flexible-size backbones)
    cache_features: bool = True  # frozen + no augmentation: encode once (False re-encodes every epoch)
    # Autocast for the frozen encode: auto = bfloat16 (float16 where unsupported) on a GPU,
    # float32 on the CPU. Recorded in the feature-cache key.
    encode_precision: Precision = "auto"
    backbone_args: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        import timm

        # Validates the name against timm's registry only: nothing is downloaded here.
        if not timm.is_model(self.backbone):
            raise ValueError(f"backbone: unknown timm model {self.backbone!r}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"drop_rate: must be in [0, 1), got {self.drop_rate}")
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"image_size: must be at least 8, got {self.image_size}")


@dataclass
class LoaderConfig:
    batch_size: int = 32
    # Decode workers; None sizes them to keep the device fed (dataigm.devices.default_workers:
    # the node's cores on a GPU, none on the CPU).
    num_workers: int | None = None
    augment: bool = False  # random resized crop + flip on train images (disables the feature cache)
    balance: Literal["loss", "sampler", "none"] = "loss"

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be positive, got {self.batch_size}")
        if self.num_workers is not None and self.num_workers < 0:
            raise ValueError(f"num_workers: must be >= 0, got {self.num_workers}")


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-4
    max_epochs: int = 20
    patience: int = 5  # early stopping on the monitored validation metric
    monitor: Literal["val_auroc", "val_loss", "val_acc"] = "val_auroc"

    def validate(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr: must be positive, got {self.lr}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs: must be at least 1, got {self.max_epochs}")


@dataclass
class ThresholdConfig:
    rule: Literal["max_f1", "target_fpr", "fixed"] = "max_f1"
    target_fpr: float = 0.05
    value: float = 0.5  # used by rule=fixed

    def validate(self) -> None:
        if not 0.0 < self.target_fpr < 1.0:
            raise ValueError(f"target_fpr: must be in (0, 1), got {self.target_fpr}")


@dataclass
class TrainerConfig:
    device: str = "auto"    # auto | cpu | cuda | cuda:N; encoding and evaluation run there too
    devices: int = 1        # how many (with strategy ddp)
    strategy: str = "auto"  # "ddp" runs the same code on several devices
    precision: str = "32-true"
    deterministic: bool = True
    progress_bar: bool = True

    def validate(self) -> None:
        check_device(self.device)
        if self.devices < 1:
            raise ValueError(f"devices: must be >= 1, got {self.devices}")


@dataclass
class TrainConfig:
    dataset: str = ""  # exported dataset folder or hub id
    concept: str = ""
    out: str = ""  # JUDGE folder
    overwrite: bool = False  # replace a dataigm judge already at `out` (a folder of other files never is)
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    cache_dir: str | None = None  # frozen-feature cache; default ~/.cache/dataigm/features
    dataset_revision: str | None = None

    @property
    def cached_features(self) -> bool:
        """The fast path: a frozen backbone without augmentation is encoded once."""
        return self.model.freeze_backbone and self.model.cache_features and not self.loader.augment


@dataclass
class EvaluateConfig:
    """Settings of `dataigm evaluate` (which judge and dataset are arguments)."""

    concept: str | None = None  # dataset config; default: the judge's concept
    rethreshold: bool = False   # choose a new threshold on this dataset's validation split
    rule: Literal["max_f1", "target_fpr"] = "max_f1"
    target_fpr: float = 0.05
    batch_size: int = 64
    device: str = "auto"   # auto | cpu | cuda | cuda:N

    def validate(self) -> None:
        check_device(self.device)
        if not 0.0 < self.target_fpr < 1.0:
            raise ValueError(f"target_fpr: must be in (0, 1), got {self.target_fpr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


@dataclass
class ScoreConfig:
    """Settings of `dataigm judge`: scoring a folder of images with one judge."""

    concept: str | None = None        # needed by clip:MODEL zero-shot judges
    threshold: float | None = None    # overrides the judge's own decision threshold
    batch_size: int = 32
    device: str = "auto"   # auto | cpu | cuda | cuda:N

    def validate(self) -> None:
        check_device(self.device)
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold: must be in [0, 1], got {self.threshold}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


def load_train_config(preset: str | Path, sets: Sequence[str] = (), **overrides: Any) -> TrainConfig:
    """A judge preset (`demo`, `paper` or a file) with overrides, validated once.

    Overrides merge like `--set`: `model={"image_size": 128}` changes one field of the preset's
    model section (never the whole section), dotted keys (`**{"optim.max_epochs": 3}`) work too,
    and `sets` takes `--set KEY=VALUE` items.
    """
    path = resolve_named_file(str(preset), "judge preset")
    return resolve_config(TrainConfig, read_yaml(path), str(path), sets=sets, overrides=overrides)
