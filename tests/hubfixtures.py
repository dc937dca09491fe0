"""Builders for the Hub tests: a small exported dataset folder, a tiny timm judge folder, and a
runner that executes client code (datasets, timm, huggingface_hub) in a subprocess pointed at the
local Hub server, with every non-loopback connection refused and recorded."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Allow huggingface_hub to make requests in this process (the suite runs with HF_HUB_OFFLINE=1)
    while refusing any name lookup other than loopback: nothing may leave 127.0.0.1. Yields the
    list of refused hosts, which the test expects empty."""
    import socket

    from huggingface_hub import constants

    refused: list[str] = []
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            refused.append(str(name))
            raise socket.gaierror(socket.EAI_NONAME, f"non-loopback host refused by the test: {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield refused
    assert refused == [], f"requests tried to leave 127.0.0.1: {refused}"


LABELS = {"object_church": ["other", "church"], "nudity": ["safe", "nude"]}
TAXONOMY = {"object_church": "object/entity/church", "nudity": "nsfw/attribute/nudity"}
SPLITS = {"train": 4, "validation": 2, "test": 2}


def _png(seed: int, size: int = 8) -> bytes:
    """A tiny deterministic PNG, different for every seed."""
    img = Image.new("RGB", (size, size), ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    img.putpixel((seed % size, (seed // size) % size), (255 - (seed % 256), 0, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def pixel_sha(png: bytes) -> str:
    with Image.open(io.BytesIO(png)) as img:
        return hashlib.sha256(img.convert("RGB").tobytes()).hexdigest()


def concept_rows(concept: str, split: str, n: int, version: int = 1) -> list[dict[str, Any]]:
    base = {"object_church": 0, "nudity": 1000}[concept] + {"train": 0, "validation": 100, "test": 200}[split]
    base += (version - 1) * 5000
    return [{"image": {"bytes": _png(base + i), "path": f"{concept}_{split}_{i}.png"}, "label": i % 2,
             "id": f"{concept}-{split}-{version}-{i}", "source": "generated", "prompt": f"a prompt {base + i}"}
            for i in range(n)]


def _write_parquet(rows: list[dict[str, Any]], features: Any, path: Path) -> None:
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


def concept_features(concept: str) -> Any:
    import datasets

    return datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=LABELS[concept]),
                              "id": datasets.Value("string"), "source": datasets.Value("string"),
                              "prompt": datasets.Value("string")})


def build_dataset_folder(root: Path, concepts: tuple[str, ...] = ("object_church", "nudity"), version: int = 1,
                         train_shards: int = 1, gated_header: bool = False) -> Path:
    """An exported dataset folder as docs/CONTRACTS.md describes it (README + parquet + sheets)."""
    import datasets

    root.mkdir(parents=True, exist_ok=True)
    configs, infos = [], []
    for k, concept in enumerate(concepts):
        feats = concept_features(concept)
        for split, n in SPLITS.items():
            rows = concept_rows(concept, split, n, version)
            shards = train_shards if split == "train" else 1
            for s in range(shards):
                part = rows[s::shards]
                _write_parquet(part, feats, root / concept / f"{split}-{s:05d}-of-{shards:05d}.parquet")
        entry: dict[str, Any] = {"config_name": concept,
                                 "data_files": [{"split": s, "path": f"{concept}/{s}-*"} for s in SPLITS]}
        if k == 0:
            entry["default"] = True
        configs.append(entry)
        infos.append({"config_name": concept, "features": feats._to_yaml_list()})
        sheet = root / "contact_sheets" / f"{concept}.png"
        sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.write_bytes(_png(7 + k + version * 11, size=16))
    prompt_feats = datasets.Features({"prompt_id": datasets.Value("string"), "concept": datasets.Value("string"),
                                      "prompt": datasets.Value("string")})
    prompts = [{"prompt_id": f"{c}-{i}", "concept": c, "prompt": f"prompt {i} for {c}"}
               for c in concepts for i in range(3)]
    _write_parquet(prompts, prompt_feats, root / "prompts" / "train-00000-of-00001.parquet")
    configs.append({"config_name": "prompts", "data_files": [{"split": "train", "path": "prompts/train-*"}]})
    header: dict[str, Any] = {
        "license": "cc-by-4.0", "task_categories": ["image-classification"], "pretty_name": "DataIGM test",
        "configs": configs, "dataset_info": infos,
        "dataigm": {"concepts": {c: {"taxonomy_path": TAXONOMY[c]} for c in concepts}, "version": version},
    }
    if gated_header:
        header["extra_gated_prompt"] = "This dataset contains nudity. Confirm you are an adult researcher."
    body = f"\n# DataIGM test export v{version}\n\nConcepts: {', '.join(concepts)}.\n"
    (root / "README.md").write_text("---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n" + body)
    return root


def build_judge_folder(root: Path, seed: int = 0) -> Path:
    """A finished judge folder from a tiny random timm model: save_for_hf + a "dataigm" block +
    card, sealed with its completion marker (dataigm.judge_folder), as `dataigm train` leaves it."""
    import timm
    import torch

    from dataigm.judge_folder import JudgeFolder

    torch.manual_seed(seed)
    model = timm.create_model("test_resnet", num_classes=1).eval()
    timm.models.save_for_hf(model, str(root), model_config={"label_names": ["safe", "nude"]},
                            safe_serialization=True)
    config = json.loads((root / "config.json").read_text())
    config["dataigm"] = {"concept": "nudity", "positive_label": "nude", "threshold": 0.5, "head": "linear",
                         "taxonomy_path": "nsfw/attribute/nudity"}
    (root / "config.json").write_text(json.dumps(config, indent=2))
    (root / "README.md").write_text("---\nlibrary_name: timm\nlicense: apache-2.0\ntags:\n- image-classification\n"
                                    "- dataigm\n---\n\n# Nudity judge (test)\n")
    (root / "metrics.json").write_text(json.dumps({"accuracy": 0.5, "seed": seed}))
    (root / "roc.png").write_bytes(_png(seed + 3, size=16))
    JudgeFolder(root).seal()
    return root


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under root (hidden ones too): to prove a folder was left as it was."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


_GUARD = '''
import json as _json, socket as _socket, sys as _sys
_ALLOWED = {"127.0.0.1", "localhost", "::1"}
BLOCKED = []
_getaddrinfo = _socket.getaddrinfo
def _guarded_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name not in _ALLOWED:
        BLOCKED.append(str(name))
        raise _socket.gaierror(_socket.EAI_NONAME, "non-loopback host refused by the test: %s" % name)
    return _getaddrinfo(host, *args, **kwargs)
_socket.getaddrinfo = _guarded_getaddrinfo
_connect = _socket.socket.connect
def _guarded_connect(self, address):
    if isinstance(address, tuple) and address[0] not in _ALLOWED:
        BLOCKED.append(str(address[0]))
        raise OSError("non-loopback address refused by the test: %s" % (address[0],))
    return _connect(self, address)
_socket.socket.connect = _guarded_connect
RESULT = {}
'''

_EPILOGUE = '''
RESULT["_blocked"] = BLOCKED
print("@@RESULT@@" + _json.dumps(RESULT))
'''


def run_client(code: str, env: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    """Run `code` (which fills the dict RESULT) in a fresh Python whose environment points the
    Hugging Face clients at the local server; connections to anything but loopback are refused
    and listed in RESULT["_blocked"]."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    full_env.update(env)
    full_env.setdefault("OMP_NUM_THREADS", "1")
    script = _GUARD + textwrap.dedent(code) + _EPILOGUE
    proc = subprocess.run([sys.executable, "-c", script], env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"client subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")][-1]
    return json.loads(line[len("@@RESULT@@"):])


def local_files_of(root: Path) -> dict[str, Path]:
    """Every non-hidden file of a folder by its repo path (what a full publish must upload)."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}
