"""The width-scaled Transformer of the MNLI experiment (docs/method.md section 1).

Input: a sequence of vectors per example, ``[length, in_dim]`` (the hidden states of a frozen
pretrained text encoder for MNLI; token patches for the CPU presets). A trainable linear map takes them
to ``hidden * alpha``, then ``torch.nn.TransformerEncoder`` layers (``n_heads`` heads, MLP
``mlp * alpha``, post-norm as in BERT) and one linear head on the first token. Features: the first
token's output (``hidden * alpha``). Paper: 4 layers, hidden 128, MLP 1024, 4 heads.

Padding: positions whose input vector is exactly zero are masked out of attention (padded positions
are stored as zeros; a real hidden state is never exactly zero). ``max_length`` adds a learned
positional embedding, for inputs that do not carry positions already (encoder hidden states do).

``encoder`` (a Hugging Face name or folder) runs the frozen encoder inside the forward pass, on inputs of
token ids and attention masks ``[2, length]`` (MNLI with ``hidden_states: on_the_fly``). The encoder is
shared by every model of a process and is not a submodule: it is neither trained, counted, saved with
the checkpoints nor stacked in a cohort.
"""

from __future__ import annotations

import torch
from torch import nn

from .scaling import scale_width


class SequenceTransformer(nn.Module):
    def __init__(self, in_dim: int, n_classes: int, hidden: int, mlp: int, n_layers: int = 4, n_heads: int = 4,
                 dropout: float = 0.1, max_length: int = 0, encoder: str | None = None):
        super().__init__()
        self.encoder_name = encoder
        if hidden % n_heads:
            raise ValueError(f"transformer: hidden width {hidden} is not divisible by n_heads = {n_heads}; "
                             "choose a base hidden width and alphas that keep it divisible")
        self.proj = nn.Linear(in_dim, hidden)
        self.position = nn.Parameter(torch.zeros(1, max_length, hidden)) if max_length else None
        layer = nn.TransformerEncoderLayer(hidden, n_heads, mlp, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden, n_classes)
        self.n_features = hidden

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder_name is not None:
            from ..data.mnli import encode_tokens
            x = encode_tokens(frozen_encoder(self.encoder_name, x.device), x)
        x = x.float()
        padding = (x == 0).all(-1)
        h = self.proj(x)
        if self.position is not None:
            h = h + self.position[:, : h.shape[1]]
        return self.encoder(h, src_key_padding_mask=padding)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


_ENCODERS: dict = {}


def frozen_encoder(name: str, device) -> nn.Module:
    """One frozen encoder per (name, device) per process."""
    key = (name, str(device))
    if key not in _ENCODERS:
        from ..data.mnli import load_encoder
        _ENCODERS[key] = load_encoder(name)[0].to(device)
    return _ENCODERS[key]


def build_transformer(alpha: float, in_shape: tuple[int, ...], n_classes: int, hidden: int = 128, mlp: int = 1024,
                      n_layers: int = 4, n_heads: int = 4, dropout: float = 0.1, positional: bool = False,
                      encoder: str | None = None) -> SequenceTransformer:
    if len(in_shape) != 2:
        raise ValueError(f"transformer needs sequence inputs (length, dim), got shape {in_shape}")
    in_dim, length = in_shape[1], in_shape[0]
    if encoder is not None:
        if in_shape[0] != 2:
            raise ValueError(f"transformer with an encoder needs token inputs (2, length), got shape {in_shape}")
        in_dim, length = frozen_encoder(encoder, "cpu").config.hidden_size, in_shape[1]
    return SequenceTransformer(in_dim, n_classes, scale_width(hidden, alpha), scale_width(mlp, alpha),
                               n_layers, n_heads, dropout, length if positional else 0, encoder)
