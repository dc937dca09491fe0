"""Synthetic judge datasets in the dataigm export format, built in a few hundred milliseconds.

The concept is a visible coloured shape (binary: a red disc or square; multi-class: one shape
kind per class) drawn on varied backgrounds (random two-colour gradients plus grey distractor
shapes), the same kind of signal the toyworld demo generator produces. The folder has parquet
shards with embedded image bytes, a ClassLabel `label`, the provenance columns judges slice on,
and a README.md YAML `configs:` header, so `datasets.load_dataset(folder, name=concept)` works
exactly as it does on an exported dataigm dataset.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SOURCES = ("generated", "web", "real")
SOURCE_NAMES = {"generated": "toyworld", "web": "laion-fixture", "real": "imagenet-fixture"}
MULTI_COLOURS = [(220, 30, 30), (30, 60, 220), (240, 200, 20), (30, 180, 60), (200, 40, 200)]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    # Muted two-colour gradient plus noise: varied, but never saturated red.
    a = rng.integers(40, 200, size=3)
    b = rng.integers(40, 200, size=3)
    t = np.linspace(0, 1, size)[None, :, None]
    if rng.random() < 0.5:
        t = t.transpose(1, 0, 2)
    img = a * (1 - t) + b * t
    img = img + rng.normal(0, 12, size=(size, size, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    im = Image.fromarray(img)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(0, 3))):  # grey distractors, never the concept colour
        g = int(rng.integers(60, 200))
        x, y = rng.integers(0, size - 8, size=2)
        r = int(rng.integers(3, 8))
        draw.rectangle([x, y, x + r, y + r], fill=(g, g, g))
    return im


def _draw_shape(im: Image.Image, rng: np.random.Generator, kind: int, colour: tuple[int, int, int]) -> None:
    size = im.size[0]
    r = int(rng.integers(size // 6, size // 3))
    cx, cy = rng.integers(r, size - r, size=2)
    box = [cx - r, cy - r, cx + r, cy + r]
    draw = ImageDraw.Draw(im)
    if kind % 2 == 0:
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)


def make_image(label_id: int, rng: np.random.Generator, size: int = 48, num_classes: int = 2) -> Image.Image:
    im = _background(rng, size)
    if label_id == 0:
        return im
    if num_classes == 2:
        colour = tuple(int(c) for c in np.clip(np.array((225, 25, 25)) + rng.integers(-25, 25, 3), 0, 255))
        _draw_shape(im, rng, int(rng.integers(0, 2)), colour)  # disc or square, always red
    else:
        _draw_shape(im, rng, label_id, MULTI_COLOURS[(label_id - 1) % len(MULTI_COLOURS)])
    return im


def build_dataset(
    root: str | Path,
    concept: str = "object_square",
    label_names: tuple[str, ...] = ("other", "square"),
    n_per_split: dict[str, int] | None = None,
    size: int = 48,
    seed: int = 0,
    positive_share: float = 0.5,
) -> Path:
    """Write a dataset folder with one config `concept` and return its path."""
    import datasets

    root = Path(root)
    n_per_split = n_per_split or {"train": 120, "validation": 40, "test": 60}
    num_classes = len(label_names)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=list(label_names)),
            "source": datasets.Value("string"),
            "source_name": datasets.Value("string"),
            "generator": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "pair_id": datasets.Value("string"),
            "benchmark": datasets.Value("bool"),
            "seed": datasets.Value("int64"),
        }
    )
    rng = np.random.default_rng(seed)
    (root / concept).mkdir(parents=True, exist_ok=True)
    for split, n in n_per_split.items():
        rows: dict[str, list] = {k: [] for k in features}
        for i in range(n):
            if num_classes == 2:
                label = int(rng.random() < positive_share)
            else:
                label = i % num_classes
            source = SOURCES[i % len(SOURCES)]
            buf = io.BytesIO()
            make_image(label, rng, size, num_classes).save(buf, format="PNG")
            rid = f"{concept}-{split}-{i:05d}"
            rows["id"].append(rid)
            rows["image"].append({"bytes": buf.getvalue(), "path": f"{rid}.png"})
            rows["label"].append(label)
            rows["source"].append(source)
            rows["source_name"].append(SOURCE_NAMES[source])
            rows["generator"].append("toyworld" if source == "generated" else "")
            rows["prompt"].append(f"a photo of {label_names[label]}" if source == "generated" else "")
            rows["pair_id"].append(f"pair-{split}-{i // 2}")
            rows["benchmark"].append(False)
            rows["seed"].append(int(seed * 100000 + i))
        ds = datasets.Dataset.from_dict(rows, features=features)
        ds.to_parquet(str(root / concept / f"{split}-00000-of-00001.parquet"))
    header = [
        "---",
        "configs:",
        f"- config_name: {concept}",
        "  default: true",
        "  data_files:",
    ]
    for split in n_per_split:
        header += [f"  - split: {split}", f"    path: {concept}/{split}-*"]
    header += ["---", "", f"# fixture dataset ({concept})", ""]
    (root / "README.md").write_text("\n".join(header), encoding="utf-8")
    return root


def write_image_folder(root: str | Path, methods: dict[str, tuple[int, int]], size: int = 48, seed: int = 1) -> Path:
    """A folder of 'unlearned model outputs': one subfolder per method, (n_with, n_without) PNGs each,
    plus one unreadable file so the scorer's skip path is exercised."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for method, (n_pos, n_neg) in methods.items():
        d = root / method / "samples"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n_pos + n_neg):
            make_image(int(i < n_pos), rng, size).save(d / f"{i:03d}.png")
    (root / next(iter(methods)) / "broken.png").write_bytes(b"not a png")
    return root


def build_tiny_clip(folder: str | Path) -> Path:
    """A tiny random CLIP (model + in-repo tokenizer + image processor) saved with save_pretrained,
    so tests load it through the same `from_pretrained(folder)` calls as a real CLIP."""
    from dataigm.evaluation.tiny_clip import build_tiny_clip as build

    return build(folder, seed=0)


# Trained judges shared by the detector tests: trained once per test process (the demo preset
# takes seconds per run) through the same entry points users call.
_CACHE: dict[str, Path] = {}


def _workdir() -> Path:
    import atexit
    import shutil
    import tempfile

    if "work" not in _CACHE:
        d = Path(tempfile.mkdtemp(prefix="dataigm-judge-tests-"))
        atexit.register(shutil.rmtree, d, True)
        _CACHE["work"] = d
    return _CACHE["work"]


def fixture_dataset() -> Path:
    if "ds" not in _CACHE:
        _CACHE["ds"] = build_dataset(_workdir() / "ds")
    return _CACHE["ds"]


def demo_judge() -> Path:
    """A linear-head judge trained with `dataigm train --preset demo` on the fixture dataset."""
    if "demo" not in _CACHE:
        from dataigm.cli import main

        out = _workdir() / "judge-demo"
        rc = main(["train", "--data", str(fixture_dataset()), "--concept", "object_square", "--out", str(out),
                   "--preset", "demo", "--cache-dir", str(_workdir() / "cache")])
        assert rc == 0
        _CACHE["demo"] = out
    return _CACHE["demo"]


def igmu_judge() -> tuple[Path, object]:
    """A frozen-backbone IGMU-head judge (cached-feature path) trained with train(cfg)."""
    if "igmu" not in _CACHE:
        from dataigm.detectors.config import load_train_config
        from dataigm.detectors.train import train

        cfg = load_train_config("demo", dataset=str(fixture_dataset()), concept="object_square",
                                out=str(_workdir() / "judge-igmu"), cache_dir=str(_workdir() / "cache"),
                                model={"backbone": "test_resnet", "head": "igmu", "freeze_backbone": True,
                                       "image_size": 64},
                                optim={"lr": 0.001, "max_epochs": 8, "patience": 8, "monitor": "val_auroc"},
                                trainer={"device": "cpu", "progress_bar": False})
        result = train(cfg)
        _CACHE["igmu"] = result.out
        _CACHE["igmu_result"] = result  # type: ignore[assignment]
    return _CACHE["igmu"], _CACHE["igmu_result"]
