"""Component overrides for a diffusers pipeline: an unlearned UNet or text encoder on top of the
original model, which is how most unlearning methods release their weights.

An override is a `.safetensors` file holding the component's state dict (diffusers layout), a
folder saved with `save_pretrained`, or a pipeline folder with a `unet/` or `text_encoder/`
subfolder. Files are loaded strictly: a key mismatch is an error that says how many keys were
missing or unexpected, never a silent partial load. The override's identity (its file name and
content digest, never a local path) goes into the pipeline's recorded revision.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from dataigm.errors import InputError, one_line

COMPONENTS = ("unet", "text_encoder")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def override_identity(ref: str) -> str:
    """`name@sha256:<12 hex>` of an override file, or of a folder's weight files."""
    path = Path(ref).expanduser()
    if path.is_file():
        return f"{path.name}@sha256:{file_digest(path)[:12]}"
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f.relative_to(path).as_posix().encode())
        digest.update(file_digest(f).encode())
    return f"{path.name}/@sha256:{digest.hexdigest()[:12]}"


def apply_overrides(pipe: Any, overrides: dict[str, str | None], dtype: Any) -> list[str]:
    """Replace the pipeline's components named in `overrides`; returns their identities."""
    applied = []
    for name, ref in overrides.items():
        if not ref:
            continue
        current = getattr(pipe, name, None)
        if current is None:
            raise InputError(f"generation.{name}: the pipeline has no '{name}' component to replace")
        path = Path(ref).expanduser()
        if not path.exists():
            raise InputError(f"generation.{name}: '{ref}' does not exist (a .safetensors file or a folder)")
        if path.is_file():
            _load_state_file(current, path, name)
        else:
            setattr(pipe, name, _load_folder(type(current), path, name, dtype))
        applied.append(f"{name}={override_identity(ref)}")
    return applied


def _load_state_file(module: Any, path: Path, name: str) -> None:
    if path.suffix != ".safetensors":
        raise InputError(f"generation.{name}: '{path.name}' is not a .safetensors file "
                         "(pickled checkpoints are not loaded; convert with safetensors.torch.save_file)")
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - any decode failure is the user's file
        raise InputError(f"generation.{name}: cannot read '{path.name}': {one_line(exc)}") from None
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        example = (missing or unexpected)[0]
        raise InputError(f"generation.{name}: '{path.name}' does not match the pipeline's {name} "
                         f"({len(missing)} keys missing, {len(unexpected)} unexpected, e.g. '{example}'); "
                         "it must be a state dict in diffusers layout")
    try:
        module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    except RuntimeError as exc:   # shapes differ: another architecture
        raise InputError(f"generation.{name}: '{path.name}': {one_line(exc)[:300]}") from None


def _load_folder(cls: Any, path: Path, name: str, dtype: Any) -> Any:
    sub = name if (path / "model_index.json").is_file() and (path / name).is_dir() else None
    try:
        # Loaded in its saved dtype, then cast: the dtype keyword differs between diffusers
        # (UNet) and transformers (text encoder) versions.
        return cls.from_pretrained(str(path), **({"subfolder": sub} if sub else {})).to(dtype)
    except Exception as exc:  # noqa: BLE001 - any load failure is the user's folder
        raise InputError(f"generation.{name}: cannot load {cls.__name__} from '{path.name}': "
                         f"{one_line(exc)[:300]}") from None
