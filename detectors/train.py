"""`train(cfg)`: dataset -> Lightning training -> evaluation -> exported judge folder.

Tests call this directly; `dataigm train` is a thin wrapper. The same code runs under
`Trainer(devices=N, strategy="ddp")` (set trainer.devices / trainer.strategy): feature encoding,
evaluation and export happen on rank 0 / one device only.

The judge is written whole (dataigm.judge_folder): under the judge's lock, leftovers of a killed
run are swept, the target is checked (never a user's folder; a judge only with `overwrite`),
training, evaluation and export happen in a staging folder next to JUDGE, and the finished judge
is sealed with its marker and swapped in with one rename.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from pytorch_lightning.loggers import CSVLogger
from safetensors.torch import load_file

from dataigm.config import to_dict
from dataigm.devices import default_workers, resolve_device
from dataigm.errors import ConfigError
from dataigm.io import atomic_write_json
from dataigm.judge_folder import TRAINING, JudgeFolder
from dataigm.detectors.config import TrainConfig
from dataigm.detectors.data import JudgeDataModule, resolve_data_config
from dataigm.detectors.evaluate import evaluate
from dataigm.detectors.export import export_judge, require_finite_weights
from dataigm.detectors.features import cached_features
from dataigm.detectors.module import JudgeModule, SafetensorsCheckpoint
from dataigm.detectors.networks import build_network


@dataclass
class TrainResult:
    out: Path
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    best_epoch: int | None = None
    cache_hit: bool | None = None


def class_weights(counts: np.ndarray) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 (empty classes get weight 0)."""
    counts = counts.astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.as_tensor(w, dtype=torch.float32)


class _Interrupted(BaseException):
    """Ctrl-C during `trainer.fit`. Lightning turns a KeyboardInterrupt into its own message and
    `sys.exit(1)`; any other exception it tears down and re-raises, so Ctrl-C travels as this
    one and becomes a KeyboardInterrupt again outside (the CLI's one line, exit 130)."""


@contextlib.contextmanager
def _ctrl_c_passes_lightning() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum: int, frame: Any) -> None:
        raise _Interrupted()

    previous = signal.signal(signal.SIGINT, raise_interrupted)
    try:
        yield
    except _Interrupted:
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGINT, previous)


def lightning_devices(device: str, count: int) -> tuple[str, Any]:
    """Lightning's (accelerator, devices) for `--device` (CUDA asked for and absent is an error)."""
    resolved = resolve_device(device)
    if resolved == "cpu":
        return "cpu", count
    if device in ("auto", "cuda"):
        return "cuda", count
    return "cuda", [int(resolved.split(":")[1])]  # cuda:N: that one GPU


def _is_main_process() -> bool:
    """Rank 0 of a multi-process run (torchrun / Lightning's launcher set RANK or LOCAL_RANK in
    the other processes), or a plain single process."""
    rank = os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))
    return rank == "0" and os.environ.get("NODE_RANK", "0") == "0"


def train(cfg: TrainConfig) -> TrainResult:
    for name in ("dataset", "concept", "out"):
        if not getattr(cfg, name):
            raise ConfigError(f"train config: {name}: missing (set it in the preset or on the command line)")
    judge = JudgeFolder(cfg.out)
    main = _is_main_process()
    # Only rank 0 locks, sweeps and creates the staging folder; other ranks (started by the
    # launcher while rank 0 holds the lock) find the same folder by its fixed name.
    with judge.lock() if main else contextlib.nullcontext():
        if main:
            judge.sweep()
            judge.check_target(cfg.overwrite)
        staged = judge.staging() if main else judge.staging_path()
        try:
            result = _train_into(cfg, staged)
            if result.report:
                judge.install(staged)
        except BaseException:
            if main:
                shutil.rmtree(staged, ignore_errors=True)
            raise
    result.out = judge.root
    return result


def _train_into(cfg: TrainConfig, out: Path) -> TrainResult:
    """Train, evaluate and export into `out` (the staging folder)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    work = out / TRAINING

    probe = JudgeDataModule(cfg.dataset, cfg.concept, {}, revision=cfg.dataset_revision)
    label_names = probe.label_names
    if len(label_names) < 2:
        raise ConfigError(f"{cfg.dataset}: concept {cfg.concept!r}: label needs at least 2 classes, got {label_names}")
    num_outputs = 1 if len(label_names) == 2 else len(label_names)
    m = cfg.model
    network = build_network(m.backbone, m.head, num_outputs, pretrained=m.pretrained, drop_rate=m.drop_rate,
                            backbone_args=m.backbone_args)
    data_config = resolve_data_config(network, m.image_size)
    tc = cfg.trainer
    accelerator, devices = lightning_devices(tc.device, tc.devices)
    mode = "min" if cfg.optim.monitor == "val_loss" else "max"
    ckpt = SafetensorsCheckpoint(work / "best.safetensors", cfg.optim.monitor, mode)
    trainer = pl.Trainer(
        max_epochs=cfg.optim.max_epochs,
        accelerator=accelerator,
        devices=devices,
        strategy=tc.strategy,
        precision=tc.precision,
        deterministic=tc.deterministic,
        logger=CSVLogger(str(work), name="logs"),
        callbacks=[ckpt, EarlyStopping(cfg.optim.monitor, patience=cfg.optim.patience, mode=mode)],
        enable_checkpointing=False,  # Lightning's checkpoints are pickles; SafetensorsCheckpoint keeps weights
        enable_progress_bar=tc.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )
    # Encoding, training and evaluation all use the trainer's device.
    device = str(trainer.strategy.root_device)
    workers = cfg.loader.num_workers if cfg.loader.num_workers is not None else default_workers(device)
    dm = JudgeDataModule(cfg.dataset, cfg.concept, data_config, cfg.loader.batch_size, workers,
                         cfg.loader.augment, cfg.loader.balance, cfg.dataset_revision, cfg.seed)
    dm.ds = probe.ds  # already loaded
    timings["setup_s"] = time.perf_counter() - t0

    features = None
    hit = None
    if cfg.cached_features:
        t = time.perf_counter()
        features, hit = cached_features(network, dm, m.backbone, cfg.cache_dir, device,
                                        batch_size=max(cfg.loader.batch_size, 64), precision=m.encode_precision,
                                        num_workers=workers, progress=tc.progress_bar)
        dm.features = features
        timings["encode_s"] = time.perf_counter() - t

    weights = class_weights(dm.class_counts()) if cfg.loader.balance == "loss" else None
    module = JudgeModule(network, len(label_names), cfg.optim.lr, cfg.optim.weight_decay, weights,
                         on_features=features is not None, freeze_backbone=m.freeze_backbone)
    t = time.perf_counter()
    with _ctrl_c_passes_lightning():
        trainer.fit(module, datamodule=dm)
    timings["fit_s"] = time.perf_counter() - t
    trainer.strategy.barrier()
    if ckpt.best is not None:
        network.load_state_dict(load_file(str(ckpt.path)))
    trainer.strategy.barrier()  # every rank has read the checkpoint before rank 0 removes it

    report: dict[str, Any] = {}
    if trainer.is_global_zero:
        t = time.perf_counter()
        require_finite_weights(network)
        report = evaluate(network, dm, cfg.threshold.rule, cfg.threshold.target_fpr, cfg.threshold.value,
                          features=features, out_dir=out, batch_size=max(cfg.loader.batch_size, 64),
                          device=device)
        network.cpu()  # exported from the CPU
        report["best_epoch"] = ckpt.best_epoch
        export_judge(network, out, head=m.head, backbone=m.backbone, backbone_pretrained=m.pretrained,
                     frozen=m.freeze_backbone, label_names=label_names, data_config=data_config, report=report)
        ckpt.path.unlink(missing_ok=True)  # a second copy of the weights; the judge has model.safetensors
        timings["evaluate_export_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t0
        atomic_write_json(work / "train_config.json", {"config": to_dict(cfg), "timings": timings})
    return TrainResult(out, report, timings, ckpt.best_epoch, hit)
