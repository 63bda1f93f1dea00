"""Truncated Newton for the multinomial logistic probe (docs/method.md section 6): the CPU solver.

Minimizes ``f(U, b) = mean_i CE(softmax(U' a_i + b), y_i) + pen ||U||^2`` over feature-major float32
data ``A`` (d x n), where ``A`` holds the standardized features in the eigenbasis of their Gram matrix
(``a_i = V' x_i``, so ``W = V U``: the same minimizer, rotated), or the features themselves with the
rotation ``V`` applied to the d x k weights instead (``rotation``).

Products with the data run in float32; when a step can no longer decrease the objective at float32's
resolution before the gradient reached ``tol``, the solver continues in float64.

Why Newton: a concatenation of many narrow models gives thousands of correlated features on a few
thousand rows, and at weak regularization the softmax's curvature concentrates on the few rows near a
decision boundary. L-BFGS then needs hundreds to over a thousand iterations (250 / 600 / 1,000 at
C = 0.01 / 0.1 / 1 on the default run's widest MLP concatenation); Newton steps solved by
preconditioned conjugate gradients need 9-18 steps there, in 4-8x less time. Each CG step is one
Hessian-vector product, two float32 products with the data like a gradient:
``H (V, c) = (A dR' / n + 2 pen V, 1' dR / n)`` with ``dZ = V' A + c`` and
``dR = P o (dZ - 1 (1' (P o dZ)))``.

The preconditioner is the diagonal of the Hessian's Gauss-Newton part in the eigenbasis, refreshed at
every Newton step from the current probabilities: ``sum_i a_ij^2 p_ik (1 - p_ik) / n + 2 pen``, over
every row when ``A`` is rotated, else over a sample of rows rotated once (``sample``). In the
eigenbasis the features are uncorrelated, which is what makes a diagonal preconditioner work.
Steps satisfy Armijo's condition by backtracking. Convergence: the Euclidean norm of the gradient in
(W, b) at most ``tol``, which bounds scikit-learn's criterion (its largest entry at most ``tol``, for
the same objective divided by n as scikit-learn's lbfgs solver uses) from above: as tight or tighter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NewtonResult:
    weight: np.ndarray   # U (d x k), in the eigenbasis
    bias: np.ndarray     # k
    n_iter: int          # Newton steps
    n_hessian_products: int
    gradient_norm: float
    converged: bool      # the gradient norm reached tol within max_iter steps


class SoftmaxObjective:
    """Value, gradient and Hessian-vector products of the penalized softmax loss on ``A`` (d x n)."""

    def __init__(self, a: np.ndarray, codes: np.ndarray, k: int, penalty: float, rotation: np.ndarray | None = None,
                 sample: tuple[np.ndarray | None, np.ndarray] | None = None):
        self.a, self.k, self.penalty = a, k, penalty
        self.dtype = a.dtype           # float32 products; float64 once float32's resolution is reached
        self.rotation = rotation      # V when A holds the unrotated features, else None
        self.n = a.shape[1]
        self.onehot = np.zeros((k, self.n), dtype=np.float32)
        self.onehot[codes, np.arange(self.n)] = 1.0
        # rows (None: all) and their squared eigenbasis coordinates, for the preconditioner
        self.sample_index, self.sample_squares = sample if sample is not None else (None, np.square(a))

    def promote(self) -> bool:
        """Switch to float64 products (a copy of the data); False when they are float64 already."""
        if self.dtype == np.float64:
            return False
        self.a, self.dtype = self.a.astype(np.float64), np.dtype(np.float64)
        self.onehot = self.onehot.astype(np.float64)
        return True

    def _in_data_coordinates(self, u: np.ndarray) -> np.ndarray:
        return u if self.rotation is None else self.rotation @ u

    def _to_eigenbasis(self, g: np.ndarray) -> np.ndarray:
        return g if self.rotation is None else self.rotation.T @ g

    def logits(self, u: np.ndarray, b: np.ndarray) -> np.ndarray:
        z = self._in_data_coordinates(u).T.astype(self.dtype) @ self.a
        z += b.astype(self.dtype)[:, None]
        return z

    def value_gradient(self, u: np.ndarray, b: np.ndarray):
        """The objective, its gradient in (U, b), and the probabilities P (k x n)."""
        z = self.logits(u, b)
        z -= z.max(axis=0, keepdims=True)
        p = np.exp(z)
        total = p.sum(axis=0, keepdims=True)
        loss = float(np.log(total).sum(dtype=np.float64) - (z * self.onehot).sum(dtype=np.float64)) / self.n
        loss += self.penalty * float((u * u).sum())
        p /= total
        resid = (p - self.onehot) / self.n
        grad_u = self._to_eigenbasis((self.a @ resid.T).astype(np.float64)) + 2.0 * self.penalty * u
        return loss, grad_u, resid.sum(axis=1, dtype=np.float64), p

    def hessian_times(self, p: np.ndarray, v: np.ndarray, c: np.ndarray):
        dz = self.logits(v, c)
        dr = p * (dz - (p * dz).sum(axis=0, keepdims=True))
        dr /= self.n
        return (self._to_eigenbasis((self.a @ dr.T).astype(np.float64)) + 2.0 * self.penalty * v,
                dr.sum(axis=1, dtype=np.float64))

    def diagonal(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The Gauss-Newton Hessian's diagonal in (U, b), from the sample rows: the conjugate
        gradients' preconditioner."""
        curvature = p * (1.0 - p)                                        # k x n
        rows = curvature if self.sample_index is None else curvature[:, self.sample_index]
        diag_u = (self.sample_squares @ rows.T).astype(np.float64) / rows.shape[1]
        return diag_u + 2.0 * self.penalty, curvature.sum(axis=1, dtype=np.float64) / self.n + 1e-12


def minimize_softmax(objective: SoftmaxObjective, u0: np.ndarray, b0: np.ndarray, *, tol: float = 1e-4,
                     max_iter: int = 100, max_cg: int = 250) -> NewtonResult:
    """Newton's method with steps from preconditioned conjugate gradients (forcing term
    ``min(0.5, sqrt(|g|)) |g|``) and backtracking on Armijo's condition."""
    u, b = np.array(u0, dtype=np.float64), np.array(b0, dtype=np.float64)
    f, gu, gb, p = objective.value_gradient(u, b)
    n_hv = n_iter = 0
    while True:
        gnorm = float(np.sqrt((gu * gu).sum() + (gb * gb).sum()))
        if gnorm <= tol:
            return NewtonResult(u, b, n_iter, n_hv, gnorm, True)
        if n_iter >= max_iter:
            return NewtonResult(u, b, n_iter, n_hv, gnorm, False)
        n_iter += 1
        du, db, used = _conjugate_gradients(objective, p, gu, gb, min(0.5, np.sqrt(gnorm)) * gnorm, max_cg)
        n_hv += used
        slope = float((gu * du).sum() + (gb * db).sum())
        step = 1.0
        while True:
            f_new, gu_new, gb_new, p_new = objective.value_gradient(u + step * du, b + step * db)
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
            if step < 1e-10:  # no decrease left at this precision's resolution
                break
        if step < 1e-10:
            if not objective.promote():
                return NewtonResult(u, b, n_iter, n_hv, gnorm, False)
            f, gu, gb, p = objective.value_gradient(u, b)  # go on from here in float64
            continue
        u, b = u + step * du, b + step * db
        f, gu, gb, p = f_new, gu_new, gb_new, p_new


def _conjugate_gradients(objective: SoftmaxObjective, p, gu, gb, tolerance: float, max_cg: int):
    """Approximately solve ``H s = -g`` (preconditioned CG, stopped at residual norm ``tolerance``)."""
    diag_u, diag_b = objective.diagonal(p)
    su, sb = np.zeros_like(gu), np.zeros_like(gb)
    ru, rb = -gu, -gb
    zu, zb = ru / diag_u, rb / diag_b
    du, db = zu.copy(), zb.copy()
    rz = float((ru * zu).sum() + (rb * zb).sum())
    for used in range(1, max_cg + 1):
        hu, hb = objective.hessian_times(p, du, db)
        curvature = float((du * hu).sum() + (db * hb).sum())
        if curvature <= 0:  # float32 round-off on a nearly flat direction: keep what we have
            return (su, sb, used) if used > 1 else (zu, zb, used)
        alpha = rz / curvature
        su += alpha * du
        sb += alpha * db
        ru -= alpha * hu
        rb -= alpha * hb
        if np.sqrt((ru * ru).sum() + (rb * rb).sum()) <= tolerance:
            return su, sb, used
        zu, zb = ru / diag_u, rb / diag_b
        rz_new = float((ru * zu).sum() + (rb * zb).sum())
        du = zu + (rz_new / rz) * du
        db = zb + (rz_new / rz) * db
        rz = rz_new
    return su, sb, max_cg
