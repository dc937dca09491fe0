"""The LightningModule: loss, optimiser, validation metrics; the network itself lives in networks.py.

Two input modes share one module: images (fine-tuning, or a frozen backbone with augmentation)
and cached features (frozen backbone, no augmentation), where only the classifier runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torchmetrics
from pytorch_lightning.callbacks import Callback
from safetensors.torch import save_file
from torch import nn

from dataigm.io import atomic_path
from dataigm.detectors.networks import classifier


class JudgeModule(pl.LightningModule):
    def __init__(
        self,
        network: nn.Module,
        num_labels: int,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        class_weights: torch.Tensor | None = None,
        on_features: bool = False,
        freeze_backbone: bool = True,
    ) -> None:
        super().__init__()
        self.network = network
        self.num_labels = num_labels
        self.binary = num_labels == 2
        self.lr = lr
        self.weight_decay = weight_decay
        self.on_features = on_features
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            network.requires_grad_(False)
            classifier(network).requires_grad_(True)
        if self.binary:
            # pos_weight = n_negative / n_positive balances BCE on skewed concepts.
            pw = None if class_weights is None else class_weights[1:2] / class_weights[0:1]
            self.loss_fn: nn.Module = nn.BCEWithLogitsLoss(pos_weight=pw)
            task_kw: dict[str, Any] = {"task": "binary"}
        else:
            self.loss_fn = nn.CrossEntropyLoss(weight=class_weights)
            task_kw = {"task": "multiclass", "num_classes": num_labels}
        self.val_auroc = torchmetrics.AUROC(**task_kw)
        self.val_acc = torchmetrics.Accuracy(**task_kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = classifier(self.network)(x) if self.on_features else self.network(x)
        return logits.squeeze(-1) if self.binary else logits

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(logits, y.float()) if self.binary else self.loss_fn(logits, y)

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) if self.binary else torch.softmax(logits, dim=-1)

    def on_train_epoch_start(self) -> None:
        if self.freeze_backbone and not self.on_features:
            # A frozen backbone keeps its normalisation statistics: eval mode, head in train mode.
            self.network.eval()
            classifier(self.network).train()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self._loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(y), sync_dist=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        probs = self._probs(logits)
        self.val_auroc.update(probs, y)
        self.val_acc.update(probs, y)
        self.log("val_loss", self._loss(logits, y), on_epoch=True, batch_size=len(y), sync_dist=True)
        self.log("val_auroc", self.val_auroc, on_epoch=True)
        self.log("val_acc", self.val_acc, on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.network.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)


class SafetensorsCheckpoint(Callback):
    """Keep the best network weights (by a validation metric) as a safetensors file.

    Lightning's ModelCheckpoint pickles the whole training state; judges only need weights,
    and no pickle is written anywhere in dataigm.
    """

    def __init__(self, path: str | Path, monitor: str = "val_auroc", mode: str = "max") -> None:
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None
        self.best_epoch: int | None = None

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not self._better(value):
            return
        self.best, self.best_epoch = value, trainer.current_epoch
        if trainer.is_global_zero:
            state = {k: v.detach().cpu().contiguous() for k, v in pl_module.network.state_dict().items()}
            with atomic_path(self.path) as tmp:
                save_file(state, str(tmp))
        trainer.strategy.barrier()
