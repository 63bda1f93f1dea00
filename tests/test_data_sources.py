"""Dataset sources: shipped sets, and the CIFAR-10 and MNLI loaders on small data made here (offline)."""
import json
import pickle

import numpy as np
import pytest
import torch

from featspan.data import load_dataset
from featspan.data import DatasetUnavailable


def test_digits_are_upsampled_standardized_images():
    d = load_dataset("digits", size=12)
    assert d.x_train.shape[1:] == (1, 12, 12) and d.x_train.dtype == np.float32
    assert len(d.y_train) + len(d.y_test) == 1797 and d.n_classes == 10
    assert abs(d.x_train.mean()) < 1e-5 and abs(d.x_train.std() - 1) < 1e-4


def test_mnist1d_tokens_carry_the_signal_after_a_class_token():
    flat, tok = load_dataset("mnist1d", num_samples=100), load_dataset("mnist1d", num_samples=100, tokens=8)
    assert tok.x_train.shape[1:] == (6, 9)
    np.testing.assert_array_equal(tok.x_train[:, 1:, :8].reshape(len(tok.y_train), 40), flat.x_train)
    assert (tok.x_train[:, 0, 8] == 1).all() and (tok.x_train[:, 1:, 8] == 0).all()


def _fake_cifar(root, n_per_batch=6):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, n_per_batch).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))


def test_cifar10_from_a_local_root(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    _fake_cifar(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args: True)  # our files are not the real ones
    d = load_dataset("cifar10", root=str(tmp_path), download=False, max_test=4)
    assert d.x_train.shape == (30, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(d.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)   # per-channel standardized
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes())
    assert d.y_train[:6].tolist() == raw["labels"]


def test_cifar10_missing_says_how_to_supply_it(tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"CIFAR-10 is not available.*cifar-10-batches-py"):
        load_dataset("cifar10", root=str(tmp_path), download=False)


WORDS = "a man dog runs sleeps the park is in happy sad cat sits".split()


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A randomly initialized BERT with hidden size 16 and a word-level tokenizer, built in memory."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("encoder")
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]").save_pretrained(folder)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=32)).save_pretrained(folder)
    return str(folder)


@pytest.fixture()
def mnli_files(tmp_path):
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 12), ("validation_matched", 5)):
        rows = [{"premise": " ".join(rng.choice(WORDS, 5)), "hypothesis": " ".join(rng.choice(WORDS, 3)),
                 "label": int(rng.integers(-1, 3) if split == "train" else rng.integers(0, 3))} for _ in range(n)]
        path = tmp_path / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        files[split] = str(path)
    return files


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_mnli_cached_hidden_states(tiny_encoder, mnli_files, tmp_path):
    d = load_dataset("mnli", encoder=tiny_encoder, data_files=mnli_files, max_length=12,
                     cache_dir=str(tmp_path / "hf"))
    labels = [json.loads(line)["label"] for line in open(mnli_files["train"])]
    assert d.y_train.tolist() == [lab for lab in labels if lab >= 0]      # unlabeled pairs dropped
    assert d.x_train.shape == (len(d.y_train), 12, 16) and d.x_train.dtype == np.float16
    padded = (d.x_train == 0).all(-1)
    assert padded.any() and not padded[:, 0].any()                          # [CLS] is never padding


def test_mnli_on_the_fly_equals_cached(tiny_encoder, mnli_files, tmp_path):
    from featspan.models import build_model

    common = dict(encoder=tiny_encoder, data_files=mnli_files, max_length=12, cache_dir=str(tmp_path / "hf"))
    cached = load_dataset("mnli", **common)
    tokens = load_dataset("mnli", hidden_states="on_the_fly", **common)
    assert tokens.x_train.shape == (len(cached.y_train), 2, 12)
    torch.manual_seed(0)
    a = build_model("transformer", 0.5, cached.in_shape, 3, hidden=16, mlp=32).eval()
    torch.manual_seed(0)
    b = build_model("transformer", 0.5, tokens.in_shape, 3, hidden=16, mlp=32, encoder=tiny_encoder).eval()
    assert sum(p.numel() for p in b.parameters()) == sum(p.numel() for p in a.parameters())  # encoder not counted
    torch.testing.assert_close(b.features(torch.from_numpy(tokens.x_test)),
                               a.features(torch.from_numpy(cached.x_test)), rtol=2e-2, atol=2e-3)  # fp16 cache


def test_mnli_offline_hub_says_how_to_supply_it(tiny_encoder, tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"MNLI could not be loaded.*data_files"):
        load_dataset("mnli", encoder=tiny_encoder, cache_dir=str(tmp_path / "hf"))


def test_missing_encoder_is_named(mnli_files, tmp_path):
    missing = str(tmp_path / "no-such-encoder")
    with pytest.raises(DatasetUnavailable, match=f"text encoder '{missing}'"):
        load_dataset("mnli", encoder=missing, data_files=mnli_files, cache_dir=str(tmp_path / "hf"))


# ------------------------------------------------------------------------------------------ shapes10
def test_shapes10_is_deterministic_balanced_and_standardized():
    a = load_dataset("shapes10", size=16, num_train=300, num_test=100, seed=3)
    b = load_dataset("shapes10", size=16, num_train=300, num_test=100, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.x_train.shape == (300, 3, 16, 16) and a.x_train.dtype == np.float32 and a.n_classes == 10
    assert np.bincount(a.y_train).tolist() == [30] * 10
    np.testing.assert_allclose(a.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(a.x_train.std(axis=(0, 2, 3)), 1, atol=1e-4)
    other = load_dataset("shapes10", size=16, num_train=300, num_test=100, seed=4)
    assert not np.allclose(other.x_train, a.x_train)


def test_shapes10_test_split_does_not_depend_on_the_training_size():
    a = load_dataset("shapes10", size=16, num_train=100, num_test=60, seed=1)
    b = load_dataset("shapes10", size=16, num_train=400, num_test=60, seed=1)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    # the same raw images, standardized with each training split's channel statistics: per channel,
    # one is an affine function of the other
    for channel in range(3):
        xa, xb = a.x_test[:, channel].ravel(), b.x_test[:, channel].ravel()
        slope, offset = np.polyfit(xa, xb, 1)
        np.testing.assert_allclose(slope * xa + offset, xb, atol=1e-4)


def test_shapes10_difficulty_widens_the_nuisances_and_the_classes_stay_separable():
    """A linear probe on grey pixels scores lower at difficulty 1 than at 0, and far above chance (0.1)
    at 0: the classes are in the pixels, the nuisances hide them."""
    from sklearn.linear_model import LogisticRegression

    scores = []
    for difficulty in (0.0, 1.0):
        d = load_dataset("shapes10", size=16, num_train=2000, num_test=500, difficulty=difficulty, seed=0)
        gray = lambda x: x.mean(1).reshape(len(x), -1)  # noqa: E731
        probe = LogisticRegression(C=0.1, max_iter=2000).fit(gray(d.x_train), d.y_train)
        scores.append(probe.score(gray(d.x_test), d.y_test))
    easy, hard = scores
    assert easy > hard + 0.05, scores
    assert easy > 0.3, scores  # chance is 0.1


def test_shapes10_refuses_a_difficulty_outside_zero_one():
    with pytest.raises(ValueError, match="difficulty"):
        load_dataset("shapes10", size=16, num_train=20, num_test=20, difficulty=1.5)
