"""The engine's exception types and ``fmt_shape``, in one place so every layer can raise them
with the same wording. Standard library only. Leaves out: the checks themselves, which live
next to the code whose input they check, and the data layer's errors (``data/errors.py``).
"""


def fmt_shape(shape: tuple) -> str:
    """(1, 10) -> '(1,10)': the compact form every error message and the ledger use."""
    return "(" + ",".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


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


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly`` by the first op whose output or gradient is not finite.

    Besides the message: ``op`` (the op's name), ``phase`` ("forward" or "backward"), ``what``
    (the message without the place) and ``site`` ('file:line in function' of the call).
    """

    def __init__(self, op: str, phase: str, what: str, site: str):
        super().__init__(f"{what}; the op was called at {site}")
        self.op, self.phase, self.what, self.site = op, phase, what, site

    def __reduce__(self):  # rebuild from the fields, not the formatted message
        return (type(self), (self.op, self.phase, self.what, self.site))


class TrainingDiverged(FloatingPointError):
    """``fit``'s training went non-finite: ``what`` happened (e.g. "the training loss became
    nan") in epoch ``epoch``. The message adds the usual cause; a caller that knows the
    settings (the command line) can say which one to change instead."""

    def __init__(self, what: str, epoch: int):
        super().__init__(f"fit: {what} in epoch {epoch}; the learning rate is probably too high "
                         "(or the weight decay)")
        self.what, self.epoch = what, epoch

    def __reduce__(self):  # rebuild from the fields, not the formatted message
        return (type(self), (self.what, self.epoch))


class ModelFileError(ValueError):
    """A saved model file is unreadable, incomplete, or does not match its architecture."""
