"""The library's exception types, in one place so every layer can raise them.

Leaves out: the checks themselves, which live next to the code whose input they check.
"""


class ShapeError(ValueError):
    """An op or layer got operands whose shapes break its rule.

    The message names the op, every shape involved, and the rule broken, e.g.
    ``matmul: (1,10) @ (1,30): inner dimensions 10 and 1 differ; did you mean a.T @ b?``
    """


class IndexShapeError(ShapeError, IndexError):
    """An index out of range for a tensor's shape, e.g. ``getitem: (2,3)[5]: index 5 is out of
    bounds for axis 0 with size 2``. Also an IndexError, as NumPy's is, so ``except IndexError``
    keeps working and ``for row in t`` stops at the last row."""


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with central finite differences.

    The message names the input, the element index, and both values.
    """
