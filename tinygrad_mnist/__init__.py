"""tinygrad_mnist: a teaching-grade reverse-mode autodiff engine on NumPy, with MNIST end to end.

Backprop falls out of ``Tensor`` recording ops; ``manual`` holds the hand-derived formulas as
an independent reference; ``gradcheck`` compares any op with finite differences.
"""
from .errors import GradcheckError, ShapeError
from .gradcheck import gradcheck
from .tensor import AnomalyError, Tensor, detect_anomaly, is_grad_enabled, no_grad

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "detect_anomaly", "AnomalyError", "gradcheck",
           "ShapeError", "GradcheckError"]
__version__ = "0.1.0"
