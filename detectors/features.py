"""Frozen-feature cache: encode each split once with a frozen backbone, train the head on features.

With a frozen backbone and no augmentation every epoch would push the same images through the
same backbone; encoding once turns N epochs into one backbone pass plus N cheap head passes.
The cache key is the dataset fingerprint + a digest of the backbone weights (so two random-init
backbones never share an entry) + the transform digest. Entries are safetensors files written
atomically; nothing is pickled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from dataigm.io import atomic_path
from dataigm.detectors.data import JudgeDataModule, transform_key
from dataigm.splits import SPLITS
from dataigm.detectors.networks import classifier, pooled_features


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


@torch.no_grad()
def encode(model: nn.Module, loader: DataLoader, device: torch.device | str = "cpu", desc: str = "encode") -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features (classifier input) and labels for every batch of `loader`."""
    was_training = model.training
    model.eval().to(device)
    feats, labels = [], []
    for x, y in tqdm(loader, desc=desc, leave=False):
        feats.append(pooled_features(model, x.to(device)).float().cpu())
        labels.append(torch.as_tensor(y))
    model.train(was_training)
    return torch.cat(feats), torch.cat(labels).long()


def cache_key(model: nn.Module, dm: JudgeDataModule, backbone: str) -> str:
    parts = [dm.fingerprint, backbone, backbone_digest(model), transform_key(dm.eval_transform())]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def cached_features(
    model: nn.Module,
    dm: JudgeDataModule,
    backbone: str,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], bool]:
    """Features for every split, from the cache or freshly encoded. Returns (features, hit)."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache_dir / f"{cache_key(model, dm, backbone)}.safetensors"
    if path.is_file():
        tensors = load_file(str(path))
        return {s: (tensors[f"{s}.x"], tensors[f"{s}.y"]) for s in SPLITS}, True
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for split in SPLITS:
        loader = DataLoader(dm.image_split(split, train=False), batch_size=batch_size,
                            num_workers=dm.num_workers)
        out[split] = encode(model, loader, device, desc=f"encode {split}")
    tensors = {f"{s}.{k}": t.contiguous() for s, (x, y) in out.items() for k, t in (("x", x), ("y", y))}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return out, False
