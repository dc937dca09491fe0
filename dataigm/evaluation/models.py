"""Metric models, loaded through their libraries' own loaders, each with an honest identity.

- image features for FID and KID: `inception` (torchmetrics' FID Inception, the standard one;
  it needs torch-fidelity and downloads its weights on first use), `timm:<model>` (any timm
  model through `timm.create_model`, pretrained weights unless `features.pretrained: false`;
  `timm:local-dir:/path` and `timm:hf-hub:org/name` work too) or `clip:<model>` (the image
  tower of a CLIP through `CLIPModel.from_pretrained`, a hub id or a folder);
- LPIPS: the `lpips` package (its linear layers ship inside the wheel; the alex/vgg/squeeze
  backbone downloads through torchvision unless `lpips.random_backbone: true`);
- CLIP score: `CLIPModel` / `CLIPProcessor.from_pretrained`, per image 100 * cos(image, text),
  as torchmetrics' CLIPScore computes it per sample.

A model that cannot be loaded (offline, no weights, a missing package) raises
MetricUnavailable with the reason; the scorecard reports those metrics as unavailable and goes
on with the rest. Every model says whether its weights are random (`random_init`), so a report
never passes random features off as trained ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from dataigm.errors import one_line


class MetricUnavailable(Exception):
    """A metric's model or input is not available; the message is the reason shown."""


@dataclass
class FeaturesConfig:
    """`features:` of the scorecard config: the backbone FID and KID compare images in."""

    backbone: str = "inception"      # inception | timm:<model> | clip:<model>
    pretrained: bool = True          # timm: load pretrained weights (false: random init)
    batch_size: int = 32

    def validate(self) -> None:
        if self.backbone != "inception" and not self.backbone.startswith(("timm:", "clip:")):
            raise ValueError(f"backbone: '{self.backbone}' must be inception, timm:<model> or clip:<model>")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


@dataclass
class LpipsConfig:
    net: str = "alex"                # alex | vgg | squeeze (lpips' backbones)
    random_backbone: bool = False    # true: lpips' pnet_rand (no backbone download; tests, demo)

    def validate(self) -> None:
        if self.net not in ("alex", "vgg", "squeeze"):
            raise ValueError(f"net: '{self.net}' must be alex, vgg or squeeze")


def _unavailable(what: str, exc: BaseException) -> MetricUnavailable:
    return MetricUnavailable(f"{what}: {one_line(exc)[:240]}")


def _to_tensor(images: Sequence[np.ndarray]) -> Any:
    import torch

    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()   # uint8 NCHW


class FeatureExtractor:
    """images (HWC uint8 arrays) -> (N, d) float features, for FID and KID."""

    def __init__(self, config: FeaturesConfig, device: str = "cpu") -> None:
        import torch

        self.config = config
        self.device = device
        self.random_init = False
        backbone = config.backbone
        if backbone == "inception":
            self._fn = self._inception()
            self.identity = "inception-fid-2048"
        elif backbone.startswith("timm:"):
            self._fn = self._timm(backbone.removeprefix("timm:"), config.pretrained)
        else:
            self._fn = self._clip(backbone.removeprefix("clip:"))
        self._torch = torch

    def _inception(self) -> Callable[[Any], Any]:
        try:
            from torchmetrics.image.fid import FrechetInceptionDistance

            # torchmetrics' own Inception (torch-fidelity's port of the TF FID graph): the FID
            # every paper reports. Its weights download on first use.
            metric = FrechetInceptionDistance(feature=2048)
        except Exception as exc:  # noqa: BLE001 - missing torch-fidelity, offline, ...
            raise _unavailable("the default Inception (torchmetrics FID) cannot be loaded; install "
                               "torch-fidelity and allow its one download, or set features.backbone "
                               "to timm:<model> or clip:<model>", exc) from None
        net = metric.inception.to(self.device).eval()
        return lambda x: net(x.to(self.device))    # uint8 in, resized to 299 inside

    def _timm(self, name: str, pretrained: bool) -> Callable[[Any], Any]:
        import timm
        import torch

        try:
            model = timm.create_model(name, pretrained=pretrained, num_classes=0).to(self.device).eval()
        except Exception as exc:  # noqa: BLE001 - offline, unknown name, no weights
            raise _unavailable(f"timm model '{name}' cannot be loaded", exc) from None
        cfg = timm.data.resolve_model_data_config(model)
        size = tuple(cfg["input_size"][1:])
        mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
        self.random_init = not pretrained
        weights = "pretrained" if pretrained else "random-init"
        self.identity = f"timm-{name}-{weights}"

        def run(x: Any) -> Any:
            x = torch.nn.functional.interpolate(x.float() / 255.0, size=size, mode="bilinear", antialias=True,
                                                align_corners=False)
            return model(((x - mean) / std).to(self.device))
        return run

    def _clip(self, name: str) -> Callable[[Any], Any]:
        clip = ClipModel.load(name, self.device)
        self.random_init = clip.random_init
        self.identity = f"clip-{clip.identity}"
        return clip.image_features_uint8

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        out = []
        with self._torch.no_grad():
            for i in range(0, len(images), self.config.batch_size):
                out.append(self._fn(_to_tensor(images[i:i + self.config.batch_size])).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))


def _precomputed(dim: int) -> Any:
    """A stand-in "network" that hands torchmetrics features computed beforehand (cached, and
    reused by every bootstrap resample): torchmetrics accepts any module returning (N, d)."""
    import torch

    class Precomputed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.num_features = dim

        def forward(self, x: Any) -> Any:
            return x

    return Precomputed()


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """torchmetrics' FrechetInceptionDistance over precomputed features (float64)."""
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        return float("nan")
    metric = FrechetInceptionDistance(feature=_precomputed(real.shape[1]), normalize=True)
    metric.set_dtype(torch.float64)
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    return max(0.0, float(metric.compute()))


def kid(real: np.ndarray, fake: np.ndarray, subset_size: int = 1000, subsets: int = 50) -> float:
    """torchmetrics' KernelInceptionDistance (mean over subsets) over precomputed features."""
    import torch
    from torchmetrics.image.kid import KernelInceptionDistance

    n = min(len(real), len(fake), subset_size)
    if n < 2:
        return float("nan")
    import warnings

    torch.manual_seed(0)   # KID draws its subsets with torch's global generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "will save all extracted features": they are already in memory
        metric = KernelInceptionDistance(feature=_precomputed(real.shape[1]), subset_size=n, subsets=subsets,
                                         normalize=True)
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    mean, _ = metric.compute()
    return float(mean)


class Lpips:
    """Paired LPIPS distances (one per pair of same-size images)."""

    def __init__(self, config: LpipsConfig, device: str = "cpu") -> None:
        try:
            import lpips
        except ImportError:
            raise MetricUnavailable("LPIPS needs the 'eval' extra (pip install 'dataigm[eval]')") from None
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # torchvision's deprecation notes on `pretrained`
                self.model = lpips.LPIPS(net=config.net, pnet_rand=config.random_backbone,
                                         verbose=False).to(device).eval()
        except Exception as exc:  # noqa: BLE001 - the backbone download failed (offline)
            raise _unavailable(f"LPIPS ({config.net}) cannot be loaded", exc) from None
        self.device = device
        self.random_init = config.random_backbone
        self.identity = f"lpips-{config.net}-{'random-backbone' if config.random_backbone else 'pretrained'}"

    def __call__(self, a: Sequence[np.ndarray], b: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(a), batch_size):
                x = _to_tensor(a[i:i + batch_size]).float() / 127.5 - 1.0
                y = _to_tensor(b[i:i + batch_size]).float() / 127.5 - 1.0
                out.append(self.model(x.to(self.device), y.to(self.device)).flatten().cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


class ClipModel:
    """A CLIP through transformers: image and text embeddings, and per-image CLIP scores."""

    def __init__(self, model: Any, processor: Any, identity: str, random_init: bool, device: str) -> None:
        self.model = model
        self.processor = processor
        self.identity = identity
        self.random_init = random_init
        self.device = device

    @classmethod
    def load(cls, name: str, device: str = "cpu") -> "ClipModel":
        from pathlib import Path

        try:
            from transformers import CLIPModel, CLIPProcessor

            model = CLIPModel.from_pretrained(name).to(device).eval()
            processor = CLIPProcessor.from_pretrained(name)
        except Exception as exc:  # noqa: BLE001 - offline, unknown id, not a CLIP folder
            raise _unavailable(f"CLIP '{name}' cannot be loaded", exc) from None
        folder = Path(name)
        random_init = bool(getattr(model.config, "dataigm_random_init", False))
        shown = folder.name if folder.is_dir() else name
        digest = hashlib.sha256(repr(sorted(model.config.to_dict().items())).encode()).hexdigest()[:8]
        return cls(model, processor, f"{shown}-{digest}", random_init, device)

    def image_features_uint8(self, x: Any) -> Any:
        images = list(x.permute(0, 2, 3, 1).numpy())
        inputs = self.processor(images=images, return_tensors="pt")
        return self._image_embeds(inputs["pixel_values"].to(self.device))

    def _image_embeds(self, pixel_values: Any) -> Any:
        out = self.model.get_image_features(pixel_values=pixel_values)
        return out if not hasattr(out, "pooler_output") else out.pooler_output

    def _text_embeds(self, texts: Sequence[str]) -> Any:
        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        out = self.model.get_text_features(**{k: v.to(self.device) for k, v in inputs.items()})
        return out if not hasattr(out, "pooler_output") else out.pooler_output

    def scores(self, images: Sequence[np.ndarray], texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """100 * cos(image_i, text_i) per pair: torchmetrics' CLIPScore before its mean."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                img = self.image_features_uint8(_to_tensor(images[i:i + batch_size]))
                txt = self._text_embeds(texts[i:i + batch_size])
                img = img / img.norm(dim=-1, keepdim=True)
                txt = txt / txt.norm(dim=-1, keepdim=True)
                out.append((100.0 * (img * txt).sum(-1)).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
