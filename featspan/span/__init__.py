"""Feature span error by exact ridge regression from sufficient statistics (docs/method.md sections 4-6).

``rows`` (which rows fit, choose lambda, evaluate), ``statistics`` (one chunked pass of float64 moments
over every feature set), ``ridge`` (the lambda path, FSE, residuals), ``similarity`` (linear CKA from the
same statistics), ``backend`` (numpy or torch, chosen once).
"""

from .ridge import LambdaGrid, RidgeSpan, SpanResult, default_lambda_grid, feature_span_error, is_dead
from .rows import EVAL_ROLES, FIT, NONE, TEST, VALIDATION, RowPlan
from .statistics import DEFAULT_CHUNK_ROWS, FitGram, Moments, RoleMoments, SpanStatistics, SymmetricForm

__all__ = ["DEFAULT_CHUNK_ROWS", "EVAL_ROLES", "FIT", "NONE", "TEST", "VALIDATION", "FitGram", "LambdaGrid",
           "Moments", "RidgeSpan", "RoleMoments", "RowPlan", "SpanResult", "SpanStatistics", "SymmetricForm",
           "default_lambda_grid", "feature_span_error", "is_dead"]
