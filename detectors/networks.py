"""Judge networks: a timm backbone plus a head, kept apart from the Lightning training code.

Two heads:

- ``linear``: timm's own classifier (``timm.create_model(backbone, num_classes=K)``). The exported
  folder is a plain timm model; ``timm.create_model("local-dir:JUDGE", pretrained=True)`` needs
  nothing from dataigm.
- ``igmu``: the published IGMU head on pooled backbone features: a sigmoid attention gate
  (F->256->F, multiplied into the features), LayerNorm, F->256, ReLU, dropout, 256->128, ReLU,
  dropout, 128->K. With F=512 (CLIP ViT-B/32) and K=1 it has exactly 428,289 parameters.
  The whole judge is registered in timm's registry as ``dataigm_igmu`` (backbone name in its
  ``model_args``), so ``import dataigm.detectors`` followed by
  ``timm.create_model("local-dir:JUDGE", pretrained=True)`` loads it with timm's own loader.

Binary judges have one output (the logit of label 1, "concept present", trained with BCE, as
IGMU does); K-class judges have K outputs (softmax, cross-entropy).
"""

from __future__ import annotations

from typing import Any, Sequence

import timm
import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

IGMU_ARCH = "dataigm_igmu"
# Keys of a pretrained_cfg that describe preprocessing; an IGMU judge inherits its backbone's.
_DATA_KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode", "fixed_input_size")


class IGMUHead(nn.Module):
    """The IGMU head: gated features -> MLP -> logits."""

    def __init__(
        self,
        in_features: int = 512,
        num_classes: int = 1,
        gate_hidden: int = 256,
        hidden: Sequence[int] = (256, 128),
        drop_rate: float = 0.3,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.num_classes = num_classes
        self.gate = nn.Sequential(
            nn.Linear(in_features, gate_hidden), nn.ReLU(), nn.Linear(gate_hidden, in_features), nn.Sigmoid()
        )
        self.norm = nn.LayerNorm(in_features)
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(drop_rate)]
            width = h
        self.mlp = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x * self.gate(x))
        return self.fc(self.mlp(x))


class IGMUClassifier(nn.Module):
    """timm backbone (pooled features, no classifier) + IGMUHead, with timm's model interface."""

    def __init__(
        self,
        backbone: str = "vit_base_patch32_clip_quickgelu_224.openai",
        num_classes: int = 1,
        in_chans: int = 3,
        backbone_pretrained: bool = False,
        backbone_args: dict[str, Any] | None = None,
        gate_hidden: int = 256,
        hidden: Sequence[int] = (256, 128),
        drop_rate: float = 0.3,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        # Only the backbone may download (pretrained backbone at training time); an exported
        # judge is rebuilt with backbone_pretrained=False and gets all weights from its folder.
        self.backbone = timm.create_model(
            backbone, pretrained=backbone_pretrained, num_classes=0, in_chans=in_chans, **(backbone_args or {})
        )
        self.num_features = self.backbone.num_features
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.head = IGMUHead(self.num_features, num_classes, gate_hidden, tuple(hidden), drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Any = None) -> None:
        h = self.head
        self.head = IGMUHead(self.num_features, num_classes, h.gate[0].out_features,
                             tuple(m.out_features for m in h.mlp if isinstance(m, nn.Linear)))
        self.num_classes = num_classes


default_cfgs = generate_default_cfgs(
    {
        IGMU_ARCH: {
            "num_classes": 1,
            "input_size": (3, 224, 224),
            "interpolation": "bicubic",
            "mean": timm.data.OPENAI_CLIP_MEAN,
            "std": timm.data.OPENAI_CLIP_STD,
            "crop_pct": 1.0,
            "first_conv": None,
            "classifier": "head.fc",
        }
    }
)


@register_model
def dataigm_igmu(pretrained: bool = False, **kwargs: Any) -> IGMUClassifier:
    """A dataigm IGMU judge: `backbone` (a timm name) + IGMU head."""
    model = build_model_with_cfg(IGMUClassifier, IGMU_ARCH, pretrained, **kwargs)
    if model.pretrained_cfg.get("source") not in ("local-dir", "hf-hub"):
        # A new judge preprocesses like its backbone; a loaded one keeps its saved config.
        for key in _DATA_KEYS:
            if key in model.backbone.pretrained_cfg:
                model.pretrained_cfg[key] = model.backbone.pretrained_cfg[key]
    return model


def build_network(
    backbone: str,
    head: str,
    num_outputs: int,
    pretrained: bool = False,
    drop_rate: float = 0.3,
    backbone_args: dict[str, Any] | None = None,
) -> nn.Module:
    """Create a judge network: `head` is "linear" (timm's classifier) or "igmu"."""
    if head == "linear":
        return timm.create_model(backbone, pretrained=pretrained, num_classes=num_outputs, **(backbone_args or {}))
    if head == "igmu":
        return timm.create_model(
            IGMU_ARCH,
            backbone=backbone,
            backbone_pretrained=pretrained,
            backbone_args=dict(backbone_args or {}),
            num_classes=num_outputs,
            drop_rate=drop_rate,
        )
    raise ValueError(f"unknown head {head!r} (expected linear or igmu)")


def pooled_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of the classifier: what the frozen-backbone cache stores."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


def classifier(model: nn.Module) -> nn.Module:
    """The trainable part when the backbone is frozen (timm's classifier or the IGMU head)."""
    return model.get_classifier()


def export_model_args(model: nn.Module, head: str, backbone: str) -> dict[str, Any]:
    """Reconstruction arguments for timm's config.json (weights come from the folder)."""
    if head == "igmu":
        h = model.head
        return {
            "backbone": backbone.split(".")[0] if "." in backbone else backbone,
            "backbone_pretrained": False,
            "gate_hidden": h.gate[0].out_features,
            "hidden": [m.out_features for m in h.mlp if isinstance(m, nn.Linear)],
        }
    return {}
