"""Generators: the tiny diffusers pipeline through the real from_pretrained path, and ToyWorld.

Batch vs. alone on CPU float32 (measured, tiny pipeline, 2 DDIM steps, guidance 7.5): the
initial latents and text embeddings are bit-identical (one CPU generator per image), but the
UNet and VAE outputs differ by ~1e-6 because BLAS picks a different kernel / summation order
for a different number of rows (first seen at the timestep-embedding Linear, M=2 vs M=6). After
conversion to uint8 that moves a handful of channel values by 1 (mean abs diff ~1e-4). The
tolerance below (max 1 level, < 0.5% of values) is that, with margin.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from PIL import Image

from dataigm.errors import ConfigError, DataigmError, InputError
from dataigm.generators.base import GenerationSettings, make_generator
from dataigm.taxonomy import ConceptSpec, builtin_concepts, load_concept, load_concepts
from dataigm import toyworld
from dataigm.toyworld import ToyWorldGenerator, parse_prompt, render

IGMU = ["nudity", "style_vangogh", "object_church", "object_parachute"]


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img).astype(np.int16)


# ------------------------------------------------------------------ tiny diffusers pipeline

@pytest.fixture(scope="module")
def torch_one_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, torch_one_thread) -> Path:
    from dataigm.generators.tiny import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "tiny-sd", seed=0)


def tiny_settings(model: Path | str, **kw) -> GenerationSettings:
    base = dict(generator="tiny", model=str(model), steps=2, guidance=7.5, height=64, width=64,
                batch_size=3)
    base.update(kw)
    return GenerationSettings(**base)


@pytest.fixture(scope="module")
def tiny_gen(tiny_dir):
    return make_generator(tiny_settings(tiny_dir), [])


def test_tiny_folder_loads_through_from_pretrained(tiny_dir):
    from diffusers import DiffusionPipeline, StableDiffusionPipeline

    from dataigm.tiny_vocab import vocab_size

    index = json.loads((tiny_dir / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["requires_safety_checker"] is False
    weights = sorted(p.relative_to(tiny_dir).as_posix() for p in tiny_dir.rglob("*.safetensors"))
    assert weights == ["text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                       "vae/diffusion_pytorch_model.safetensors"]
    assert not list(tiny_dir.rglob("*.bin")) and not list(tiny_dir.rglob("*.pt"))
    pipe = DiffusionPipeline.from_pretrained(str(tiny_dir))
    assert isinstance(pipe, StableDiffusionPipeline)
    assert pipe.safety_checker is None
    assert len(pipe.tokenizer) == vocab_size() and pipe.tokenizer.model_max_length == 77
    assert pipe.text_encoder.config.hidden_size == pipe.unet.config.cross_attention_dim
    assert pipe.unet.config.sample_size * pipe.vae_scale_factor == 64
    n_params = sum(p.numel() for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters())
    assert n_params < 2_000_000


def test_tiny_build_same_seed_same_bytes(tiny_dir, tmp_path):
    from dataigm.generators.tiny import build_tiny_pipeline, folder_fingerprint

    again = build_tiny_pipeline(tmp_path / "again", seed=0)
    other = build_tiny_pipeline(tmp_path / "other", seed=1)
    assert folder_fingerprint(again) == folder_fingerprint(tiny_dir)
    assert folder_fingerprint(other) != folder_fingerprint(tiny_dir)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a diffusers pipeline"):
        build_tiny_pipeline(tmp_path / "junk")


def test_tiny_batch_image_regenerates_alone(tiny_gen):
    prompts = ["a photo of a church in the snow", "a photo of a cat at night", "a kite over the sea"]
    seeds = [11, 22, 33]
    batch = tiny_gen.generate(prompts, seeds)
    assert len(batch.images) == 3
    assert all(im.mode == "RGB" and im.size == (64, 64) for im in batch.images)
    p = batch.params
    assert p["model_id"] == "dataigm/tiny-sd" and p["model_revision"].startswith("tiny-sd-1:")
    assert (p["scheduler"], p["steps"], p["guidance"], p["height"], p["width"], p["dtype"]) == \
        ("DDIMScheduler", 2, 7.5, 64, 64, "float32")
    assert p["nsfw_flagged"] == [False, False, False]
    for i in range(3):
        alone = arr(tiny_gen.generate([prompts[i]], [seeds[i]]).images[0])
        diff = np.abs(alone - arr(batch.images[i]))
        assert diff.max() <= 1, f"image {i}: batch vs alone differ by {diff.max()} levels"
        assert (diff > 0).mean() < 0.005


def test_tiny_same_seed_same_bytes_other_seed_differs(tiny_gen):
    a = tiny_gen.generate(["a photo of a church"], [5]).images[0]
    b = tiny_gen.generate(["a photo of a church"], [5]).images[0]
    c = tiny_gen.generate(["a photo of a church"], [6]).images[0]
    assert png_bytes(a) == png_bytes(b)
    assert np.abs(arr(a) - arr(c)).mean() > 5.0
    assert arr(a).std() > 5.0    # not a blank image


def test_scheduler_by_class_name(tiny_dir):
    from dataigm.generators.diffusers_gen import DiffusersGenerator

    gen = DiffusersGenerator(tiny_settings(tiny_dir, generator="diffusers", scheduler="EulerDiscreteScheduler"))
    out = gen.generate(["a bird"], [1])
    assert out.params["scheduler"] == "EulerDiscreteScheduler"
    assert out.params["model_revision"] == "local" and out.params["model_id"] == str(tiny_dir)
    with pytest.raises(ConfigError, match="generation.scheduler: 'NoSuchScheduler'"):
        DiffusersGenerator(tiny_settings(tiny_dir, generator="diffusers", scheduler="NoSuchScheduler"))


def test_missing_model_folder_is_a_one_line_input_error(tmp_path):
    from dataigm.generators.diffusers_gen import DiffusersGenerator

    missing = tmp_path / "no" / "such" / "pipeline"
    with pytest.raises(InputError) as info:
        DiffusersGenerator(GenerationSettings(generator="diffusers", model=str(missing)))
    msg = str(info.value)
    assert "\n" not in msg and str(missing) in msg and "does not exist" in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataigmError, match="no model_index.json"):
        DiffusersGenerator(GenerationSettings(generator="diffusers", model=str(tmp_path / "empty")))


def _tiny_with_safety_checker(tiny_dir: Path, out: Path) -> Path:
    """The tiny pipeline plus a tiny random safety checker that flags every image."""
    import torch
    from diffusers import DiffusionPipeline, StableDiffusionPipeline
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    cfg = CLIPConfig(text_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                                  "num_attention_heads": 4},
                     vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                                    "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
                     projection_dim=32)
    checker = StableDiffusionSafetyChecker(cfg)
    with torch.no_grad():   # thresholds below any cosine similarity: every image is "unsafe"
        checker.concept_embeds_weights.fill_(-2.0)
    parts = DiffusionPipeline.from_pretrained(str(tiny_dir)).components
    parts.update(safety_checker=checker, requires_safety_checker=True,
                 feature_extractor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                      crop_size={"height": 32, "width": 32}))
    StableDiffusionPipeline(**parts).save_pretrained(out)
    return out


def test_safety_checker_kept_and_reported_unless_disabled(tiny_dir, tmp_path):
    from dataigm.generators.diffusers_gen import DiffusersGenerator

    folder = _tiny_with_safety_checker(tiny_dir, tmp_path / "checked")
    kept = DiffusersGenerator(tiny_settings(folder, generator="diffusers")).generate(["a cat"], [3])
    assert kept.params["nsfw_flagged"] == [True]
    assert arr(kept.images[0]).max() == 0          # the checker blacked it out
    off = DiffusersGenerator(tiny_settings(folder, generator="diffusers", disable_safety_checker=True))
    assert off.pipe.safety_checker is None
    raw = off.generate(["a cat"], [3])
    assert raw.params["nsfw_flagged"] == [False] and arr(raw.images[0]).std() > 5.0


def test_hub_id_loads_from_cache_and_records_commit(tiny_dir, tmp_path):
    """A hub id goes through from_pretrained's download path; offline, with the repo laid out in
    a hub cache, it loads and model_revision is the commit the ref resolves to."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--dataigm--tiny-sd"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    import shutil

    shutil.copytree(tiny_dir, repo / "snapshots" / commit)
    code = textwrap.dedent("""
        import json, torch
        torch.set_num_threads(1)
        from dataigm.generators.base import GenerationSettings
        from dataigm.generators.diffusers_gen import DiffusersGenerator
        g = DiffusersGenerator(GenerationSettings(generator="diffusers", model="dataigm/tiny-sd",
                               steps=2, height=64, width=64))
        out = g.generate(["a church"], [1])
        print("PARAMS=" + json.dumps(out.params))
    """)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"),
               HF_HUB_DISABLE_TELEMETRY="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    params = json.loads(res.stdout.split("PARAMS=")[1])
    assert params["model_id"] == "dataigm/tiny-sd" and params["model_revision"] == commit


# ------------------------------------------------------------------ toyworld

@pytest.fixture(scope="module")
def specs() -> list[ConceptSpec]:
    return load_concepts(builtin_concepts())


def by_name(specs: list[ConceptSpec], name: str) -> ConceptSpec:
    return next(s for s in specs if s.name == name)


def _fill(template: str, **kw: str) -> str:
    return " ".join(template.format(**kw).split()).replace(" ,", ",").rstrip(",")


def prompt_pair(spec: ConceptSpec, i: int) -> tuple[str, str]:
    """(forget prompt, its reference or unrelated prompt) from the concept's own recipe."""
    r = spec.prompts
    template = r.templates[i % len(r.templates)]
    scene = r.scenes[(i // len(r.templates)) % len(r.scenes)]
    subjects = [s for group in r.groups.values() for s in group] or [""]
    subject = subjects[(i * 7) % len(subjects)]
    forget = _fill(template, concept=r.concept_phrases[i % len(r.concept_phrases)], subject=subject, scene=scene)
    other = r.unrelated[i % len(r.unrelated)] if spec.kind == "entity" else ""
    return forget, _fill(template, concept=other, subject=subject, scene=scene)


def test_toyworld_is_deterministic_png_bytes(specs):
    gen = make_generator(GenerationSettings(generator="toyworld", height=64, width=64), specs)
    assert isinstance(gen, ToyWorldGenerator)
    prompts = ["a photo of a church in the snow", "a nude man in a studio", "a wheat field, with Van Gogh style"]
    a = gen.generate(prompts, [1, 2, 3])
    b = gen.generate(prompts, [1, 2, 3])
    assert [png_bytes(i) for i in a.images] == [png_bytes(i) for i in b.images]
    assert all(i.mode == "RGB" and i.size == (64, 64) for i in a.images)
    assert a.params == {"model_id": "toyworld", "model_revision": toyworld.RENDERER_VERSION,
                        "scheduler": "none", "steps": 0, "guidance": 0.0, "height": 64, "width": 64,
                        "dtype": "uint8"}
    other_seed = render(prompts[0], 4, 64, 64, specs)
    assert np.abs(arr(other_seed) - arr(a.images[0])).mean() > 3.0
    assert render(prompts[0], 1, 96, 128, specs).size == (128, 96)
    with pytest.raises(InputError, match="one seed per image"):
        gen.generate(prompts, [1])


def test_toyworld_draws_each_concept_exactly_when_named(specs):
    """Across every recipe's prompts: the concept's motif is drawn iff names_concept(prompt)."""
    for spec in specs:
        motif = toyworld.concept_motif(spec)
        # Every built-in concept has a drawing of its own, never the hashed-glyph fallback.
        assert motif in toyworld.ENTITY_MOTIFS | toyworld.ATTRIBUTE_MOTIFS, (spec.name, motif)
        for i in range(40):
            for prompt in prompt_pair(spec, i):
                scene = parse_prompt(prompt, specs)
                named = spec.names_concept(prompt)
                if motif == "nude_figure":
                    drawn = scene.nude
                elif motif == "swirl_style":
                    drawn = scene.swirl
                else:
                    drawn = any(t is not None and t.motif == motif for t in (scene.subject, scene.secondary))
                assert drawn == named, (spec.name, prompt)


@pytest.mark.parametrize("name", IGMU)
def test_toyworld_pairs_differ_in_the_concept(specs, name):
    spec = by_name(specs, name)
    for seed in range(12):
        forget, other = prompt_pair(spec, seed)
        a, b = arr(render(forget, seed, 64, 64, specs)), arr(render(other, seed, 64, 64, specs))
        diff = np.abs(a - b)
        changed = (diff.sum(axis=2) > 0).mean()
        assert diff.mean() > 1.0, (forget, other)
        if name == "style_vangogh":
            # The style repaints everything, but the layout stays: coarse luminance correlates.
            la = np.asarray(Image.fromarray(a.astype(np.uint8)).convert("L").resize((8, 8), Image.BOX), float)
            lb = np.asarray(Image.fromarray(b.astype(np.uint8)).convert("L").resize((8, 8), Image.BOX), float)
            assert np.corrcoef(la.ravel(), lb.ravel())[0, 1] > 0.5, (forget, other)
        else:
            # Same background and layout: the four corners are untouched, most pixels too.
            for ys in (slice(0, 4), slice(-4, None)):
                for xs in (slice(0, 4), slice(-4, None)):
                    assert (diff[ys, xs] == 0).all(), (forget, other)
            assert changed < 0.45, (forget, other, changed)


def _features(img: Image.Image) -> np.ndarray:
    """Downsampled pixels + colour histogram + edge-orientation histogram: a linear model on
    these is the weakest 'judge' worth the name."""
    a = np.asarray(img, dtype=np.float64) / 255.0
    q = np.minimum((a * 4).astype(int), 3)
    hist = np.bincount((q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).ravel(), minlength=64) / q[..., 0].size
    gy, gx = np.gradient(a.mean(axis=2))
    mag = np.hypot(gx, gy)
    ori = np.minimum(((np.arctan2(gy, gx) % np.pi) / np.pi * 8).astype(int), 7)
    edges = np.bincount(ori.ravel(), weights=mag.ravel(), minlength=8) / mag.size
    small = np.asarray(img.resize((8, 8), Image.BOX), dtype=np.float64).ravel() / 255.0
    return np.concatenate([small, np.sqrt(hist), edges * 10])


def _logistic_accuracy(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray) -> float:
    mu, sd = x.mean(0), x.std(0) + 1e-6
    x, xt = (x - mu) / sd, (xt - mu) / sd
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(300):
        g = 1.0 / (1.0 + np.exp(-(x @ w + b))) - y
        w -= 0.5 * (x.T @ g / len(y) + 1e-3 * w)
        b -= 0.5 * g.mean()
    return float((((xt @ w + b) > 0) == yt).mean())


@pytest.mark.parametrize("name", IGMU)
def test_toyworld_gives_a_learnable_signal(specs, name):
    """100 seeds, present vs absent: a logistic regression trained on 70 seeds' pairs classifies
    the other 30 seeds' images well, so a judge has something real to learn."""
    spec = by_name(specs, name)
    feats, labels = [], []
    for seed in range(100):
        forget, other = prompt_pair(spec, seed)
        feats += [_features(render(forget, seed, 64, 64, specs)), _features(render(other, seed, 64, 64, specs))]
        labels += [1, 0]
    x, y = np.array(feats), np.array(labels)
    acc = _logistic_accuracy(x[:140], y[:140], x[140:], y[140:])
    assert acc >= 0.9, f"{name}: held-out accuracy {acc:.2f}"


def test_user_concept_with_unknown_motif_renders_its_generic_glyph(specs, tmp_path):
    church = Path(by_name(specs, "object_church").source_file).read_text()
    yaml_text = (church.replace("name: object_church", "name: object_zorblax")
                 .replace("concept: church", "concept: zorblax")
                 .replace("labels: [other, church]", "labels: [other, zorblax]")
                 .replace("aliases: [church, churches, chapel]", "aliases: [zorblax]")
                 .replace("concept_phrases: [church, stone church, white church]", "concept_phrases: [zorblax]")
                 .replace("unrelated: [parachute, cat,", "unrelated: [cat,"))
    path = tmp_path / "my_concepts" / "zorblax.yaml"
    path.parent.mkdir()
    path.write_text(yaml_text)
    spec = load_concept(str(path))
    # A user concept names no motif: it is drawn as its concept name, which no shape answers to.
    assert toyworld.concept_motif(spec) == "zorblax" and "zorblax" not in toyworld.ENTITY_MOTIFS
    scene = parse_prompt("a photo of a zorblax in a field", [spec])
    assert scene.subject.motif == "glyph" and scene.subject.key == "zorblax"
    present = arr(render("a photo of a zorblax in a field", 7, 64, 64, [spec]))
    absent = arr(render("a photo of a cat in a field", 7, 64, 64, [spec]))
    diff = np.abs(present - absent)
    assert diff.mean() > 1.0 and (diff[:4, :4] == 0).all() and (diff[-4:, -4:] == 0).all()
    # The glyph comes from the concept name: another unknown name draws another glyph.
    spec2 = load_concept(str(path))
    spec2.concept = "another_glyph"
    assert toyworld.concept_motif(spec2) == "another_glyph"
    other_glyph = arr(render("a photo of a zorblax in a field", 7, 64, 64, [spec2]))
    assert np.abs(present - other_glyph).mean() > 1.0
