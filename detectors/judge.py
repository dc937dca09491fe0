"""The built-in judges behind the Judge protocol (dataigm.judging): trained, NudeNet, zero-shot CLIP.

    judge = Judge.from_pretrained("path/to/JUDGE" | "org/judge-repo" | "hf-hub:org/judge-repo"
                                  | "nudenet" | "clip:MODEL")
    pred = judge.predict(images)   # PIL images, paths or HWC uint8 arrays
    pred.probabilities             # (N,) P(concept present), comparable across judge kinds
    pred.decisions                 # (N,) bool, probabilities >= judge.threshold (binary judges)
    pred.labels                    # (N,) label names

`Judge.from_pretrained` is `dataigm.judging.load_judge`: curation, folder scoring and the
scorecard all load judges the same way. For IGMU-head judges, `import dataigm.detectors`
registers the architecture with timm, so `timm.create_model("local-dir:JUDGE", pretrained=True)`
works as well.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dataigm.errors import InputError, MissingExtraError
from dataigm.judge_folder import CARD, CONFIG, MARKER, METRICS, WEIGHTS, JudgeFolder
from dataigm.judging import JudgePrediction, binary_prediction, check_probabilities, load_judge
from dataigm.nudenet_rule import IGMU_THRESHOLD, NUDENET_CLASSES, nudenet_score


class Judge:
    """Base class of the built-in judges; `from_pretrained` picks one by reference."""

    name: str = "judge"
    identity: str = "judge"
    concept: str | None = None
    threshold: float = 0.5
    label_names: list[str] = ["absent", "present"]

    @staticmethod
    def from_pretrained(name_or_path: str, *, concept: str | None = None, threshold: float | None = None,
                        revision: str | None = None, device: str = "auto", **kwargs: Any) -> Any:
        """'nudenet', 'clip:MODEL' (zero-shot; needs `concept` or present/absent texts), a judge
        folder, or a hub model id (downloaded with huggingface_hub)."""
        return load_judge(name_or_path, concept=concept, threshold=threshold, revision=revision,
                          device=device, **kwargs)

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        raise NotImplementedError

    def _binary(self, p: np.ndarray) -> JudgePrediction:
        return binary_prediction(p, self.threshold, self.label_names, judge=self.name)


def _resolve_folder(name_or_path: str, revision: str | None) -> tuple[Path, bool]:
    """(folder, downloaded): a local judge folder, or a hub model id downloaded with
    huggingface_hub (`hf-hub:` is stripped by dataigm.judging). Every failure is one line."""
    path = Path(name_or_path)
    if path.is_dir():
        return path, False
    if path.exists() or name_or_path.startswith((".", "/")) or name_or_path.count("/") != 1:
        raise InputError(f"{name_or_path}: not a judge folder, hub id (org/name), 'nudenet' or 'clip:MODEL'")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name_or_path, revision=revision,
                                      allow_patterns=[CONFIG, WEIGHTS, CARD, METRICS, MARKER])), True
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo or bad id: one line
        raise InputError(f"hf-hub:{name_or_path}: cannot download judge: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]}") from None


class TrainedJudge(Judge):
    """A judge exported by `dataigm train` (timm model + "dataigm" config block)."""

    def __init__(self, network: Any, config: dict[str, Any], threshold: float | None = None, device: str = "cpu",
                 identity: str | None = None) -> None:
        from dataigm.detectors.data import build_transform

        self.human_validation: dict[str, Any] | None = None   # metrics.json "human" (labels from people)
        block = config.get("dataigm", {})
        self.network = network.to(device).eval()
        self.device = device
        self.config = config
        self.concept = block.get("concept")
        self.name = f"judge:{self.concept}"
        self.identity = identity or self.name
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

        folder, downloaded = _resolve_folder(name_or_path, revision)
        network, config = load_network(folder, require_marker=not downloaded)
        judge = cls(network, config, threshold, device, identity=folder_identity(folder))
        judge.human_validation = read_human_validation(folder)
        return judge

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
        probs = check_probabilities(torch.softmax(logits, -1).numpy(), self.name)
        top = probs.argmax(1)
        return JudgePrediction(1.0 - probs[:, 0], top != 0, [self.label_names[int(t)] for t in top], probs)


def read_human_validation(folder: Path) -> dict[str, Any] | None:
    """The judge's validation against people (metrics.json "human", written by `dataigm labels
    import`), or None."""
    import json

    path = JudgeFolder(folder).metrics_path
    try:
        block = json.loads(path.read_text(encoding="utf-8")).get("human") if path.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return block if isinstance(block, dict) else None


def folder_identity(folder: Path) -> str:
    """A trained judge's cache identity: its folder name and a digest of config and weights."""
    jf = JudgeFolder(folder)
    digest = hashlib.sha256()
    for name in (CONFIG, WEIGHTS):
        if jf.path(name).is_file():
            digest.update(jf.digest(name).encode())
    return f"judge-{folder.resolve().name}-{digest.hexdigest()[:12]}"


class NudeNetJudge(Judge):
    """NudeNet 3.4 (its bundled 320n ONNX detector, offline): score = max score over `classes`
    (IGMU's rule, dataigm.nudenet_rule)."""

    def __init__(self, threshold: float = IGMU_THRESHOLD, classes: Sequence[str] = NUDENET_CLASSES) -> None:
        try:
            import importlib.metadata as md

            from nudenet import NudeDetector
        except ImportError:
            raise MissingExtraError("nsfw", "nudenet") from None
        self.detector = NudeDetector()
        self.threshold = float(threshold)
        self.classes = sorted(set(classes))
        self.name = "nudenet"
        # The cache identity changes with the detector version and the class rule, not the
        # threshold (scores do not depend on it).
        rule = hashlib.sha1(",".join(self.classes).encode()).hexdigest()[:8]
        self.identity = f"nudenet-{md.version('nudenet')}-{rule}"
        self.concept = "nudity"
        self.label_names = ["safe", "nude"]

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        from dataigm.detectors.data import to_rgb_array

        inputs: list[Any] = []
        for im in images:
            # Decoded by Pillow whatever the input (files may be JPEG behind .png, or CMYK), and
            # handed over with OpenCV's conventions, as NudeNet expects: 4-channel BGRA.
            rgb = to_rgb_array(im)
            alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
            inputs.append(np.ascontiguousarray(np.concatenate([rgb[..., ::-1], alpha], axis=-1)))
        detections = self.detector.detect_batch(inputs, batch_size=batch_size) if inputs else []
        return self._binary(np.asarray([nudenet_score(d, self.classes) for d in detections], dtype=np.float64))


def concept_texts(concept: str) -> tuple[list[str], list[str], list[str]]:
    """(present texts, absent texts, label names) from the concept YAML (dataigm.taxonomy)."""
    from dataigm.taxonomy import load_concept

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
        texts = "|".join(self.present) + "||" + "|".join(self.absent)
        self.identity = f"{name}-{hashlib.sha1(texts.encode()).hexdigest()[:8]}"
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
        local = Path(model_id)
        if local.is_dir() and not any(local.glob("*.safetensors")):
            # Weights are read only from safetensors: a folder with pickled weights alone
            # (pytorch_model.bin, *.pt) is refused before any of its files is opened.
            raise InputError(f"clip:{model_id}: no model.safetensors in the folder; dataigm reads CLIP weights only "
                             "from safetensors, never from pickle files (pytorch_model.bin)")
        try:
            model = CLIPModel.from_pretrained(model_id, revision=revision, use_safetensors=True)
            processor = CLIPProcessor.from_pretrained(model_id, revision=revision)
        except Exception as exc:  # noqa: BLE001 - missing files, bad config, download errors: one line
            raise InputError(f"clip:{model_id}: cannot load CLIP model: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]}") from None
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


# ----------------------------------------------------------------------------- factories
# Registered by name in dataigm.judging.JUDGES; each takes the part of the reference after
# "name:" and the common options.


def load_trained(arg: str, *, concept: str | None = None, threshold: float | None = None,
                 revision: str | None = None, device: str = "cpu", **options: Any) -> TrainedJudge:
    judge = TrainedJudge.from_pretrained(arg, threshold=threshold, revision=revision, device=device)
    if concept is not None and judge.concept not in (None, concept):
        raise InputError(f"{arg}: this judge was trained for concept '{judge.concept}', not '{concept}'")
    return judge


def load_nudenet(arg: str, *, concept: str | None = None, threshold: float | None = None,
                 revision: str | None = None, device: str = "cpu", **options: Any) -> NudeNetJudge:
    classes = options.pop("classes", NUDENET_CLASSES)
    return NudeNetJudge(threshold=IGMU_THRESHOLD if threshold is None else threshold, classes=classes)


def load_zero_shot_clip(arg: str, *, concept: str | None = None, threshold: float | None = None,
                        revision: str | None = None, device: str = "cpu", **options: Any) -> "ZeroShotClipJudge":
    if not arg:
        raise InputError("clip:MODEL: name a CLIP model (a hub id or a local folder), e.g. clip:openai/clip-vit-base-patch32")
    return ZeroShotClipJudge.from_pretrained(arg, concept=concept, threshold=threshold, revision=revision,
                                             device=device, **options)
