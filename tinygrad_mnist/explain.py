"""``from tinygrad_mnist.explain import explain`` keeps working: the ledger lives in
``tinygrad_mnist.tools.explain``."""
from .tools.explain import Ledger, Row, Step, Term, explain

__all__ = ["explain", "Ledger", "Row", "Step", "Term"]
