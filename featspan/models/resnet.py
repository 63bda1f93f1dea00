"""The width-scaled CIFAR ResNet-18 (docs/method.md section 1).

3x3 stride-1 stem, no max-pool, BasicBlocks [2, 2, 2, 2] with stage widths ``base_width * (1, 2, 4, 8)``
scaled by alpha, BatchNorm, global average pooling and one linear head. Features: the pooled output
(``8 * base_width * alpha`` of them; 512 alpha at the paper's base width 64).
"""

from __future__ import annotations

import torch
from torch import nn

from .scaling import scale_width


def _conv_bn(cin: int, cout: int, kernel: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(cin, cout, 3, stride), nn.ReLU(inplace=True), *_conv_bn(cout, cout, 3, 1))
        self.shortcut = nn.Sequential(*_conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, in_channels: int, widths: list[int], n_classes: int, blocks=(2, 2, 2, 2)):
        super().__init__()
        layers: list[nn.Module] = [*_conv_bn(in_channels, widths[0], 3, 1), nn.ReLU(inplace=True)]
        prev = widths[0]
        for stage, (width, n_blocks) in enumerate(zip(widths, blocks)):
            for b in range(n_blocks):
                layers.append(BasicBlock(prev, width, 2 if stage > 0 and b == 0 else 1))
                prev = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, n_classes)
        self.n_features = prev

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_resnet18(alpha: float, in_shape: tuple[int, ...], n_classes: int, base_width: int = 64) -> ResNet18:
    if len(in_shape) != 3:
        raise ValueError(f"resnet18 needs image inputs (channels, height, width), got shape {in_shape}")
    return ResNet18(in_shape[0], [scale_width(base_width * k, alpha) for k in (1, 2, 4, 8)], n_classes)
