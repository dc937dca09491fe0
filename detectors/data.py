"""Judge data: the exported dataset read through `datasets.load_dataset`, albumentations transforms.

The dataset is a dataigm export (a local folder or a hub id): one config per concept, splits
train/validation/test, `image` (Image), `label` (ClassLabel; 0 = concept absent) and provenance
columns (`source`, `source_name`, `generator`, ...). Transforms derive from the backbone's timm
data config (input size, mean, std, interpolation), so a CLIP backbone gets CLIP statistics.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import albumentations as A
import cv2
import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, TensorDataset, WeightedRandomSampler

from dataigm.errors import InputError
from dataigm.splits import SPLITS

_INTERP = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


def local_cache_dir(folder: Path) -> str:
    """A `datasets` cache folder for a local dataset folder, keyed by its path and files.

    `datasets` keys the cache of a local folder on the folder's name, its README and the file
    names, not on the data or the folder's location: two folders named `dataset` with the same
    layout, or one folder rewritten in place, can share a stale entry. Keying on (path, size,
    mtime) of every file makes any change prepare a fresh cache.
    """
    import datasets

    entries = sorted((p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns)
                     for p in folder.rglob("*") if p.is_file() for st in [p.stat()])
    key = hashlib.sha256(json.dumps([str(folder.resolve()), entries]).encode()).hexdigest()[:16]
    return str(Path(datasets.config.HF_DATASETS_CACHE) / "dataigm-local" / key)


def load_concept_dataset(dataset: str, concept: str, revision: str | None = None) -> Any:
    """`load_dataset(dataset, name=concept)` with one-line errors for the usual mistakes."""
    import datasets

    local = Path(dataset)
    if (dataset.startswith((".", "/")) or local.exists()) and not local.is_dir():
        raise InputError(f"{dataset}: dataset folder not found")
    try:
        cache_dir = local_cache_dir(local) if local.is_dir() else None
        ds = datasets.load_dataset(dataset, name=concept, revision=revision, cache_dir=cache_dir)
    except ValueError as exc:
        # datasets reports an unknown config name as a ValueError listing the available ones.
        raise InputError(f"{dataset}: cannot load concept {concept!r}: {' '.join(str(exc).split())[:300]}") from None
    except FileNotFoundError as exc:
        raise InputError(f"{dataset}: dataset not found ({' '.join(str(exc).split())[:200]})") from None
    missing = [s for s in SPLITS if s not in ds]
    if missing:
        raise InputError(f"{dataset}: concept {concept!r} has no split(s) {', '.join(missing)}")
    if "label" not in ds["train"].features or not hasattr(ds["train"].features["label"], "names"):
        raise InputError(f"{dataset}: concept {concept!r}: column 'label' must be a ClassLabel")
    return ds


def resolve_data_config(model: torch.nn.Module, image_size: int | None = None) -> dict[str, Any]:
    """timm's data config for `model`, with an optional square size override; crop_pct is 1.0
    because judges see the whole image (a concept near the border must not be cropped away)."""
    import timm

    cfg = dict(timm.data.resolve_model_data_config(model))
    if image_size is not None:
        cfg["input_size"] = (cfg["input_size"][0], image_size, image_size)
    cfg["crop_pct"] = 1.0
    cfg["mean"] = tuple(float(v) for v in cfg["mean"])
    cfg["std"] = tuple(float(v) for v in cfg["std"])
    cfg["input_size"] = tuple(int(v) for v in cfg["input_size"])
    return cfg


def build_transform(data_config: dict[str, Any], train: bool = False, augment: bool = False,
                    normalise: bool = True) -> A.Compose:
    """Albumentations pipeline (numpy HWC uint8 RGB -> normalised CHW float tensor). With
    normalise=False the result stays a uint8 CHW tensor (a quarter of the bytes through the
    DataLoader); the device normalises it (features.normalise_on_device)."""
    _, h, w = data_config["input_size"]
    interp = _INTERP.get(data_config.get("interpolation", "bilinear"), cv2.INTER_LINEAR)
    if train and augment:
        # Geometric only: colour is often the concept itself (a style palette, a red object).
        geo: list[Any] = [
            A.RandomResizedCrop(size=(h, w), scale=(0.6, 1.0), interpolation=interp),
            A.HorizontalFlip(p=0.5),
        ]
    else:
        geo = [A.Resize(height=h, width=w, interpolation=interp)]
    norm = [A.Normalize(mean=data_config["mean"], std=data_config["std"], max_pixel_value=255.0)] if normalise else []
    return A.Compose(geo + norm + [A.ToTensorV2()])


def transform_key(transform: A.Compose) -> str:
    """A stable digest of a transform pipeline, part of the feature-cache key."""
    text = json.dumps(A.to_dict(transform), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_rgb_array(image: Any) -> np.ndarray:
    """PIL image, path or array -> HWC uint8 RGB (grey, RGBA and palette images converted)."""
    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            return np.array(im.convert("RGB"))
    if isinstance(image, Image.Image):
        return np.array(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    return arr.astype(np.uint8, copy=False)


class ImageSplit(Dataset):
    """One split of the HF dataset as (image tensor, label) pairs."""

    def __init__(self, split: Any, transform: Callable[..., Any]) -> None:
        self.split = split
        self.transform = transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, int]:
        row = self.split[int(idx)]
        image = self.transform(image=to_rgb_array(row["image"]))["image"]
        return image, int(row["label"])


class JudgeDataModule(pl.LightningDataModule):
    """Images (fine-tuning, or first pass of the cache) or cached features (frozen fast path)."""

    def __init__(
        self,
        dataset: str,
        concept: str,
        data_config: dict[str, Any],
        batch_size: int = 32,
        num_workers: int = 0,
        augment: bool = False,
        balance: str = "loss",
        revision: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.dataset_id = dataset
        self.concept = concept
        self.data_config = data_config
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.augment = augment
        self.balance = balance
        self.revision = revision
        self.seed = seed
        self.ds: Any = None
        self.features: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None

    # datasets caches to disk itself, so loading in setup() on every process is cheap and
    # correct under DDP (prepare_data runs on one process only and cannot hold state).
    def prepare_data(self) -> None:
        load_concept_dataset(self.dataset_id, self.concept, self.revision)

    def setup(self, stage: str | None = None) -> None:
        if self.ds is None:
            self.ds = load_concept_dataset(self.dataset_id, self.concept, self.revision)

    @property
    def label_names(self) -> list[str]:
        self.setup()
        return list(self.ds["train"].features["label"].names)

    @property
    def fingerprint(self) -> str:
        """A digest of what the judge is trained and evaluated on: per split, the rows' ids,
        labels and image sha256s (dataigm exports carry them; other datasets are hashed on their
        image column). Reads no pixels for a dataigm export."""
        self.setup()
        digest = hashlib.sha256()
        for split in SPLITS:
            data = self.ds[split]
            columns = [c for c in ("id", "label", "sha256") if c in data.column_names]
            if "sha256" not in columns:
                columns.append("image")
            table = data.select_columns(columns).with_format("arrow")[:]
            digest.update(split.encode())
            for name in columns:
                for chunk in table.column(name).chunks:
                    for buf in chunk.buffers():
                        if buf is not None:
                            digest.update(buf)
        return digest.hexdigest()[:16]

    def labels(self, split: str) -> np.ndarray:
        self.setup()
        return np.asarray(self.ds[split]["label"], dtype=np.int64)

    def column(self, split: str, name: str) -> list[Any]:
        self.setup()
        if name not in self.ds[split].column_names:
            return [""] * len(self.ds[split])
        return list(self.ds[split][name])

    def image_split(self, split: str, train: bool = False, normalise: bool = True) -> ImageSplit:
        self.setup()
        return ImageSplit(self.ds[split], build_transform(self.data_config, train=train, augment=self.augment,
                                                          normalise=normalise))

    def eval_transform(self) -> A.Compose:
        return build_transform(self.data_config, train=False)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels("train"), minlength=len(self.label_names))

    def _loader(self, split: str, train: bool) -> DataLoader:
        data: Dataset
        if self.features is not None:
            data = TensorDataset(*self.features[split])
        else:
            data = self.image_split(split, train=train)
        sampler = None
        shuffle = train
        if train and self.balance == "sampler":
            counts = self.class_counts().astype(np.float64)
            weights = (1.0 / np.maximum(counts, 1))[self.labels("train")]
            sampler = WeightedRandomSampler(torch.as_tensor(weights), num_samples=len(weights),
                                            generator=torch.Generator().manual_seed(self.seed))
            shuffle = False
        return DataLoader(
            data,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers if self.features is None else 0,
            persistent_workers=self.num_workers > 0 and self.features is None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
