"""Training and evaluation loops: ``fit`` (mini-batch SGD over seeded shuffles, test accuracy
per epoch), ``evaluate``, ``predict``, ``confusion_matrix``, and ``save_history`` for the
per-epoch record, and ``divergence``, which tells a run that blew up without a NaN. Progress
goes to a callback (``progress=True`` builds one from ``progress.py``); nothing else prints. BLAS
threads follow ``threads.py``'s policy. Leaves out: the model (``nn``), the update rules
(``optim``), reading data (``data``) and the command line (``cli``).
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .errors import TrainingDiverged
from .files import atomic_file
from .data import batches
from .losses import LOSSES
from .nn import Module, training_mode
from .optim import SGD, Optimizer
from .progress import ProgressBar
from .tensor import Tensor, no_grad
from .threads import limit, resolve

LossLike = Union[str, Callable[[Tensor, np.ndarray], Tensor]]
Callback = Callable[[dict], None]

EVAL_BATCH = 1000          # rows per forward pass when evaluating: big enough to be fast, small
                           # enough that 10k rows x 784 never makes one huge intermediate
PROGRESS_UPDATES = 100     # batch events per epoch at most, so the callback costs nothing measurable
GROWTH = 100.0             # an epoch's loss this many times the lowest loss seen so far: diverging
CHANCE_MARGIN = 0.02       # test accuracy within this of chance: the network has learned nothing ...
CHANCE_STEPS = 100         # ... in an epoch of at least this many steps (fewer may not have had time)


class History(List[Dict[str, Optional[float]]]):
    """What ``fit`` returns: one dict per epoch, in order, with keys

    ``epoch`` (1-based), ``train_loss`` (mean loss over the epoch's mini-batches, as trained),
    ``test_loss`` and ``test_accuracy`` (on X_test after the epoch; None without a test set),
    ``seconds`` (wall time of the epoch, evaluation included), ``diverged`` (True when
    ``divergence`` found the loss grown by orders of magnitude or the accuracy at chance).
    A plain list of plain dicts, so ``json.dump(history, f)`` just works.
    """


def _loss_fn(loss: LossLike) -> Callable[[Tensor, np.ndarray], Tensor]:
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a "
                         "function (outputs, targets) -> scalar Tensor") from None


def _param_dtype(model: Module) -> np.dtype:
    params = model.parameters()
    return params[0].dtype if params else np.dtype(np.float32)


def check_data(X, y, what: str = "X", dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """Validate and convert a data set once, before any training step.

    X: a numeric (N, n_in) array -> ``dtype`` (no copy if it already is). y: integer labels
    (N,) -> int64, or float targets (N, C) -> ``dtype``. Raises ValueError naming the problem:
    not numeric, NaN/Inf entries, wrong rank, or a length mismatch.
    """
    try:
        X_arr = np.asarray(X)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: expected a numeric array, could not convert it ({e})") from None
    if X_arr.dtype.kind not in "biuf":
        raise ValueError(f"{what}: expected a numeric array, got dtype {X_arr.dtype}")
    if X_arr.ndim != 2:
        raise ValueError(f"{what}: expected shape (N, n_features), got {X_arr.shape}")
    if X_arr.dtype.kind == "f" and not np.isfinite(X_arr).all():
        bad = np.argwhere(~np.isfinite(X_arr))[0]
        raise ValueError(f"{what}: contains NaN or Inf (first at row {bad[0]}, column {bad[1]}); "
                         "clean or impute the data first")
    y_arr = np.asarray(y)
    if len(y_arr) != len(X_arr):
        raise ValueError(f"{what}: {len(X_arr)} rows but {len(y_arr)} labels")
    if y_arr.ndim == 1 and y_arr.dtype.kind in "iu":
        if y_arr.size and y_arr.min() < 0:
            raise ValueError(f"{what}: labels must be >= 0, found {y_arr.min()}")
        y_arr = y_arr.astype(np.int64, copy=False)
    elif y_arr.ndim == 2 and y_arr.dtype.kind in "biuf":
        if not np.isfinite(y_arr).all():
            raise ValueError(f"{what}: targets contain NaN or Inf")
        y_arr = y_arr.astype(dtype, copy=False)
    else:
        raise ValueError(f"{what}: labels must be integers of shape (N,) or numeric targets of "
                         f"shape (N, C), got {y_arr.dtype} {y_arr.shape}")
    return X_arr.astype(dtype, copy=False), y_arr


def _correct(out: np.ndarray, y: np.ndarray) -> int:
    """How many rows' argmax matches the label (or the target's argmax)."""
    truth = y if y.ndim == 1 else y.argmax(axis=1)
    return int((out.argmax(axis=1) == truth).sum())


def _evaluate(model: Module, X: np.ndarray, y: np.ndarray, loss_fn, batch_size: int) -> Tuple[float, float]:
    """(mean loss, accuracy) on arrays already checked by ``check_data``, in eval mode."""
    total, correct = 0.0, 0
    with no_grad(), training_mode(model, False):
        for start in range(0, len(X), batch_size):
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            out = model(Tensor(xb))
            total += float(loss_fn(out, yb).data) * len(xb)
            correct += _correct(out.data, yb)
    n = max(len(X), 1)
    return total / n, correct / n


def evaluate(model: Module, X, y, loss: LossLike = "cross-entropy",
             batch_size: int = EVAL_BATCH, threads: Optional[int] = None) -> Tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on X (N, n_in) with labels y (N,) (or targets (N, C)).

    Runs under ``no_grad`` and in eval mode (``Module.eval()``: Dropout off; the model's own
    mode is restored afterwards), in chunks of ``batch_size`` rows. Accuracy is the fraction of rows
    whose largest output is the label; the loss is the batch-size-weighted mean of ``loss``.
    ``threads``: BLAS threads (None: ``threads.policy``, one for an MLP).
    """
    X, y = check_data(X, y, "X", _param_dtype(model))
    if len(X) == 0:
        raise ValueError("evaluate: X is empty")
    with limit(resolve(threads, model, batch_size)):
        return _evaluate(model, X, y, _loss_fn(loss), batch_size)


def predict(model: Module, X, batch_size: int = EVAL_BATCH, threads: Optional[int] = None) -> np.ndarray:
    """Predicted class (the argmax output) for each row of X (N, n_in) -> int64 (N,), computed
    in eval mode under ``no_grad`` (the model's own mode is restored afterwards).
    ``threads``: BLAS threads (None: ``threads.policy``)."""
    X = np.asarray(X, dtype=_param_dtype(model))
    with limit(resolve(threads, model, batch_size)), no_grad(), training_mode(model, False):
        return np.concatenate([model(Tensor(X[i:i + batch_size])).data.argmax(axis=1)
                               for i in range(0, len(X), batch_size)] or [np.zeros(0, np.int64)])


def chance(y) -> Optional[float]:
    """The accuracy of always answering the most common class of labels ``y`` (N,) (or of
    targets (N, C) by their argmax); None for no labels."""
    labels = np.asarray(y)
    labels = labels.argmax(axis=1) if labels.ndim == 2 else labels
    return float(np.bincount(labels.astype(np.int64)).max() / len(labels)) if len(labels) else None


def divergence(train_loss: float, lowest_loss: Optional[float], test_accuracy: Optional[float] = None,
               chance_accuracy: Optional[float] = None) -> Optional[str]:
    """Why an epoch looks diverged although no NaN appeared, or None when it does not.

    Diverged: the epoch's mean training loss is GROWTH (100) times ``lowest_loss`` (the lowest
    seen before: the first batch's, or an earlier epoch's), or its test accuracy is within
    CHANCE_MARGIN of ``chance_accuracy`` (see ``chance``). ``fit`` calls it after every epoch,
    with the chance rule for epochs of CHANCE_STEPS steps or more; a NaN or Inf loss is fit's
    TrainingDiverged instead.
    """
    grew = loss_grew(train_loss, lowest_loss)
    stuck = (test_accuracy is not None and chance_accuracy is not None
             and chance_accuracy + CHANCE_MARGIN < 1 and test_accuracy <= chance_accuracy + CHANCE_MARGIN)
    if not (grew or stuck):
        return None
    why = []
    if grew:
        why.append(f"the training loss grew from {lowest_loss:.4g} to {train_loss:.4g} "
                   f"(x{train_loss / lowest_loss:.2g})")
    if stuck:
        why.append(f"test accuracy {100 * test_accuracy:.2f}% is at chance ({100 * chance_accuracy:.2f}% "
                   "by always answering the most common class)")
    if grew:
        return "; ".join(why)  # the cause is the caller's to name: the learning rate, or the decay
    return (f"{why[0]}: the network is not learning: the learning rate may be far too high or too low, "
            "or the units saturate (try another init)")


def loss_grew(train_loss: float, lowest_loss: Optional[float]) -> bool:
    """True when ``train_loss`` is GROWTH (100) times ``lowest_loss`` or more."""
    return lowest_loss is not None and lowest_loss > 0 and train_loss >= GROWTH * lowest_loss


def confusion_matrix(y_true, y_pred, n_classes: int = 10) -> np.ndarray:
    """int64 (n_classes, n_classes): entry [i, j] counts rows whose true class is i and whose
    predicted class is j (so the diagonal holds the correct ones; rows sum to class counts)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"confusion_matrix: y_true and y_pred must be 1-D of one length, got "
                         f"{t.shape} and {p.shape}")
    if t.dtype.kind not in "iu" or p.dtype.kind not in "iu":
        raise ValueError(f"confusion_matrix: expected integer class labels, got {t.dtype} and {p.dtype}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"confusion_matrix: {name} holds {a.min()}..{a.max()}, outside "
                             f"0..{n_classes - 1}")
    return np.bincount(t.astype(np.int64) * n_classes + p, minlength=n_classes * n_classes
                       ).reshape(n_classes, n_classes)


def fit(model: Module, X_train, y_train, X_test=None, y_test=None, *,
        loss: LossLike = "cross-entropy", optimizer: Optional[Optimizer] = None,
        epochs: int = 10, batch_size: int = 10, lr: Optional[float] = None,
        seed: Union[None, int, np.random.Generator] = 0,
        callback: Optional[Callback] = None, eval_batch_size: int = EVAL_BATCH,
        threads: Optional[int] = None, progress: bool = False) -> History:
    """Train ``model`` by mini-batch gradient descent; return a ``History`` (one dict per epoch).

    X_train (N, n_in) numeric, y_train integer labels (N,) (or float targets (N, C)); the
    same for the optional test set, which is evaluated after every epoch under ``no_grad``.
    ``loss``: a name from ``losses.LOSSES`` ("cross-entropy" on logits, "quadratic" for the
    textbook's sigmoid-output network: integer labels act as one-hot rows) or a function.
    ``optimizer``: any ``Optimizer`` over ``model.parameters()``; None means plain
    ``SGD(model.parameters(), lr)`` with ``lr`` defaulting to 0.1 (``lr`` must then not be
    given, it belongs to the optimizer). Each epoch visits every row once, in mini-batches of
    ``batch_size`` (the last one smaller), in an order drawn from one
    ``numpy.random.default_rng(seed)`` (``data.batches``), so equal seeds give equal runs.
    The model trains in train mode (``Module.train()``: Dropout active) and is evaluated in eval
    mode; afterwards it is back in the mode it had before ``fit``.
    ``threads``: how many threads NumPy's BLAS may use while training (None: ``threads.policy``,
    one for an MLP's small products; equal seeds and equal thread counts give equal runs).
    ``progress=True``: show a progress bar (``progress.ProgressBar``: redrawn in place on a
    terminal, an HTML bar in a Jupyter notebook, one line per epoch elsewhere) on stderr.

    ``callback(event)`` receives dicts: ``{"event": "batch", "epoch", "epochs", "seen",
    "total", "loss" (running mean this epoch), "seconds"}`` up to ~100 times per epoch, and
    ``{"event": "epoch", "epochs", "warning", "loss_grew", **record}`` after each epoch
    (``record`` as in History; ``warning``: ``divergence``'s text when the epoch diverged without
    a NaN, else None; ``loss_grew``: whether that was the loss growing, rather than the accuracy
    sitting at chance alone).
    Raises ValueError before training for NaN/Inf or non-numeric inputs and bad settings, and
    ``errors.TrainingDiverged`` (a FloatingPointError) when training diverges: a NaN/Inf
    training loss, weights (checked after every epoch, so its last step counts too) or test
    loss; it says what and when.
    """
    if int(epochs) < 0 or int(batch_size) < 1:
        raise ValueError(f"fit: need epochs >= 0 and batch_size >= 1, got epochs={epochs}, "
                         f"batch_size={batch_size}")
    epochs, batch_size = int(epochs), int(batch_size)
    n_threads = resolve(threads, model, max(batch_size, eval_batch_size))
    loss_fn = _loss_fn(loss)
    dtype = _param_dtype(model)
    X_train, y_train = check_data(X_train, y_train, "X_train", dtype)
    if len(X_train) == 0:
        raise ValueError("fit: X_train is empty")
    if (X_test is None) != (y_test is None):
        raise ValueError("fit: pass both X_test and y_test, or neither")
    if X_test is not None:
        X_test, y_test = check_data(X_test, y_test, "X_test", dtype)
        if X_test.shape[1] != X_train.shape[1]:
            raise ValueError(f"fit: X_test has {X_test.shape[1]} features, X_train has {X_train.shape[1]}")
    if optimizer is None:
        opt = SGD(model.parameters(), lr=0.1 if lr is None else lr)
    elif lr is not None:
        raise ValueError("fit: lr is set by the optimizer you passed; drop fit's lr argument")
    else:
        opt = optimizer
    if progress:
        bar = ProgressBar()
        callback = bar if callback is None else _both(callback, bar)
    with limit(n_threads), training_mode(model, True):  # _evaluate switches to eval mode and back
        return _fit(model, X_train, y_train, X_test, y_test, loss_fn, opt, epochs, batch_size,
                    np.random.default_rng(seed), callback, eval_batch_size)


def _both(first: Callback, second: Callback) -> Callback:
    def both(event: dict) -> None:
        first(event)
        second(event)
    return both


def _fit(model, X_train, y_train, X_test, y_test, loss_fn, opt, epochs, batch_size, rng, callback,
         eval_batch_size) -> History:
    """fit's loop, on checked arrays, inside fit's BLAS thread limit."""
    n = len(X_train)
    n_batches = math.ceil(n / batch_size)
    report_every = max(1, n_batches // PROGRESS_UPDATES)
    # the chance rule only for epochs long enough to have learned something (see CHANCE_STEPS)
    chance_accuracy = chance(y_test) if X_test is not None and n_batches >= CHANCE_STEPS else None
    lowest = None  # the lowest loss so far: the first batch's, then each epoch's (for divergence)
    history = History()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        total, seen = 0.0, 0
        for b, (xb, yb) in enumerate(batches(X_train, y_train, batch_size, rng=rng), 1):
            # the training step: kept to these four lines because it is what the benchmark times
            opt.zero_grad()
            batch_loss = loss_fn(model(Tensor(xb)), yb)
            batch_loss.backward()
            opt.step()
            value = float(batch_loss.data)
            if lowest is None:
                lowest = value
            total += value * len(xb)
            seen += len(xb)
            if callback is not None and (b % report_every == 0 or b == n_batches):
                callback({"event": "batch", "epoch": epoch, "epochs": epochs, "seen": seen,
                          "total": n, "loss": total / seen, "seconds": time.perf_counter() - start})
        train_loss = total / n
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"the training loss became {train_loss}", epoch)
        # the last step's update comes after its loss was computed: only the weights show it
        bad = next((name for name, p in model.named_parameters() if not np.isfinite(p.data).all()), None)
        if bad is not None:
            raise TrainingDiverged(f"the last step's update made the weights ({bad}) NaN or Inf", epoch)
        test_loss = test_acc = None
        if X_test is not None and len(X_test):
            test_loss, test_acc = _evaluate(model, X_test, y_test, loss_fn, eval_batch_size)
            if not math.isfinite(test_loss):
                raise TrainingDiverged(f"the test loss became {test_loss} (the outputs overflow)", epoch)
        warning = divergence(train_loss, lowest, test_acc, chance_accuracy)
        grew = loss_grew(train_loss, lowest)
        lowest = min(lowest, train_loss)
        record = {"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                  "test_accuracy": test_acc, "seconds": time.perf_counter() - start,
                  "diverged": warning is not None}
        history.append(record)
        if callback is not None:
            callback({"event": "epoch", "epochs": epochs, "warning": warning, "loss_grew": grew, **record})
    return history


def _strict(value):
    """A history value as strict JSON allows: NaN and +-Inf (which json.dump would write as the
    bare, invalid NaN / Infinity) become None, i.e. null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def save_history(history: List[dict], path: Union[str, os.PathLike]) -> None:
    """Write the per-epoch history as strict JSON (NaN and Inf as null), atomically
    (``files.atomic_file``: temp file in the same folder, then ``os.replace``), so a reader
    never sees half a file and a failure keeps the old one."""
    records = _strict([dict(r) for r in history])
    with atomic_file(path, "w", suffix=".json") as f:
        json.dump(records, f, indent=1, allow_nan=False)
        f.write("\n")
