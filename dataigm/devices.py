"""Devices: one meaning of `--device auto|cpu|cuda|cuda:N` for every command that runs a network.

`auto` is the GPU when there is one (under a multi-process launch, the GPU of this process's
local rank), else the CPU. Asking for CUDA on a machine without it is a one-line error, never a
silent fall-back to the CPU. torch is imported only when a device is resolved.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from dataigm.errors import InputError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
Precision = Literal["auto", "float32", "bfloat16", "float16"]


def check_device(name: str) -> None:
    """Syntax check for config validation (no torch import): raises ValueError."""
    if not _DEVICE_RE.match(name or ""):
        raise ValueError(f"device: expected {DEVICE_CHOICES}, got {name!r}")


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def resolve_device(name: str = "auto") -> str:
    """A torch device string for `name`; InputError when CUDA is asked for and absent."""
    import torch

    if not _DEVICE_RE.match(name or ""):
        raise InputError(f"--device: expected {DEVICE_CHOICES}, got {name!r}")
    available = torch.cuda.is_available()
    if name == "cpu":
        return "cpu"
    if name == "auto":
        return f"cuda:{local_rank() % torch.cuda.device_count()}" if available else "cpu"
    if not available:
        raise InputError(f"--device {name}: CUDA is not available on this machine (torch "
                         f"{torch.__version__}, {'CUDA build' if torch.version.cuda else 'CPU build'}); "
                         "use --device cpu or auto")
    if name == "cuda":
        return f"cuda:{local_rank() % torch.cuda.device_count()}"
    index = int(name.split(":")[1])
    if index >= torch.cuda.device_count():
        raise InputError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name


def autocast_dtype(device: str, precision: Precision = "auto") -> Any:
    """The autocast dtype for a frozen encode (None = full float32).

    `auto`: bfloat16 on a GPU that supports it (float16 otherwise), float32 on the CPU, where
    reduced-precision matmuls are slower than float32 on most processors.
    """
    import torch

    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "float16":
        return torch.float16
    if not device.startswith("cuda"):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def precision_name(dtype: Any) -> str:
    """The name a cache key records for an autocast dtype."""
    return "float32" if dtype is None else str(dtype).removeprefix("torch.")


def default_workers(device: str) -> int:
    """DataLoader decode workers that keep the device fed: on a GPU, the machine's cores shared
    between the processes of this node (decoding and resizing images is the bottleneck there);
    on the CPU none, since the network already uses every core."""
    if not device.startswith("cuda"):
        return 0
    per_process = (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(16, per_process - 1))
