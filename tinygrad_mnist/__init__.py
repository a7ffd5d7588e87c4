"""tinygrad_mnist: a teaching-grade reverse-mode autodiff engine on NumPy, with MNIST end to end.

Backprop falls out of ``Tensor`` recording ops; ``manual`` holds the hand-derived formulas as
an independent reference; ``gradcheck`` compares any op with finite differences; ``save`` and
``load`` write and read model files. The names below are imported on first use, so importing
a subpackage alone (``tinygrad_mnist.data``) does not load the engine.
"""
from importlib import import_module

from .errors import AnomalyError, GradcheckError, ModelFileError, ShapeError
# eager, and light (numpy only until called): a lazy export named like its submodule would be
# shadowed by that submodule once something imports tinygrad_mnist.gradcheck
from .gradcheck import gradcheck

__version__ = "0.1.0"

# public name -> the module that defines it, imported on first use
_EXPORTS = {
    "Tensor": "tensor", "no_grad": "autograd", "is_grad_enabled": "autograd",
    "detect_anomaly": "autograd", "save": "serialize", "load": "serialize",
}
__all__ = list(_EXPORTS) + ["gradcheck", "AnomalyError", "GradcheckError", "ModelFileError", "ShapeError"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
