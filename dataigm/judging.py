"""The Judge protocol: one interface for every concept detector, used by curation (label
agreement), by folder scoring and by the scorecard.

    judge = load_judge("nudenet" | "clip:MODEL" | "hf-hub:ORG/NAME" | "ORG/NAME" | "path/to/JUDGE"
                       | "vlm:MODEL@ENDPOINT" | "NAME[:ARG]" for a registered judge, concept=..., device=...)
    pred = judge.predict(images)   # PIL images, file paths or HWC uint8 arrays
    pred.probabilities             # (N,) P(concept present), comparable across judge kinds
    pred.decisions                 # (N,) bool: probabilities >= judge.threshold

Built-in judges live in `dataigm.detectors` and are registered here by name, imported only when
used. Anything else that follows the protocol is added through the `dataigm.judges` entry-point
group (a factory with the signature of `JudgeFactory`), without editing dataigm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from dataigm.devices import resolve_device
from dataigm.errors import InputError
from dataigm.registry import Registry


@dataclass
class JudgePrediction:
    probabilities: np.ndarray  # (N,) probability that the concept is present
    decisions: np.ndarray  # (N,) bool
    labels: list[str]  # predicted label name per image
    class_probabilities: np.ndarray | None = None  # (N, K) for K-class judges
    # (N,) bool: the judge could not decide (a VLM answering "unsure"); such images are counted
    # apart, never as flagged or clean.
    unsure: np.ndarray | None = None


@runtime_checkable
class Judge(Protocol):
    name: str            # shown in reports, e.g. "nudenet", "judge:object_church", "clip:MODEL"
    identity: str        # changes whenever the model or its rule changes: the key of score caches
    concept: str | None
    threshold: float
    label_names: list[str]

    def predict(self, images: Sequence[Any], batch_size: int = 32) -> JudgePrediction:
        """One prediction per image, in order."""
        ...


class JudgeFactory(Protocol):
    def __call__(self, arg: str, *, concept: str | None = None, threshold: float | None = None,
                 revision: str | None = None, device: str = "cpu", **options: Any) -> Judge: ...


JUDGES: Registry[JudgeFactory] = Registry("judge", "dataigm.judges")
JUDGES.register("nudenet", "dataigm.detectors.judge:load_nudenet")
JUDGES.register("clip", "dataigm.detectors.judge:load_zero_shot_clip")
JUDGES.register("trained", "dataigm.detectors.judge:load_trained")
JUDGES.register("vlm", "dataigm.detectors.vlm:load_vlm")


def split_reference(ref: str) -> tuple[str, str]:
    """'nudenet' -> ('nudenet', ''); 'clip:MODEL' -> ('clip', 'MODEL'); 'hf-hub:org/x' and any
    folder or hub id -> ('trained', ...)."""
    if not ref or not ref.strip():
        raise InputError("--judge: empty judge reference")
    scheme, colon, arg = ref.partition(":")
    if scheme == "hf-hub" and colon:
        return "trained", arg
    if colon and scheme in JUDGES and not scheme.startswith((".", "/")):
        return scheme, arg
    if not colon and ref in JUDGES:
        return ref, ""
    return "trained", ref


def load_judge(ref: str, *, concept: str | None = None, threshold: float | None = None,
               revision: str | None = None, device: str = "auto", **options: Any) -> Judge:
    """The judge a reference names (see the module docstring), on `device` (auto, cpu, cuda or
    cuda:N; auto is the GPU when there is one)."""
    scheme, arg = split_reference(ref)
    factory = JUDGES.get(scheme, "--judge")
    device = resolve_device(device) if scheme != "nudenet" else "cpu"  # NudeNet runs ONNX on the CPU
    return factory(arg, concept=concept, threshold=threshold, revision=revision, device=device, **options)


def check_probabilities(probabilities: Any, judge: str = "judge") -> np.ndarray:
    """`probabilities` as a float array, refused in one line when any is NaN, infinite or
    outside [0, 1]: a damaged judge must never be reported as "0 flagged"."""
    p = np.atleast_1d(np.asarray(probabilities, dtype=np.float64))
    bad = (~np.isfinite(p) | (p < 0.0) | (p > 1.0)).reshape(len(p), -1).any(axis=1)
    if bad.any():
        raise InputError(f"{judge}: {int(bad.sum())} of {len(p)} scores are NaN, infinite or outside [0, 1]; "
                         "the judge is damaged, nothing was scored")
    return p


def binary_prediction(probabilities: np.ndarray, threshold: float, label_names: Sequence[str],
                      judge: str = "judge") -> JudgePrediction:
    """Decisions and label names of a binary judge from P(present)."""
    p = check_probabilities(probabilities, judge)
    decisions = p >= threshold
    return JudgePrediction(p, decisions, [label_names[int(d)] for d in decisions])
