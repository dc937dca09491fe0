"""Frozen-feature cache: encode each split once with a frozen backbone, train the head on features.

With a frozen backbone and no augmentation every epoch would push the same images through the
same backbone; encoding once turns N epochs into one backbone pass plus N cheap head passes.

The encode runs on the training device, under autocast (bfloat16/float16 on a GPU by default,
configurable), with DataLoader workers that decode and resize images to uint8 while the device
normalises them: on real data the encode is bounded by decoding, so the workers do no more than
the decode-and-resize floor. Under a multi-process launch (`torchrun`, `accelerate launch`) each
process encodes its part of every split and the main process writes the one cache file.

The cache key is the dataset fingerprint + a digest of the backbone weights (so two random-init
backbones never share an entry) + the transform digest + the encode precision. Entries are
safetensors files written atomically; nothing is pickled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from dataigm.detectors.data import JudgeDataModule, transform_key
from dataigm.detectors.networks import classifier, pooled_features
from dataigm.devices import Precision, autocast_dtype, precision_name, world_size
from dataigm.io import atomic_path
from dataigm.splits import SPLITS


def default_cache_dir() -> Path:
    base = os.environ.get("DATAIGM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dataigm")
    return Path(base) / "features"


def backbone_digest(model: nn.Module) -> str:
    """Digest of every weight outside the classifier (the frozen part)."""
    head_ids = {id(p) for p in classifier(model).parameters()}
    h = hashlib.sha256()
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in head_ids:
            continue
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def normalise_on_device(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 CHW batch -> normalised float batch, as albumentations' Normalize(max_pixel_value=255)."""
    return (x.float() / 255.0 - mean) / std


@torch.no_grad()
def encode(model: nn.Module, loader: DataLoader, device: torch.device | str = "cpu", desc: str = "encode",
           dtype: Any = None, normalise: tuple[Any, Any] | None = None,
           progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features (classifier input) and labels for every batch of `loader`.

    `normalise=(mean, std)`: the loader yields uint8 images, normalised here on the device.
    `dtype`: autocast dtype (None: float32). Features come back as float32 on the CPU.
    """
    was_training = model.training
    model.eval().to(device)
    device_type = torch.device(device).type
    stats = None
    if normalise is not None:
        stats = [torch.as_tensor(v, dtype=torch.float32, device=device).view(1, -1, 1, 1) for v in normalise]
    feats, labels = [], []
    for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress):
        x = x.to(device, non_blocking=True)
        if stats is not None:
            x = normalise_on_device(x, *stats)
        with torch.autocast(device_type=device_type, dtype=dtype, enabled=dtype is not None):
            feats.append(pooled_features(model, x).float().cpu())
        labels.append(torch.as_tensor(y))
    model.train(was_training)
    if not feats:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)
    return torch.cat(feats), torch.cat(labels).long()


def cache_key(model: nn.Module, dm: JudgeDataModule, backbone: str, dtype: Any = None) -> str:
    parts = [dm.fingerprint, backbone, backbone_digest(model), transform_key(dm.eval_transform()),
             precision_name(dtype)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def split_loader(dm: JudgeDataModule, split: str, batch_size: int, num_workers: int, device: str,
                 indices: list[int] | None = None) -> DataLoader:
    """uint8 images of one split (or of `indices` in it), decoded and resized by workers."""
    data: Any = dm.image_split(split, train=False, normalise=False)
    if indices is not None:
        data = Subset(data, indices)
    on_gpu = torch.device(device).type == "cuda"
    return DataLoader(data, batch_size=batch_size, num_workers=num_workers, pin_memory=on_gpu,
                      persistent_workers=False, prefetch_factor=4 if num_workers > 0 else None)


def cached_features(
    model: nn.Module,
    dm: JudgeDataModule,
    backbone: str,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    precision: Precision = "auto",
    num_workers: int = 0,
    progress: bool = True,
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], bool]:
    """Features for every split, from the cache or freshly encoded. Returns (features, hit)."""
    device = str(device)
    dtype = autocast_dtype(device, precision)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache_dir / f"{cache_key(model, dm, backbone, dtype)}.safetensors"
    if path.is_file():
        return _load(path), True
    state = _distributed_state(device)
    stats = (dm.data_config["mean"], dm.data_config["std"])
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for split in SPLITS:
        n = len(dm.image_split(split, train=False))
        if state is None:
            loader = split_loader(dm, split, batch_size, num_workers, device)
            out[split] = encode(model, loader, device, f"encode {split}", dtype, stats, progress)
            continue
        # Each process encodes a contiguous part; the main process puts them back in order.
        with state.split_between_processes(list(range(n))) as mine:
            loader = split_loader(dm, split, batch_size, num_workers, device, list(mine))
            part = encode(model, loader, device, f"encode {split}", dtype, stats,
                          progress and state.is_main_process)
        parts = _gather(state, part)
        out[split] = (torch.cat([p[0] for p in parts if p[0].numel()]) if n else torch.zeros(0, 0),
                      torch.cat([p[1] for p in parts]))
    if state is None or state.is_main_process:
        tensors = {f"{s}.{k}": t.contiguous() for s, (x, y) in out.items() for k, t in (("x", x), ("y", y))}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp))
    if state is not None:
        state.wait_for_everyone()
    return out, False


def _load(path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    tensors = load_file(str(path))
    return {s: (tensors[f"{s}.x"], tensors[f"{s}.y"]) for s in SPLITS}


def _distributed_state(device: str) -> Any:
    """accelerate's PartialState under a multi-process launch, else None."""
    if world_size() <= 1:
        return None
    from accelerate import PartialState

    # Without a GPU, PartialState only detects a multi-process CPU launch when told cpu=True.
    return PartialState(cpu=torch.device(device).type == "cpu")


def _gather(state: Any, part: tuple[torch.Tensor, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every process's (features, labels), in rank order (split_between_processes hands out
    contiguous parts in rank order, so concatenating restores the split's order)."""
    from accelerate.utils import gather_object

    return gather_object([part])
