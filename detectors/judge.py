"""The Judge API: one interface over trained judges, NudeNet and zero-shot CLIP.

    judge = Judge.from_pretrained("path/to/JUDGE" | "org/judge-repo" | "nudenet" | "clip:MODEL")
    pred = judge.predict(images)   # PIL images, paths or HWC uint8 arrays
    pred.probabilities             # (N,) P(concept present), comparable across judge kinds
    pred.decisions                 # (N,) bool, probabilities >= judge.threshold (binary judges)
    pred.labels                    # (N,) label names

For IGMU-head judges, `import dataigm.detectors` (this package) registers the architecture with timm, so
`timm.create_model("local-dir:JUDGE", pretrained=True)` works as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dataigm.errors import InputError
from dataigm.nudenet_rule import IGMU_THRESHOLD, NUDENET_CLASSES, nudenet_score



@dataclass
class JudgePrediction:
    probabilities: np.ndarray  # (N,) probability that the concept is present
    decisions: np.ndarray  # (N,) bool
    labels: list[str]  # predicted label name per image
    class_probabilities: np.ndarray | None = None  # (N, K) for K-class judges


class Judge:
    """Base class; `from_pretrained` picks the implementation from the name."""

    name: str = "judge"
    concept: str | None = None
    threshold: float = 0.5
    label_names: list[str] = ["absent", "present"]

    @staticmethod
    def from_pretrained(name_or_path: str, *, concept: str | None = None, threshold: float | None = None,
                        revision: str | None = None, device: str = "cpu", **kwargs: Any) -> "Judge":
        """'nudenet', 'clip:MODEL' (zero-shot; needs `concept` or present/absent texts), a judge
        folder, or a hub model id (downloaded with huggingface_hub)."""
        if name_or_path == "nudenet":
            return NudeNetJudge(threshold=0.45 if threshold is None else threshold, **kwargs)
        if name_or_path.startswith("clip:"):
            return ZeroShotClipJudge.from_pretrained(name_or_path[5:], concept=concept, threshold=threshold,
                                                     revision=revision, device=device, **kwargs)
        return TrainedJudge.from_pretrained(name_or_path, threshold=threshold, revision=revision, device=device)

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        raise NotImplementedError

    def _binary(self, p: np.ndarray) -> JudgePrediction:
        decisions = p >= self.threshold
        return JudgePrediction(p, decisions, [self.label_names[int(d)] for d in decisions])


def _resolve_folder(name_or_path: str, revision: str | None) -> Path:
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.exists() or name_or_path.startswith((".", "/")) or name_or_path.count("/") != 1:
        raise InputError(f"{name_or_path}: not a judge folder, hub id (org/name), 'nudenet' or 'clip:MODEL'")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name_or_path, revision=revision,
                                      allow_patterns=["config.json", "model.safetensors", "README.md", "metrics.json"]))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise InputError(f"{name_or_path}: cannot download judge: {' '.join(str(exc).split())[:200]}") from None


class TrainedJudge(Judge):
    """A judge exported by `dataigm train` (timm model + "dataigm" config block)."""

    def __init__(self, network: Any, config: dict[str, Any], threshold: float | None = None, device: str = "cpu") -> None:
        from dataigm.detectors.data import build_transform

        block = config.get("dataigm", {})
        self.network = network.to(device).eval()
        self.device = device
        self.config = config
        self.concept = block.get("concept")
        self.name = f"judge:{self.concept}"
        self.label_names = list(config.get("label_names") or block.get("label_names") or ["absent", "present"])
        saved = block.get("threshold")
        self.threshold = float(threshold if threshold is not None else (saved if saved is not None else 0.5))
        pc = config.get("pretrained_cfg", {})
        data_cfg = {"input_size": tuple(pc.get("input_size", (3, 224, 224))), "mean": tuple(pc.get("mean", (0.5,) * 3)),
                    "std": tuple(pc.get("std", (0.5,) * 3)), "interpolation": pc.get("interpolation", "bilinear")}
        self.transform = build_transform(data_cfg, train=False)

    @classmethod
    def from_pretrained(cls, name_or_path: str, threshold: float | None = None, revision: str | None = None,
                        device: str = "cpu") -> "TrainedJudge":
        from dataigm.detectors.export import load_network

        network, config = load_network(_resolve_folder(name_or_path, revision))
        return cls(network, config, threshold, device)

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        import torch

        from dataigm.detectors.data import to_rgb_array

        outs = []
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                x = torch.stack([self.transform(image=to_rgb_array(im))["image"] for im in images[i:i + batch_size]])
                outs.append(self.network(x.to(self.device)).float().cpu())
        logits = torch.cat(outs) if outs else torch.zeros(0, max(1, len(self.label_names) if len(self.label_names) > 2 else 1))
        if len(self.label_names) == 2:
            return self._binary(torch.sigmoid(logits.squeeze(-1)).numpy())
        probs = torch.softmax(logits, -1).numpy()
        top = probs.argmax(1)
        return JudgePrediction(1.0 - probs[:, 0], top != 0, [self.label_names[int(t)] for t in top], probs)


class NudeNetJudge(Judge):
    """NudeNet 3.4 (its bundled 320n ONNX detector, offline): score = max score over `classes`."""

    def __init__(self, threshold: float = IGMU_THRESHOLD, classes: Sequence[str] = NUDENET_CLASSES) -> None:
        try:
            from nudenet import NudeDetector
        except ImportError:
            from dataigm.errors import MissingExtraError

            raise MissingExtraError("nsfw", "nudenet") from None
        self.detector = NudeDetector()
        self.threshold = float(threshold)
        self.classes = set(classes)
        self.name = "nudenet"
        self.concept = "nudity"
        self.label_names = ["safe", "nude"]

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        from dataigm.detectors.data import to_rgb_array

        scores = []
        for im in images:
            # NudeNet reads arrays with OpenCV conventions: 4-channel BGRA.
            rgb = to_rgb_array(im)
            bgra = np.concatenate([rgb[..., ::-1], np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
            dets = self.detector.detect(np.ascontiguousarray(bgra))
            scores.append(nudenet_score(dets, self.classes))
        return self._binary(np.asarray(scores, dtype=np.float64))


def concept_texts(concept: str) -> tuple[list[str], list[str], list[str]]:
    """(present texts, absent texts, label names) from the concept YAML (dataigm.taxonomy)."""
    try:
        from dataigm.taxonomy import load_concept
    except ImportError:
        raise InputError(f"concept {concept!r}: dataigm.taxonomy is not available; pass present/absent texts") from None
    spec = load_concept(concept)
    zs = spec.judge.zero_shot
    return list(zs.present), list(zs.absent), list(spec.labels)


class ZeroShotClipJudge(Judge):
    """Zero-shot CLIP: P(present) = softmax mass of the present texts among all label texts."""

    def __init__(self, model: Any, processor: Any, present: Sequence[str], absent: Sequence[str],
                 threshold: float = 0.5, label_names: Sequence[str] = ("absent", "present"),
                 concept: str | None = None, name: str = "clip", device: str = "cpu") -> None:
        if not present or not absent:
            raise InputError("zero-shot judge: needs at least one present and one absent text")
        self.model = model.to(device).eval()
        self.processor = processor
        self.present, self.absent = list(present), list(absent)
        self.threshold = float(threshold)
        self.label_names = list(label_names)
        self.concept = concept
        self.name = name
        self.device = device

    @classmethod
    def from_pretrained(cls, model_id: str, concept: str | None = None, present: Sequence[str] | None = None,
                        absent: Sequence[str] | None = None, threshold: float | None = None,
                        revision: str | None = None, device: str = "cpu") -> "ZeroShotClipJudge":
        from transformers import CLIPModel, CLIPProcessor

        labels: Sequence[str] = ("absent", "present")
        if present is None or absent is None:
            if concept is None:
                raise InputError(f"clip:{model_id}: zero-shot judge needs --concept (or present/absent texts)")
            present, absent, labels = concept_texts(concept)
        try:
            model = CLIPModel.from_pretrained(model_id, revision=revision)
            processor = CLIPProcessor.from_pretrained(model_id, revision=revision)
        except OSError as exc:
            raise InputError(f"clip:{model_id}: cannot load CLIP model: {' '.join(str(exc).split())[:200]}") from None
        return cls(model, processor, present, absent, 0.5 if threshold is None else threshold, labels, concept,
                   f"clip:{model_id}", device)

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        import torch

        from dataigm.detectors.data import to_rgb_array

        texts = self.present + self.absent
        probs = []
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                batch = [to_rgb_array(im) for im in images[i:i + batch_size]]
                inputs = self.processor(text=texts, images=batch, return_tensors="pt", padding=True)
                out = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
                p = out.logits_per_image.float().softmax(-1)[:, : len(self.present)].sum(-1)
                probs.append(p.cpu())
        return self._binary(torch.cat(probs).numpy() if probs else np.zeros(0))
