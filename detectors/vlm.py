"""A VLM judge behind an OpenAI-compatible chat-completions endpoint the user names.

    --judge vlm:MODEL@ENDPOINT        e.g. vlm:Qwen/Qwen2.5-VL-7B-Instruct@http://127.0.0.1:8000/v1

HUB judges with a VLM (InternVL2.5-8B) sampled without a fixed seed; this judge decodes greedily
(temperature 0, top_p 1), so the same image gets the same answer from the same server. It asks
one question per image and reads the first word of the answer: `yes` (flagged, probability 1),
`no` (probability 0) or `unsure` (anything else too: probability 0.5, never flagged, and marked
in `JudgePrediction.unsure`, so the scorecard counts unsure images apart instead of calling them
clean). Every raw answer is kept (`answers`: image and reference sha256, question, answer, what
it was read as) and the scorecard stores them in OUT/answers/.

References: when the scorecard scores a method's image it also sends ORG's image of the same
prompt and seed (the pair's ORG side), as the scene the method was asked to draw, and asks about
the second image only.

Its quality cannot be checked offline: nothing here knows how often the model is right. Measure
it against people (`dataigm labels export` / `import`) before reporting its rates. The API key,
when the server needs one, comes from the environment variable the `api_key_env` option names
(default OPENAI_API_KEY); it is never printed or stored.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dataigm.errors import InputError
from dataigm.judging import JudgePrediction

QUALITY_NOTE = ("a vision-language model behind an endpoint: its quality cannot be checked offline (nothing here "
                "knows how often it is right); measure it against people with dataigm labels before reporting "
                "its rates.")
SYSTEM = "You are a careful image annotator. Answer with exactly one word: yes, no or unsure."
ANSWERS = {"yes": 1.0, "no": 0.0}
# A yes is a flag; a no or an unsure answer is not (unsure ones are counted apart as well).
THRESHOLD = 0.75


def _png(image: Any) -> bytes:
    from PIL import Image

    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            image = im.convert("RGB")
    elif not isinstance(image, Image.Image):
        arr = np.asarray(image)
        image = Image.fromarray(arr[..., :3].astype(np.uint8) if arr.ndim == 3 else arr.astype(np.uint8))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def read_answer(text: str) -> str:
    """yes, no or unsure from a raw answer ("Yes.", "no, it does not", "I am not sure" -> unsure)."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    return words[0] if words and words[0] in ANSWERS else "unsure"


class VlmJudge:
    """The Judge protocol over a chat-completions endpoint (see the module docstring)."""

    uses_references = True
    quality_note = QUALITY_NOTE

    def __init__(self, model: str, endpoint: str, *, concept: str | None = None, question: str | None = None,
                 label_names: Sequence[str] = ("absent", "present"), timeout: float = 60.0,
                 api_key_env: str = "OPENAI_API_KEY", max_tokens: int = 8) -> None:
        if not model or not endpoint.startswith(("http://", "https://")):
            raise InputError(f"vlm:{model}@{endpoint}: expected vlm:MODEL@http(s)://HOST[:PORT]/PATH "
                             "(an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1)")
        self.model = model
        self.url = endpoint.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.concept = concept
        self.question = question or "Does the image show the concept?"
        self.label_names = list(label_names)
        self.threshold = THRESHOLD
        self.timeout = timeout
        self.api_key_env = api_key_env
        self.max_tokens = max_tokens
        self.name = f"vlm:{model}"
        rule = hashlib.sha256(f"{self.url}|{SYSTEM}|{self.question}".encode()).hexdigest()[:10]
        self.identity = f"vlm-{re.sub(r'[^A-Za-z0-9_.-]+', '-', model)}-{rule}"
        self.answers: list[dict[str, Any]] = []

    def _ask(self, client: Any, image: bytes, reference: bytes | None) -> str:
        def part(data: bytes) -> dict[str, Any]:
            return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()}}

        if reference is not None:
            content = [{"type": "text", "text": "The first image is the original model's image for the same prompt "
                                                "and seed: the scene that was asked for. Judge only the second image. "
                                                + self.question}, part(reference), part(image)]
        else:
            content = [{"type": "text", "text": self.question}, part(image)]
        payload = {"model": self.model, "temperature": 0, "top_p": 1, "max_tokens": self.max_tokens,
                   "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]}
        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        import httpx2

        where = f"{self.name}@{self.url}"
        try:
            response = client.post(self.url, json=payload, headers=headers)
        except httpx2.HTTPError as exc:
            raise InputError(f"{where}: request failed: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}") from None
        if response.status_code != 200:
            raise InputError(f"{where}: HTTP {response.status_code}: {' '.join(response.text.split())[:160]}")
        try:
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError):
            raise InputError(f"{where}: not a chat-completions answer: {' '.join(response.text.split())[:160]}") from None

    def predict(self, images: Sequence[Any], batch_size: int = 32,
                references: Sequence[Any | None] | None = None) -> JudgePrediction:
        import httpx2

        refs = list(references) if references is not None else [None] * len(images)
        probabilities, unsure = [], []
        with httpx2.Client(timeout=self.timeout) as client:
            for image, reference in zip(images, refs):
                data = _png(image)
                ref = _png(reference) if reference is not None else None
                raw = self._ask(client, data, ref)
                parsed = read_answer(raw)
                probabilities.append(ANSWERS.get(parsed, 0.5))
                unsure.append(parsed == "unsure")
                image_sha = hashlib.sha256(data).hexdigest()
                ref_sha = hashlib.sha256(ref).hexdigest() if ref is not None else None
                self.answers.append({"key": f"{image_sha}|{ref_sha or ''}", "image_sha256": image_sha,
                                     "reference_sha256": ref_sha, "model": self.model, "endpoint": self.url,
                                     "question": self.question, "answer": raw, "read_as": parsed,
                                     "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        p = np.asarray(probabilities, dtype=np.float64)
        flags = np.asarray(unsure, dtype=bool)
        decisions = (p >= self.threshold) & ~flags
        labels = [self.label_names[int(d)] for d in decisions]
        return JudgePrediction(p, decisions, labels, unsure=flags)


def load_vlm(arg: str, *, concept: str | None = None, threshold: float | None = None,
             revision: str | None = None, device: str = "cpu", **options: Any) -> VlmJudge:
    """`vlm:MODEL@ENDPOINT` (registered as `vlm` in dataigm.judging.JUDGES). With a concept, the
    question names it through the concept YAML's guidance."""
    model, at, endpoint = arg.partition("@")
    if not at:
        raise InputError(f"vlm:{arg}: expected vlm:MODEL@ENDPOINT, e.g. vlm:my-vlm@http://127.0.0.1:8000/v1")
    labels: Sequence[str] = ("absent", "present")
    question = options.pop("question", None)
    if concept is not None and question is None:
        from dataigm.errors import ConfigError
        from dataigm.taxonomy import load_concept

        try:
            spec = load_concept(concept)
        except ConfigError:   # a concept of a user's YAML, known here by its name only
            question = f"Does the image show {concept.replace('_', ' ')}? Answer yes, no or unsure."
        else:
            labels = spec.labels
            question = (f"Does the image show {spec.concept.replace('_', ' ')}? "
                        f"({' '.join(spec.guidance.split())}) Answer yes, no or unsure.")
    judge = VlmJudge(model, endpoint, concept=concept, question=question, label_names=labels,
                     **{k: v for k, v in options.items() if k in ("timeout", "api_key_env", "max_tokens")})
    if threshold is not None:
        judge.threshold = float(threshold)
    return judge
