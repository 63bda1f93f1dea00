"""MNLI through Hugging Face datasets, encoded by a frozen pretrained text encoder (docs/method.md section 1).

Each (premise, hypothesis) pair is tokenized jointly (``max_length``, padded). With
``hidden_states: cached`` the encoder's last hidden states are computed once here and stored as
float16 ``[n, max_length, hidden]`` with padded positions set to zero (the Transformer masks
positions whose vector is zero); with ``on_the_fly`` the token ids and attention mask are stored as
int64 ``[n, 2, max_length]`` and the model runs the frozen encoder in its forward pass (set the
model's ``encoder`` to the same name). The test split is ``validation_matched`` (GLUE's test labels
are hidden).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import DatasetUnavailable

if TYPE_CHECKING:
    from . import Dataset

LABEL_COLUMNS = ("premise", "hypothesis", "label")


def _load_splits(source: str, subset: str | None, data_files: dict | None, splits: tuple[str, str], cache_dir):
    import datasets

    try:
        if data_files:
            return datasets.load_dataset("json", data_files=dict(data_files), cache_dir=cache_dir)
        return datasets.load_dataset(source, subset, cache_dir=cache_dir)
    except Exception as err:  # offline hub access raises ConnectionError, OSError or a datasets error
        raise DatasetUnavailable(
            f"MNLI could not be loaded from {source!r}/{subset!r} ({type(err).__name__}: {err}). On a machine "
            "without internet, either pre-fill the Hugging Face cache elsewhere (datasets.load_dataset("
            f"{source!r}, {subset!r}) then copy ~/.cache/huggingface and set HF_DATASETS_OFFLINE=1), or give "
            f"the dataset option data_files: {{{splits[0]}: train.jsonl, {splits[1]}: dev.jsonl}} with JSON lines "
            "holding premise, hypothesis and label (0 entailment, 1 neutral, 2 contradiction).") from err


def load_encoder(name: str):
    """The frozen encoder and its tokenizer; a clear error when neither the hub nor a local path has it."""
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        encoder = AutoModel.from_pretrained(name)
    except Exception as err:
        raise DatasetUnavailable(
            f"the text encoder {name!r} could not be loaded ({type(err).__name__}: {err}). Give a local "
            "folder written by save_pretrained (model and tokenizer) as the encoder, or pre-fill the Hugging "
            "Face cache on a machine with internet and set HF_HUB_OFFLINE=1.") from err
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    return encoder, tokenizer


def encode_tokens(encoder, tokens):
    """Last hidden states of ``tokens`` ``[B, 2, L]`` (ids, attention mask), zero at padded positions."""
    import torch

    ids, mask = tokens[:, 0], tokens[:, 1]
    with torch.no_grad():
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    return hidden * mask.unsqueeze(-1).to(hidden.dtype)


def _split_arrays(split, tokenizer, encoder, max_length: int, limit: int | None, seed: int, batch_size: int,
                  cached: bool):
    import torch

    missing = [c for c in LABEL_COLUMNS if c not in split.column_names]
    if missing:
        raise ValueError(f"MNLI data lacks the columns {missing}; it has {split.column_names}")
    labels = np.asarray(split["label"], dtype=np.int64)
    keep = np.flatnonzero(labels >= 0)                      # GLUE marks unlabeled pairs with -1
    if limit and limit < len(keep):
        keep = np.sort(np.random.default_rng(seed).choice(keep, size=limit, replace=False))
    rows = split.select(keep)
    premises, hypotheses = list(rows["premise"]), list(rows["hypothesis"])
    enc = tokenizer(premises, hypotheses, truncation=True, max_length=max_length, padding="max_length",
                    return_tensors="np")
    tokens = np.stack([enc["input_ids"], enc["attention_mask"]], axis=1).astype(np.int64)
    if not cached:
        return tokens, labels[keep]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    encoder = encoder.to(device)
    parts = [encode_tokens(encoder, torch.from_numpy(tokens[i:i + batch_size]).to(device)).half().cpu().numpy()
             for i in range(0, len(tokens), batch_size)]
    return np.concatenate(parts), labels[keep]


def load_mnli(encoder: str = "prajjwal1/bert-tiny", source: str = "nyu-mll/glue", subset: str | None = "mnli",
              data_files: dict | None = None, train_split: str = "train", test_split: str = "validation_matched",
              max_length: int = 128, max_train: int | None = None, max_test: int | None = None,
              hidden_states: str = "cached", batch_size: int = 256, seed: int = 0,
              cache_dir: str | None = None) -> "Dataset":
    from . import Dataset  # noqa: F811

    if hidden_states not in ("cached", "on_the_fly"):
        raise ValueError(f"hidden_states must be 'cached' or 'on_the_fly', not {hidden_states!r}")
    splits = _load_splits(source, subset, data_files, (train_split, test_split), cache_dir)
    for name in (train_split, test_split):
        if name not in splits:
            raise ValueError(f"MNLI data has no split {name!r}; it has {list(splits)}")
    model, tokenizer = load_encoder(encoder)
    cached = hidden_states == "cached"
    x_train, y_train = _split_arrays(splits[train_split], tokenizer, model, max_length, max_train, seed, batch_size, cached)
    x_test, y_test = _split_arrays(splits[test_split], tokenizer, model, max_length, max_test, seed + 1, batch_size, cached)
    return Dataset("mnli", x_train, y_train, x_test, y_test)
