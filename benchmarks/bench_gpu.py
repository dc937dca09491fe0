"""The GPU path, measured end to end on one accelerator (`python -m benchmarks gpu`).

Without CUDA it prints one line saying so and exits 0. With CUDA it builds, locally and with no
download, a random-init pipeline of Stable Diffusion v1.4's exact shapes (UNet 860M, VAE, CLIP
ViT-L text encoder; fp16, DPM-Solver++ 25 steps, 512x512) and a CLIP ViT-B/32-shaped judge
backbone, and prints, each against a baseline measured in the same run:

  gpu/batched_over_per_call@B     images/s at batch B over one pipeline call per image
  gpu/dataigm_generate_over_raw   `dataigm generate` images/s over the raw pipeline's (batch 16)
  gpu/compiled_over_eager         torch.compile'd UNet + VAE decode over eager (batch 16), with
                                  the compile time
  gpu/encode_bf16_images_per_s    the frozen ViT-B/32 encode on the GPU alone (bf16, and fp32)
  gpu/encode_over_decode_floor    the full frozen encode (decode, resize, encode) over decoding
                                  and resizing alone, on the same images and workers
  gpu/reencode_over_cached        judge training re-encoding every epoch over training on the
                                  cached features (both on the GPU)
  gpu/judge_scoring_gpu_over_cpu  judge scoring images/s on the GPU over the CPU

`--quick` uses fewer images and batch sizes. The same code runs on the CPU with tiny shapes
(`run(device="cpu", tiny=True)`, used by the test suite) so it cannot rot between GPU sessions;
those numbers mean nothing.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# Stable Diffusion v1.4's shapes (its model_index and component configs), so no config is downloaded.
SD14_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                   "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))
SD14_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
                block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
SD14_TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu")
# CPU smoke shapes: the same code path in seconds.
TINY_UNET = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
                 cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
TINY_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, sample_size=16,
                block_out_channels=(32, 64), norm_num_groups=32,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
TINY_TEXT = dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=77)


def run(quick: bool = False, device: str | None = None, tiny: bool = False) -> list[dict[str, Any]]:
    import torch

    if device is None:
        if not torch.cuda.is_available():
            return [{"name": "gpu", "skipped": "no CUDA device on this machine; run it on a GPU box"}]
        device = "cuda"
    with tempfile.TemporaryDirectory(prefix="dataigm-bench-gpu-") as tmp:
        root = Path(tmp)
        records = _generation(root, device, quick, tiny)
        records += _judges(root, device, quick, tiny)
    for r in records:
        r.setdefault("device", torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu")
    return records


# ----------------------------------------------------------------------------- generation


def build_pipeline(folder: Path, device: str, tiny: bool) -> Path:
    """A random-init SD-1.4-shaped pipeline (fp16 on a GPU), saved where `dataigm generate` loads it."""
    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from dataigm.tiny_vocab import load_tiny_clip_tokenizer

    tokenizer = load_tiny_clip_tokenizer()
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    with torch.device(device):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(**(TINY_UNET if tiny else SD14_UNET)).to(dtype)
        vae = AutoencoderKL(**(TINY_VAE if tiny else SD14_VAE)).to(dtype)
        text = dict(TINY_TEXT if tiny else SD14_TEXT, bos_token_id=tokenizer.bos_token_id,
                    eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        text_encoder = CLIPTextModel(CLIPTextConfig(**text)).to(dtype)
    scheduler = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def _settings(model: Path, device: str, batch: int, tiny: bool, **extra: Any) -> Any:
    from dataigm.generators.base import GenerationSettings

    size, steps = (16, 2) if tiny else (512, 25)
    return GenerationSettings(generator="diffusers", model=str(model), device=device,
                              dtype="float16" if device.startswith("cuda") else "float32",
                              scheduler="DPMSolverMultistepScheduler", steps=steps, height=size, width=size,
                              batch_size=batch, disable_safety_checker=True, **extra)


def _images_per_s(generator: Any, n: int, batch: int) -> float:
    prompts = [f"a photo of a church number {i} on a hill" for i in range(n)]
    generator.generate(prompts[:batch], list(range(batch)))  # warm-up (kernels, allocator)
    _sync()
    start = time.perf_counter()
    for i in range(0, n, batch):
        generator.generate(prompts[i:i + batch], list(range(i, i + batch))[: len(prompts[i:i + batch])])
    _sync()
    return n / (time.perf_counter() - start)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _generation(root: Path, device: str, quick: bool, tiny: bool) -> list[dict[str, Any]]:
    from dataigm.generate import generate
    from dataigm.generators.diffusers_gen import DiffusersGenerator
    from dataigm.preset import load_preset

    model = build_pipeline(root / "sd14-random", device, tiny)
    records = []
    sizes = [1, 4] if quick or tiny else [1, 8, 16, 32]
    n = 8 if quick or tiny else 64
    rates = {}
    for batch in sizes:
        gen = DiffusersGenerator(_settings(model, device, batch, tiny))
        rates[batch] = _images_per_s(gen, max(n, batch) if batch > 1 else min(n, 16), batch)
        del gen
    for batch in sizes[1:]:
        records.append({"name": f"gpu/batched_over_per_call@{batch}", "ratio": rates[batch] / rates[1],
                        "images_per_s": round(rates[batch], 2), "per_call_images_per_s": round(rates[1], 2)})

    # `dataigm generate` end to end at batch 16 (4 on the smoke run) against the raw pipeline.
    batch = 4 if quick or tiny else 16
    raw = rates.get(batch) or _images_per_s(DiffusersGenerator(_settings(model, device, batch, tiny)), n, batch)
    preset_file = root / "bench.yaml"
    settings = _settings(model, device, batch, tiny)
    preset_file.write_text(
        "name: bench\nconcepts: [object_church]\n"
        f"prompt_counts: {{'*': {{forget: {max(2, n // 4)}, unrelated_per_entity: {max(1, n // 24)}, "
        "neighbour_per_entity: 0}}\n"
        f"generation: {{generator: diffusers, model: '{model}', device: {device}, dtype: {settings.dtype}, "
        f"scheduler: DPMSolverMultistepScheduler, steps: {settings.steps}, height: {settings.height}, "
        f"width: {settings.width}, batch_size: {batch}, shard_size: {4 * batch}, disable_safety_checker: true}}\n")
    report = generate(root / "run", load_preset(str(preset_file)), limit=n, progress=False)
    end_to_end = report.images_generated / report.generate_seconds
    records.append({"name": "gpu/dataigm_generate_over_raw", "ratio": end_to_end / raw, "target": ">= 0.9",
                    "batch_size": batch, "images": report.images_generated,
                    "dataigm_images_per_s": round(end_to_end, 2), "raw_images_per_s": round(raw, 2)})

    if tiny:
        # The smoke run skips compilation (tests/test_devices.py covers the compiled path).
        return records
    compiled = DiffusersGenerator(_settings(model, device, batch, tiny, compile=True))
    compiled_rate = _images_per_s(compiled, n, batch)
    records.append({"name": "gpu/compiled_over_eager", "ratio": compiled_rate / raw, "target": ">= 1.3",
                    "batch_size": batch, "compile_s": round(compiled.compile_seconds or 0.0, 1),
                    "compiled_images_per_s": round(compiled_rate, 2), "eager_images_per_s": round(raw, 2)})
    return records


# ----------------------------------------------------------------------------- judges


def build_image_dataset(folder: Path, n: int, size: int) -> Path:
    """A dataigm-style dataset folder (one config `bench`, parquet shards, README configs) of
    `n` random PNGs of `size` px per split, built locally."""
    import datasets
    from PIL import Image

    rng = np.random.default_rng(0)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["other", "thing"]),
                                  "id": datasets.Value("string")})
    header = ["---", "configs:", "- config_name: bench", "  data_files:"]
    for split, count in (("train", n), ("validation", max(8, n // 8)), ("test", max(8, n // 8))):
        rows = {"image": [], "label": [], "id": []}
        for i in range(count):
            arr = rng.integers(0, 255, size=(size // 8, size // 8, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).resize((size, size)).save(buf, format="PNG")
            rows["image"].append({"bytes": buf.getvalue(), "path": f"{split}-{i}.png"})
            rows["label"].append(int(i % 2))
            rows["id"].append(f"{split}-{i}")
        (folder / "bench").mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(folder / "bench" / f"{split}-00000-of-00001.parquet"))
        header += [f"  - split: {split}", f"    path: bench/{split}-*"]
    (folder / "README.md").write_text("\n".join(header + ["---", "", "benchmark images"]) + "\n")
    return folder


def _judges(root: Path, device: str, quick: bool, tiny: bool) -> list[dict[str, Any]]:
    import torch

    from dataigm.detectors.data import JudgeDataModule, resolve_data_config
    from dataigm.detectors.features import cached_features, split_loader
    from dataigm.detectors.networks import build_network
    from dataigm.devices import default_workers

    backbone = "test_vit" if tiny else "vit_base_patch32_clip_224"
    n = 64 if tiny else (1024 if quick else 4096)
    data = build_image_dataset(root / "images", n, 64 if tiny else 512)
    net = build_network(backbone, "igmu", 1).to(device).eval()
    dm = JudgeDataModule(str(data), "bench", resolve_data_config(net), batch_size=256)
    workers = 0 if tiny else default_workers(device)
    records = []

    # The GPU part alone: synthetic batches already on the device.
    x = torch.randint(0, 255, (256, 3, 224, 224) if not tiny else (16, 3, 32, 32), device=device,
                      dtype=torch.uint8)
    for name, dtype in (("bfloat16", torch.bfloat16), ("float32", None)):
        rate = _encode_rate(net, x, device, dtype, repeats=3 if tiny else 20)
        records.append({"name": f"gpu/encode_{name}_images_per_s", "images_per_s": round(rate, 1),
                        "target": ">= 15000" if name == "bfloat16" else "-", "backbone": backbone})

    # The decode-and-resize floor on the same images and workers, then the full frozen encode.
    loader = split_loader(dm, "train", 256, workers, device)
    start = time.perf_counter()
    seen = sum(len(y) for _, y in loader)
    floor = seen / (time.perf_counter() - start)
    start = time.perf_counter()
    features, _ = cached_features(net, dm, backbone, root / "cache", device, batch_size=256, num_workers=workers,
                                  progress=False)
    total = sum(len(features[s][1]) for s in features)
    full = total / (time.perf_counter() - start)
    records.append({"name": "gpu/encode_over_decode_floor", "ratio": full / floor, "target": ">= 0.8",
                    "encode_images_per_s": round(full, 1), "decode_resize_images_per_s": round(floor, 1),
                    "workers": workers})
    records.append(_training(root, data, backbone, device, tiny))
    records.append(_scoring(root, device, tiny, data))
    return records


def _encode_rate(net: Any, x: Any, device: str, dtype: Any, repeats: int) -> float:
    import torch

    from dataigm.detectors.features import normalise_on_device
    from dataigm.detectors.networks import pooled_features

    mean = torch.tensor([0.48, 0.46, 0.41], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.27, 0.26, 0.28], device=device).view(1, 3, 1, 1)
    device_type = torch.device(device).type
    with torch.no_grad(), torch.autocast(device_type=device_type, dtype=dtype, enabled=dtype is not None):
        pooled_features(net, normalise_on_device(x, mean, std))
        _sync()
        start = time.perf_counter()
        for _ in range(repeats):
            pooled_features(net, normalise_on_device(x, mean, std))
        _sync()
    return repeats * len(x) / (time.perf_counter() - start)


def _training(root: Path, data: Path, backbone: str, device: str, tiny: bool) -> dict[str, Any]:
    from dataigm.detectors.config import load_train_config
    from dataigm.detectors.train import train

    epochs = 3 if tiny else 10
    base = dict(dataset=str(data), concept="bench",
                model={"backbone": backbone, "pretrained": False, "head": "igmu", "freeze_backbone": True},
                loader={"batch_size": 256}, optim={"max_epochs": epochs, "patience": epochs + 1},
                trainer={"device": device, "progress_bar": False})
    cached = train(load_train_config("paper", out=str(root / "cached"), cache_dir=str(root / "c1"), **base))
    cached_s = cached.timings["encode_s"] + cached.timings["fit_s"]
    again = dict(base, model=dict(base["model"], cache_features=False))
    reencode = train(load_train_config("paper", out=str(root / "re"), cache_dir=str(root / "c2"), **again))
    return {"name": "gpu/reencode_over_cached", "ratio": reencode.timings["fit_s"] / cached_s, "target": ">= 5",
            "cached_s": round(cached_s, 2), "reencode_s": round(reencode.timings["fit_s"], 2), "epochs": epochs}


def _scoring(root: Path, device: str, tiny: bool, data: Path) -> dict[str, Any]:
    import datasets

    from dataigm.judging import load_judge

    images = [row["image"] for row in datasets.load_dataset(str(data), "bench", split="train")]
    folder = root / "cached"
    rates = {}
    for where in (device, "cpu"):
        judge = load_judge(str(folder), device=where)
        judge.predict(images[:32], batch_size=32)
        _sync()
        start = time.perf_counter()
        judge.predict(images, batch_size=128)
        _sync()
        rates[where] = len(images) / (time.perf_counter() - start)
    return {"name": "gpu/judge_scoring_gpu_over_cpu", "ratio": rates[device] / rates["cpu"],
            "gpu_images_per_s": round(rates[device], 1), "cpu_images_per_s": round(rates["cpu"], 1),
            "images": len(images)}
