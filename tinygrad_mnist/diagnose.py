"""``from tinygrad_mnist.diagnose import ...`` keeps working: the diagnosis lives in
``tinygrad_mnist.tools.diagnose`` (gradients and functions), ``tools.learner`` (files,
Nielsen-style classes, update steps) and ``tools.bugs`` (the bug table)."""
from .tools.bugs import BUGS, Bug, Plant, Slip
from .tools.diagnose import (CAUSES, Finding, Report, backprop_inputs, diagnose, diagnose_function,
                             load_backprop_function)
from .tools.source import load_definitions

__all__ = ["diagnose", "diagnose_function", "backprop_inputs", "load_backprop_function", "load_definitions",
           "Report", "Finding", "CAUSES", "BUGS", "Bug", "Plant", "Slip"]
