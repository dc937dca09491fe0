"""A tiny Stable-Diffusion-architecture pipeline with random weights, built offline from config.

It exists so the real diffusers code path (save_pretrained -> DiffusionPipeline.from_pretrained
-> batched generation with per-image generators) runs in tests and the CPU demo in milliseconds.
The images are structured noise: the weights are random, nothing is learned.

build_tiny_pipeline(out_dir, seed) writes the folder (safetensors, same seed -> same bytes);
TinyDiffusionGenerator builds it if missing and then loads it through DiffusersGenerator.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from dataigm.errors import InputError
from dataigm.generators.base import GenerationOutput, GenerationSettings, Generator
from dataigm.generators.diffusers_gen import DiffusersGenerator

# Bump when the architecture or construction below changes: folders built by an older builder
# are then not silently reused from the default cache.
TINY_BUILDER_VERSION = "tiny-sd-1"
# Latent 32x32, VAE with two blocks (scale factor 2): native images are 64x64.
LATENT_SIZE = 32
NATIVE_SIZE = 64
CROSS_ATTENTION_DIM = 32


def default_tiny_dir() -> Path:
    """Where the tiny pipeline is cached when settings.model is not given."""
    root = Path(os.environ.get("DATAIGM_CACHE", Path.home() / ".cache" / "dataigm"))
    return root / TINY_BUILDER_VERSION


def _components(seed: int) -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from dataigm.tiny_vocab import load_tiny_clip_tokenizer

    tokenizer = load_tiny_clip_tokenizer()
    # Each module is seeded on its own so its weights do not depend on construction order.
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=LATENT_SIZE, in_channels=4, out_channels=4,
        block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=CROSS_ATTENTION_DIM, attention_head_dim=8,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        sample_size=NATIVE_SIZE, in_channels=3, out_channels=3, latent_channels=4,
        block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    )
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=CROSS_ATTENTION_DIM, intermediate_size=37,
        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, layer_norm_eps=1e-5,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "scheduler": scheduler}


def build_tiny_pipeline(out_dir: str | os.PathLike[str], seed: int = 0) -> Path:
    """Build the tiny pipeline and save it to out_dir (safetensors). Returns out_dir.

    The folder is written under a temporary name and renamed into place, so a crash never leaves
    a half-written pipeline and two processes racing to build it both end with one whole folder.
    """
    from diffusers import StableDiffusionPipeline

    out = Path(out_dir).expanduser()
    if (out / "model_index.json").is_file():
        return out
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: folder exists and is not a diffusers pipeline; "
                         "refusing to build the tiny pipeline over it")
    pipe = StableDiffusionPipeline(**_components(seed), safety_checker=None, feature_extractor=None,
                                   image_encoder=None, requires_safety_checker=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pipe.save_pretrained(tmp, safe_serialization=True)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.rename(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out / "model_index.json").is_file():   # not a lost race: a real failure
            raise
    return out


def folder_fingerprint(folder: Path) -> str:
    """sha256 over every file's relative path and bytes: the tiny pipeline's model_revision."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class TinyDiffusionGenerator(Generator):
    """The tiny pipeline, built if missing, loaded and run through DiffusersGenerator."""

    name = "tiny"

    def __init__(self, settings: GenerationSettings, concepts: Sequence[Any] = ()) -> None:
        folder = Path(settings.model).expanduser() if settings.model else default_tiny_dir()
        build_tiny_pipeline(folder)
        self.folder = folder
        self.settings = settings
        self.inner = DiffusersGenerator(replace(settings, model=str(folder), revision=None), concepts)
        # The folder path is machine-specific; the content fingerprint is what identifies it.
        self.model_revision = f"{TINY_BUILDER_VERSION}:{folder_fingerprint(folder)[:16]}"

    @property
    def compile_seconds(self) -> float | None:  # type: ignore[override]
        return self.inner.compile_seconds

    def generate(self, prompts: list[str], seeds: list[int]) -> GenerationOutput:
        out = self.inner.generate(prompts, seeds)
        out.params.update(model_id="dataigm/tiny-sd",
                          model_revision="; ".join([self.model_revision, *self.inner.overrides]))
        return out
