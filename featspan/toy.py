"""The toy setting of Section 4 (docs/method.md section 7): why wide models keep features narrow ones unlearn.

Data. Orthonormal signal vectors ``v_1..v_k`` in R^d, split into addition indices A and multiplication
indices P. A sample draws signs ``a_j`` uniformly in {-1, +1}; its label is
``y = sign(sum_{j in A} a_j + prod_{j in P} a_j)``. Its input has ``n_patches`` patches in R^d: the k
signal patches ``a_j v_j`` at distinct random positions, and Gaussian noise patches projected orthogonal
to every signal vector and scaled so their expected norm is ``noise_norm`` (slightly above 1, the norm
of a signal patch).

Learner. A first layer shared over patches with a fixed threshold b > 0,
``h_r(x) = sum_p ReLU(<w_r, x_p> - b)``, then three ReLU layers and a scalar output; logistic loss.
First-layer weights start at ``N(0, sigma0^2 I)`` (a signal activating a neuron, ``<w_r, v_j> > b``, is
rare; noise a bit less rare); the other layers use PyTorch's default initialization.

Training. Normalized SGD: every parameter tensor of every model steps along its loss gradient
divided by that gradient's norm. Weight decay is ``decay_mode``: ``decoupled`` (default, our choice)
``w <- w - lr * g / ||g|| - lr * weight_decay * w``, so a neuron no input activates only shrinks, as in
the paper's argument; ``coupled`` normalizes ``g + weight_decay * w`` together. ``normalize: neuron``
normalizes each first-layer neuron's gradient on its own (a per-tensor norm gives a narrow model's few
neurons much larger steps than a wide model's many).

Cohorts. A concatenation of M models of width m trains as one batched computation: every parameter has
a leading model axis and the forward pass is a batched matrix product, so M narrow models cost about
what one model of width M*m costs. The wide model is the cohort M = 1.

"Learns v_j": some neuron with ``|<w_r, v_j>| / ||w_r|| >= 1 - epsilon`` and ``|<w_r, v_j>| > b`` (either sign
of v_j, since a signal patch holds ``+-v_j``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .seeding import toy_data_seed, toy_model_seed
from .progress import Clock
from .schema import default


def _toy(key: str):
    return default("properties/toy", key)


@dataclass
class ToyConfig:
    """The toy's constants; every default is the config schema's (``toy:``)."""

    d: int = _toy("d")
    n_add: int = _toy("n_add")
    n_mul: int = _toy("n_mul")
    n_patches: int = _toy("n_patches")
    noise_norm: float = _toy("noise_norm")
    sigma0: float = _toy("sigma0")
    threshold: float = _toy("threshold")
    hidden: int = _toy("hidden")
    lr: float = _toy("lr")
    weight_decay: float = _toy("weight_decay")
    batch_size: int = _toy("batch_size")
    epochs: int = _toy("epochs")
    n_train: int = _toy("n_train")
    n_test: int = _toy("n_test")
    epsilon: float = _toy("epsilon")
    decay_mode: str = _toy("decay_mode")     # decoupled: wd outside the normalization; coupled: normalize (g + wd w)
    normalize: str = _toy("normalize")       # tensor: each tensor by its norm; neuron: first-layer rows one by one
    record_every: int = _toy("record_every")  # epochs between recorded correlations (Figure 5)

    @property
    def k(self) -> int:
        return self.n_add + self.n_mul

    @classmethod
    def from_dict(cls, d: dict) -> "ToyConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


# ------------------------------------------------------------------------------------------- data
def signal_vectors(cfg: ToyConfig, seed: int) -> np.ndarray:
    """k orthonormal vectors in R^d (rows)."""
    if cfg.k > cfg.d:
        raise ValueError(f"k = {cfg.k} signal vectors do not fit in d = {cfg.d} dimensions")
    rng = np.random.default_rng([seed, 0])
    q, _ = np.linalg.qr(rng.normal(size=(cfg.d, cfg.k)))
    return q.T.copy()


def labels_from_signs(signs: np.ndarray, n_add: int) -> np.ndarray:
    """y = sign(sum of the addition signs + product of the multiplication signs), in {-1, +1}."""
    return np.sign(signs[:, :n_add].sum(1) + signs[:, n_add:].prod(1)).astype(np.int64)


def make_data(cfg: ToyConfig, vectors: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (n, n_patches, d), labels in {-1, +1}, and the signs (n, k)."""
    if cfg.n_patches < cfg.k:
        raise ValueError(f"n_patches = {cfg.n_patches} cannot hold k = {cfg.k} signal patches")
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n, cfg.k))
    y = labels_from_signs(signs, cfg.n_add)
    noise = rng.normal(size=(n, cfg.n_patches, cfg.d))
    noise -= (noise @ vectors.T) @ vectors                        # orthogonal to every signal vector
    noise *= cfg.noise_norm / math.sqrt(cfg.d - cfg.k)            # expected norm about noise_norm
    positions = np.argsort(rng.random((n, cfg.n_patches)), axis=1)[:, :cfg.k]
    x = noise
    rows = np.arange(n)[:, None]
    x[rows, positions] = signs[:, :, None] * vectors[None, :, :]
    return x.astype(np.float32), y, signs


# ------------------------------------------------------------------------------------------ model
# evaluation holds at most this many patch activations at once (256 MB of float32)
EVAL_FLOATS = 2 ** 26


@dataclass
class ToyCohort:
    """M thresholded MLPs of first-layer width m, parameters stacked on a leading model axis."""

    params: dict[str, torch.Tensor] = field(default_factory=dict)
    threshold: float = 0.65

    @classmethod
    def init(cls, cfg: ToyConfig, n_models: int, width: int, seed: int, indices=None) -> "ToyCohort":
        """Model i draws its init from its own stream, :func:`featspan.seeding.toy_model_seed` of (seed,
        width, i): it does not depend on M, and no model (the wide one included) is a slice of another
        (``indices`` picks which models of the sequence, default 0..n_models-1)."""
        layers = {}
        shapes = [(width, cfg.hidden), (cfg.hidden, cfg.hidden), (cfg.hidden, cfg.hidden), (cfg.hidden, 1)]
        per_model = []
        for i in (range(n_models) if indices is None else indices):
            g = torch.Generator().manual_seed(toy_model_seed(seed, width, i))
            p = {"w1": torch.randn(width, cfg.d, generator=g) * cfg.sigma0}
            for j, (fan_in, fan_out) in enumerate(shapes):
                bound = 1 / math.sqrt(fan_in)  # torch.nn.Linear's default initialization
                p[f"w{j + 2}"] = (torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound
                p[f"b{j + 2}"] = (torch.rand(fan_out, generator=g) * 2 - 1) * bound
            per_model.append(p)
        for name in per_model[0]:
            layers[name] = torch.stack([p[name] for p in per_model])
        return cls(layers, cfg.threshold)

    @property
    def n_models(self) -> int:
        return self.params["w1"].shape[0]

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """h[i, n, r] = sum_p ReLU(<w_r, x_p> - b) for model i (the features probed in Table 1)."""
        return torch.cat([self._sum_patches(self._patch_activations(c), c.shape[0]) for c in self._chunks(x)],
                         dim=1)

    def _chunks(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (n, patches, d) split into runs of inputs whose patch activations over every model's neurons
        hold at most EVAL_FLOATS numbers: all 10,000 training inputs at total width 30,000 would take
        7.2 GB at once, its features 1.2 GB. Each input's features are the same whatever the split (tested).
        """
        n_models, width, _ = self.params["w1"].shape
        return x.split(max(1, EVAL_FLOATS // (x.shape[1] * n_models * width)))

    def _patch_activations(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(<w_r, x_p> - b) for every patch (rows: n x patches) and every neuron of every model
        (columns: M x m): one matrix product over all models' neurons, not M small ones."""
        w1 = self.params["w1"]
        pre = x.reshape(-1, x.shape[-1]) @ w1.reshape(-1, w1.shape[-1]).T
        return pre.sub_(self.threshold).clamp_(min=0)

    def _sum_patches(self, act: torch.Tensor, n: int) -> torch.Tensor:
        n_models, width, _ = self.params["w1"].shape
        return act.view(n, -1, n_models * width).sum(1).view(n, n_models, width).transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (M, n). The later layers take all inputs at once: their batched products, split, would
        differ in the last bit from the numbers earlier runs recorded."""
        return self._upper_layers(self.first_layer(x))[1]

    def _upper_layers(self, h: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """From first-layer features h (M, n, m): every later layer's input (M, n, .) and the scores (M, n)."""
        p = self.params
        hidden = [h]
        for j in (2, 3, 4):
            h = torch.baddbmm(p[f"b{j}"][:, None, :], h, p[f"w{j}"]).clamp_(min=0)
            hidden.append(h)
        return hidden, torch.baddbmm(p["b5"][:, None, :], h, p["w5"]).squeeze(-1)

    def gradients(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gradients of every model's mean logistic loss on its batch, by hand.

        ``x`` is (M, n, patches, d) with ``y`` (M, n) in {-1, +1}: model i's own batch (each model has its
        own batch order, docs/method.md section 3), or one batch (n, patches, d) with ``y`` (n) for all.
        The same numbers as autograd through :meth:`forward` (tested), faster at the toy's sizes
        (benchmarks/toy_step.py): the first layer is one batched matrix product, ReLU masks come from the
        activations in one fused pass, and no graph is recorded. Training spends nearly all its time here
        (10,000s of steps of tiny products)."""
        p = self.params
        n_models, width, d = p["w1"].shape
        if x.dim() == 3:
            x, y = x.expand(n_models, *x.shape), y.expand(n_models, *y.shape)
        _, n, n_patches, _ = x.shape
        rows = x.reshape(n_models, n * n_patches, d)
        act = torch.bmm(rows, p["w1"].transpose(1, 2)).sub_(self.threshold).clamp_(min=0)  # (M, n patches, m)
        hidden, scores = self._upper_layers(act.view(n_models, n, n_patches, width).sum(2))
        # d/ds of mean_n softplus(-y s) = -y sigmoid(-y s) / n
        grad_out = torch.sigmoid(-y * scores).mul_(-y / n).unsqueeze(-1)         # (M, n, 1)
        grads = {}
        for j in (5, 4, 3, 2):
            inputs = hidden[j - 2]
            grads[f"w{j}"] = torch.bmm(inputs.transpose(1, 2), grad_out)
            grads[f"b{j}"] = grad_out.sum(1)
            weight_t = p[f"w{j}"].transpose(1, 2)
            # the output layer's weight is one column: its backward product is a broadcast, not a matmul
            grad_in = grad_out * weight_t if j == 5 else torch.bmm(grad_out, weight_t)
            grad_out = torch.ops.aten.threshold_backward(grad_in, inputs, 0) if j > 2 else grad_in
        # grad_out is now d loss / d h1 (M, n, m): back through the patch sum and the thresholded ReLU
        per_patch = grad_out.unsqueeze(2).expand(n_models, n, n_patches, width)
        grad_pre = torch.ops.aten.threshold_backward(per_patch, act.view(n_models, n, n_patches, width), 0)
        grads["w1"] = torch.bmm(grad_pre.reshape(n_models, n * n_patches, width).transpose(1, 2), rows)
        return {name: grads[name] for name in p}


def correlations(w1: torch.Tensor, vectors: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model, neuron and signal: ``|<w_r, v_j>| / ||w_r||`` and activation ``|<w_r, v_j>| > b``.

    A signal patch holds ``a_j v_j`` with ``a_j = +-1``, so a neuron aligned with ``-v_j`` detects the
    same feature (it fires when ``a_j = -1``): both signs count (our reading of Eq. 4.1)."""
    dots = torch.einsum("ird,jd->irj", w1, vectors).abs()
    norms = w1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return dots / norms, dots > threshold


def learned(w1: torch.Tensor, vectors: torch.Tensor, cfg: ToyConfig) -> torch.Tensor:
    """(M, k) booleans: model i has a neuron that learned v_j (docs/method.md section 7)."""
    cos, active = correlations(w1, vectors, cfg.threshold)
    return ((cos >= 1 - cfg.epsilon) & active).any(dim=1)


# --------------------------------------------------------------------------------------- training
@dataclass
class ToyRun:
    """What one cohort's training leaves behind for the table, figures and learned_signals.json."""

    width: int
    n_models: int
    seed: int
    learned: list[list[bool]]                 # (M, k)
    train_accuracy: float                      # mean over models of each model's own accuracy
    test_accuracy: float
    probe_train_accuracy: float | None         # a linear probe on the concatenated first-layer features
    probe_test_accuracy: float | None
    epochs: list[int]
    max_cos: list[list[float]]                 # per recorded epoch, per signal: best cosine over all neurons
    active_at_init: list[int]                  # per signal: neurons with <w_r, v_j> > b at init (all models)
    neuron_trace: dict | None                  # Figure 6: one neuron's pull between gradient and decay
    config: dict
    # per model: test accuracy, accuracy on the test inputs whose addition signs cancel (where the label
    # is the product, so 0.5 is chance), and per signal its best cosine over the neurons the signal
    # activates (0 where none): what tells a model that learned v_j by the criterion from one fitting the product
    model_test_accuracy: list[float] = field(default_factory=list)
    model_product_accuracy: list[float | None] = field(default_factory=list)
    model_best_cos: list[list[float]] = field(default_factory=list)

    def fractions(self, n_add: int) -> tuple[float, float]:
        any_model = np.asarray(self.learned).any(axis=0)
        return float(any_model[:n_add].mean()), float(any_model[n_add:].mean())


def train_toy(cfg: ToyConfig, width: int, n_models: int, seed: int, probe: bool = True,
              trace_neuron: bool = True, log=None) -> ToyRun:
    """Train one toy cohort; ``log(line)`` receives one progress line per epoch."""
    vectors_np = signal_vectors(cfg, seed)
    x_train, y_train, _ = make_data(cfg, vectors_np, cfg.n_train, seed * 2 + 1)
    x_test, y_test, signs_test = make_data(cfg, vectors_np, cfg.n_test, seed * 2 + 2)
    vectors = torch.from_numpy(vectors_np).float()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train).float()
    cohort = ToyCohort.init(cfg, n_models, width, seed)
    with torch.no_grad():
        _, active0 = correlations(cohort.params["w1"], vectors, cfg.threshold)
    active_at_init = active0.sum(dim=(0, 1)).tolist()
    trace = NeuronTrace.pick(active0, vectors, cfg) if trace_neuron else None
    # each model its own batch order (docs/method.md section 3), independent of the cohort's size
    order_rngs = [np.random.default_rng(toy_data_seed(seed, width, i)) for i in range(cohort.n_models)]
    steps = math.ceil(cfg.n_train / cfg.batch_size)
    epochs, max_cos = [], []

    def record(epoch):
        with torch.no_grad():
            cos, active = correlations(cohort.params["w1"], vectors, cfg.threshold)
            best = torch.where(active, cos, torch.zeros_like(cos)).amax(dim=(0, 1))
        epochs.append(epoch)
        max_cos.append(best.tolist())

    record(0)
    clock = Clock(0, cfg.epochs)
    for epoch in range(cfg.epochs):
        orders = torch.from_numpy(np.stack([rng.permutation(cfg.n_train) for rng in order_rngs]))  # (M, n)
        for b in range(steps):
            idx = orders[:, b * cfg.batch_size:(b + 1) * cfg.batch_size]
            toy_step(cohort, xt[idx], yt[idx], cfg, trace)
        if (epoch + 1) % cfg.record_every == 0 or epoch + 1 == cfg.epochs:
            record(epoch + 1)
        if log:
            log(f"m={width} M={n_models} seed={seed}: epoch {epoch + 1}/{cfg.epochs}, best cos "
                f"{' '.join(f'{c:.2f}' for c in max_cos[-1])}, {clock(epoch + 1)}")

    with torch.no_grad():
        learned_now = learned(cohort.params["w1"], vectors, cfg)
        acc_train = _accuracy(cohort, xt, y_train)
        acc_test = _accuracy(cohort, torch.from_numpy(x_test), y_test)
        per_model = model_records(cohort, vectors, x_test, y_test, signs_test, cfg)
    probe_train = probe_test = None
    if probe and n_models > 1:
        probe_train, probe_test = _probe(cohort, x_train, y_train, x_test, y_test)
    if trace is not None:
        trace.finish(cohort.params["w1"])
    return ToyRun(width, n_models, seed, learned_now.tolist(), acc_train, acc_test, probe_train, probe_test,
                  epochs, max_cos, active_at_init, trace.to_dict() if trace is not None else None, asdict(cfg),
                  **per_model)


def model_records(cohort: ToyCohort, vectors: torch.Tensor, x_test: np.ndarray, y_test: np.ndarray,
                  signs_test: np.ndarray, cfg: ToyConfig) -> dict[str, list]:
    """Per model: its test accuracy; its accuracy on the test inputs whose addition signs cancel, where the
    label is the product of the multiplication signs (None for every model when no input has that); per
    signal vector its best cosine ``|<w_r, v_j>| / ||w_r||`` over the neurons the vector activates (0 where
    none does). Together they tell a model that fits the product from one credited by a lone neuron."""
    with torch.no_grad():
        test = _model_accuracies(cohort, torch.from_numpy(x_test), y_test)
        product_decides = signs_test[:, :cfg.n_add].sum(1) == 0
        product = (_model_accuracies(cohort, torch.from_numpy(x_test[product_decides]), y_test[product_decides])
                   .tolist() if product_decides.any() else [None] * cohort.n_models)
        cos, active = correlations(cohort.params["w1"], vectors, cfg.threshold)
        best_cos = torch.where(active, cos, torch.zeros_like(cos)).amax(dim=1)  # (M, k)
    return {"model_test_accuracy": test.tolist(), "model_product_accuracy": product,
            "model_best_cos": best_cos.tolist()}


def toy_step(cohort: ToyCohort, x: torch.Tensor, y: torch.Tensor, cfg: ToyConfig,
             trace: "NeuronTrace | None" = None) -> list[torch.Tensor]:
    """One normalized-SGD step of every model on its batch (x, y in {-1, +1}: see
    :meth:`ToyCohort.gradients`); returns the loss gradients (taken before the step), in the order of
    ``cohort.params``. ``trace`` records what the step does to one first-layer neuron (Figure 6)."""
    grads = cohort.gradients(x, y)
    for name, p in cohort.params.items():
        g = grads[name]
        step = g + cfg.weight_decay * p if cfg.decay_mode == "coupled" else g  # coupled: L2 in the objective
        if name == "w1" and cfg.normalize == "neuron":
            # every first-layer neuron steps at the same speed whatever the width
            norm = step.norm(dim=-1, keepdim=True).clamp_min_(1e-12)
        else:
            # normalize per model and tensor: each model takes its own normalized step
            norm = step.flatten(1).norm(dim=1).clamp_min_(1e-12).view(-1, *[1] * (g.dim() - 1))
        if name == "w1" and trace is not None:
            trace.observe(p, g, norm, cfg)
        p.sub_(step.div(norm).mul_(cfg.lr))
    if cfg.decay_mode == "decoupled":
        for p in cohort.params.values():
            p.mul_(1.0 - cfg.lr * cfg.weight_decay)
    return list(grads.values())


def _model_accuracies(cohort: ToyCohort, x: torch.Tensor, y: np.ndarray) -> np.ndarray:
    """(M,) each model's accuracy on (x, y)."""
    scores = cohort.forward(x)
    return (torch.sign(scores).numpy() == y[None, :]).mean(axis=1)


def _accuracy(cohort: ToyCohort, x: torch.Tensor, y: np.ndarray) -> float:
    """The mean over models of each model's accuracy (Table 1's quantity), as one mean over all models'
    predictions (equal in value, and bit for bit the number earlier runs recorded)."""
    scores = cohort.forward(x)
    return float((torch.sign(scores).numpy() == y[None, :]).mean())


def _probe(cohort, x_train, y_train, x_test, y_test) -> tuple[float, float]:
    """Table 1 for concatenations: a linear probe on all models' first-layer features."""
    from .probe import feature_performance

    with torch.no_grad():
        f_train = cohort.first_layer(torch.from_numpy(x_train)).permute(1, 0, 2).flatten(1).numpy()
        f_test = cohort.first_layer(torch.from_numpy(x_test)).permute(1, 0, 2).flatten(1).numpy()
    result = feature_performance(f_train, y_train, f_test, y_test, C_grid=(0.01, 1.0))
    return result.train_accuracy, result.accuracy


@dataclass
class NeuronTrace:
    """Figure 6: one first-layer neuron's projection <w_r, v_j> on a signal vector before every step, its
    norm, and the step's change of <w_r, v_j> split into the two forces as they are applied: the
    normalized gradient step (normalizer per neuron or per tensor, ``toy.normalize``) and weight decay
    (decoupled: on the weights after the gradient step; coupled: inside the normalized step). The two
    pulls of a step add up to the change of <w_r, v_j> exactly (tested)."""

    model: int
    neuron: int
    signal: int
    kind: str
    vector: torch.Tensor
    dot: list = field(default_factory=list)
    norm: list = field(default_factory=list)
    gradient_pull: list = field(default_factory=list)
    decay_pull: list = field(default_factory=list)

    @classmethod
    def pick(cls, active0: torch.Tensor, vectors: torch.Tensor, cfg: ToyConfig) -> "NeuronTrace | None":
        """A neuron activated at init by a multiplication vector (else by any signal); None if none is."""
        for j in list(range(cfg.n_add, cfg.k)) + list(range(cfg.n_add)):
            hits = torch.nonzero(active0[:, :, j])
            if len(hits):
                model, neuron = hits[0].tolist()
                return cls(model, neuron, j, "multiplication" if j >= cfg.n_add else "addition", vectors[j])
        return None

    @torch.no_grad()
    def observe(self, w1: torch.Tensor, grad_w1: torch.Tensor, norm: torch.Tensor, cfg: ToyConfig) -> None:
        """Before a step: ``norm`` is the normalizer the step divides this neuron's gradient by."""
        w, g, v = w1[self.model, self.neuron], grad_w1[self.model, self.neuron], self.vector
        scale = float(norm.expand(*w1.shape[:2], 1)[self.model, self.neuron, 0])  # per neuron or per tensor
        gradient_move = -cfg.lr * float(g @ v) / scale
        if cfg.decay_mode == "coupled":
            decay_move = -cfg.lr * cfg.weight_decay * float(w @ v) / scale
        else:
            decay_move = -cfg.lr * cfg.weight_decay * (float(w @ v) + gradient_move)
        self.dot.append(float(w @ v))
        self.norm.append(float(w.norm()))
        self.gradient_pull.append(gradient_move)
        self.decay_pull.append(decay_move)

    @torch.no_grad()
    def finish(self, w1: torch.Tensor) -> None:
        """After training: the final <w_r, v_j> and norm (so ``dot`` has one entry more than the pulls)."""
        w = w1[self.model, self.neuron]
        self.dot.append(float(w @ self.vector))
        self.norm.append(float(w.norm()))

    def to_dict(self) -> dict:
        return {"model": self.model, "neuron": self.neuron, "signal": self.signal, "kind": self.kind,
                "dot": self.dot, "norm": self.norm, "gradient_pull": self.gradient_pull,
                "decay_pull": self.decay_pull}
