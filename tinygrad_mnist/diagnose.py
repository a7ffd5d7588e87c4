"""``from tinygrad_mnist.diagnose import ...`` keeps working: the diagnosis lives in
``tinygrad_mnist.tools.diagnose``."""
from .tools.diagnose import (CAUSES, Finding, Report, backprop_inputs, diagnose, diagnose_function,
                             load_backprop_function)

__all__ = ["diagnose", "diagnose_function", "backprop_inputs", "load_backprop_function", "Report",
           "Finding", "CAUSES"]
