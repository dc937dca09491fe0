"""Any text-to-image pipeline that `DiffusionPipeline.from_pretrained` loads (hub id or folder).

One pipeline call per batch, with one `torch.Generator` per image. The generators live on the
CPU: diffusers then draws each image's initial latents on the CPU from that image's own
generator and moves them to the device, so the latents of image i depend only on its seed (not on
the batch it sits in, nor on the GPU model), and `generate([p], [s])` regenerates any image of a
batch alone. Whether the pixels then match exactly depends on the kernels (see the tests and
the report in tests/test_generators.py).

Several GPUs: the caller splits shards across processes (`accelerate.PartialState`); each
process builds one DiffusersGenerator on `settings.device` (or `PartialState().device` for
"auto").
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from dataigm.devices import resolve_device
from dataigm.errors import ConfigError, InputError, MissingExtraError, one_line
from dataigm.generators.base import GenerationOutput, GenerationSettings, Generator

_DTYPES = ("float32", "float16", "bfloat16")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class ModelRef:
    """Where settings.model points: a local folder or a hub repo id."""

    model: str
    local_dir: Path | None

    @property
    def is_local(self) -> bool:
        return self.local_dir is not None


def resolve_model_ref(model: str | None) -> ModelRef:
    """A folder that exists is local; something that can only be a path but does not exist is an
    error; anything else ("org/name" or "name") is a hub repo id."""
    if not model:
        raise ConfigError("generation.model: required for the diffusers generator (a hub id or a local folder)")
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"generation.model: '{model}' is a file, expected a pipeline folder or a hub id")
        if not (path / "model_index.json").is_file():
            raise InputError(f"generation.model: folder '{model}' has no model_index.json "
                             "(not a diffusers pipeline folder saved with save_pretrained)")
        return ModelRef(model, path)
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1 or "\\" in model:
        raise InputError(f"generation.model: folder '{model}' does not exist")
    return ModelRef(model, None)


def _import_torch_diffusers() -> tuple[Any, Any]:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingExtraError("gen", "torch") from exc
    try:
        import diffusers
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingExtraError("gen", "diffusers") from exc
    return torch, diffusers


def _dtype_kwarg() -> str:
    """Recent diffusers take `dtype=` and warn on `torch_dtype=`; older ones only know `torch_dtype=`."""
    try:
        from diffusers.utils import deprecation_utils
    except ImportError:
        return "torch_dtype"
    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def resolved_revision(ref: ModelRef, revision: str | None) -> str:
    """The commit the pipeline was loaded from, read from the local hub cache (no network): the
    cached model_index.json lives in snapshots/<commit>/."""
    if ref.is_local:
        return revision or "local"
    if revision and _COMMIT_RE.match(revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(ref.model, "model_index.json", revision=revision or "main")
    except Exception:  # noqa: BLE001 - provenance lookup only; fall back to what was asked for
        cached = None
    if isinstance(cached, str):
        commit = Path(cached).parent.name
        if _COMMIT_RE.match(commit):
            return commit
    return revision or "main"


class DiffusersGenerator(Generator):
    """Batched, seed-per-image generation with a diffusers text-to-image pipeline."""

    name = "diffusers"

    def __init__(self, settings: GenerationSettings, concepts: Sequence[Any] = ()) -> None:
        torch, diffusers = _import_torch_diffusers()
        self.settings = settings
        self._torch = torch
        if settings.dtype not in _DTYPES:
            raise ConfigError(f"generation.dtype: '{settings.dtype}' is not one of {', '.join(_DTYPES)}")
        self.ref = resolve_model_ref(settings.model)
        self.device = resolve_device(settings.device)
        self.compile_seconds: float | None = None
        load_from = str(self.ref.local_dir) if self.ref.local_dir is not None else self.ref.model
        try:
            pipe = diffusers.DiffusionPipeline.from_pretrained(
                load_from, revision=settings.revision, **{_dtype_kwarg(): getattr(torch, settings.dtype)})
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's model/revision
            where = f"'{settings.model}'" + (f" at revision '{settings.revision}'" if settings.revision else "")
            raise InputError(f"generation.model: cannot load pipeline {where}: {one_line(exc)}") from exc
        from dataigm.generators.components import apply_overrides

        self.overrides = apply_overrides(pipe, {"unet": settings.unet, "text_encoder": settings.text_encoder},
                                         getattr(torch, settings.dtype))
        if settings.scheduler:
            pipe.scheduler = self._make_scheduler(diffusers, settings.scheduler, pipe)
        # Off only when the config says so; otherwise the pipeline keeps its own checker and a
        # blacked-out image is reported in params["nsfw_flagged"].
        if settings.disable_safety_checker and getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None
        try:
            pipe = pipe.to(self.device)
        except Exception as exc:  # noqa: BLE001 - a bad device string or an absent GPU
            raise InputError(f"generation.device: cannot use device '{self.device}': {one_line(exc)}") from exc
        # The caller shows its own progress bar over shards; one per call would flood the log.
        pipe.set_progress_bar_config(disable=True)
        if settings.compile:
            self._compile(pipe, settings.compile_backend)
        self.pipe = pipe
        # An overridden component is part of the model's identity: its file name and digest.
        self.revision = "; ".join([resolved_revision(self.ref, settings.revision), *self.overrides])

    @staticmethod
    def _make_scheduler(diffusers: Any, name: str, pipe: Any) -> Any:
        cls = getattr(diffusers, name, None)
        if cls is None or not isinstance(cls, type) or not issubclass(cls, diffusers.SchedulerMixin):
            raise ConfigError(f"generation.scheduler: '{name}' is not a diffusers scheduler class "
                              "(e.g. DPMSolverMultistepScheduler, EulerDiscreteScheduler, DDIMScheduler)")
        return cls.from_config(pipe.scheduler.config)

    def _compile(self, pipe: Any, backend: str) -> None:
        """torch.compile the UNet and the VAE decode in channels_last. Shapes must stay fixed
        (every call is padded to batch_size), so each is compiled once per process."""
        torch = self._torch
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        try:
            pipe.unet = torch.compile(pipe.unet, fullgraph=True, backend=backend)
            pipe.vae.decode = torch.compile(pipe.vae.decode, fullgraph=True, backend=backend)
        except Exception as exc:  # noqa: BLE001 - an unknown backend name is the user's setting
            raise ConfigError(f"generation.compile_backend: cannot compile with '{backend}': {one_line(exc)}") from exc

    def params(self) -> dict[str, Any]:
        s = self.settings
        return {"model_id": s.model, "model_revision": self.revision,
                "scheduler": type(self.pipe.scheduler).__name__, "steps": s.steps,
                "guidance": float(s.guidance), "height": s.height, "width": s.width, "dtype": s.dtype,
                "compiled": bool(s.compile)}

    def generate(self, prompts: list[str], seeds: list[int]) -> GenerationOutput:
        """One pipeline call per batch_size prompts. params["nsfw_flagged"] holds one bool per
        image: True where the pipeline's safety checker replaced the image with a black one."""
        if len(prompts) != len(seeds):
            raise InputError(f"diffusers: {len(prompts)} prompts but {len(seeds)} seeds (one seed per image)")
        images: list[Any] = []
        flagged: list[bool] = []
        step = max(1, self.settings.batch_size)
        for start in range(0, len(prompts), step):
            batch_prompts = prompts[start:start + step]
            batch_seeds = seeds[start:start + step]
            real = len(batch_prompts)
            if self.settings.compile and real < step:
                # Compiled graphs keep fixed shapes: pad with copies of the last prompt and seed
                # (each image has its own generator, so padding does not change the real ones).
                batch_prompts = batch_prompts + [batch_prompts[-1]] * (step - real)
                batch_seeds = batch_seeds + [batch_seeds[-1]] * (step - real)
            generators = [self._torch.Generator(device="cpu").manual_seed(int(s)) for s in batch_seeds]
            first_compiled_call = self.settings.compile and self.compile_seconds is None
            started = time.perf_counter()
            with self._torch.inference_mode():
                out = self.pipe(
                    prompt=batch_prompts,
                    num_inference_steps=self.settings.steps,
                    guidance_scale=self.settings.guidance,
                    height=self.settings.height,
                    width=self.settings.width,
                    generator=generators,
                    output_type="pil",
                )
            if first_compiled_call:
                self.compile_seconds = time.perf_counter() - started  # compilation + one batch
            images.extend(img.convert("RGB") for img in out.images[:real])
            nsfw = getattr(out, "nsfw_content_detected", None)
            flagged.extend(bool(f) for f in nsfw[:real]) if nsfw is not None else flagged.extend([False] * real)
        params = self.params()
        params["nsfw_flagged"] = flagged
        return GenerationOutput(images=images, params=params)
