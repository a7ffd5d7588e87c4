"""``from tinygrad_mnist.diagnose import ...`` keeps working: the diagnosis lives in
``tinygrad_mnist.tools``: ``diagnose`` (gradients and functions), ``learner`` (a whole file,
Nielsen-style classes, update steps), ``bugs`` (the bug table), ``source`` (loading a file as
definitions)."""
from .tools.bugs import BUGS, Bug, Plant, Slip
from .tools.diagnose import (CAUSES, Finding, Report, backprop_inputs, diagnose, diagnose_function,
                             load_backprop_function)
from .tools.learner import STEP_ETA, diagnose_file, diagnose_network, diagnose_step, find_parameters
from .tools.source import load_definitions

__all__ = ["diagnose", "diagnose_function", "diagnose_file", "diagnose_network", "diagnose_step",
           "backprop_inputs", "load_backprop_function", "load_definitions", "find_parameters", "Report",
           "Finding", "CAUSES", "BUGS", "Bug", "Plant", "Slip", "STEP_ETA"]
