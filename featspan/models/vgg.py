"""The width-scaled CIFAR VGG-16 with BatchNorm (docs/method.md section 1).

Conv widths 64,64,M,128,128,M,256x3,M,512x3,M,512x3,M times ``base_width / 64`` times alpha, each conv
3x3 + BatchNorm + ReLU; dropout 0.1 and one linear head. Features: the flattened output of the last
pooling (512 alpha at the paper's base width on 32x32 inputs). Pooling rounds up (``ceil_mode``), which
changes nothing on 32x32 inputs and lets small images (16x16 digits) pass the five poolings.
"""

from __future__ import annotations

import torch
from torch import nn

from .scaling import scale_width

VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG(nn.Module):
    def __init__(self, in_channels: int, layout, n_classes: int, dropout: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                layers += [nn.Conv2d(prev, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                prev = item
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]  # 1x1 already after five poolings of 32x32
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(prev, n_classes)
        self.n_features = prev

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def build_vgg16(alpha: float, in_shape: tuple[int, ...], n_classes: int, base_width: int = 64,
                dropout: float = 0.1) -> VGG:
    if len(in_shape) != 3:
        raise ValueError(f"vgg16 needs image inputs (channels, height, width), got shape {in_shape}")
    layout = [w if w == "M" else scale_width(w * base_width // 64, alpha) for w in VGG16_LAYOUT]
    return VGG(in_shape[0], layout, n_classes, dropout)
