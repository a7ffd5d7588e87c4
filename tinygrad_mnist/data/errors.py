"""The data layer's exception and warning types.

Leaves out: the checks themselves, which sit next to the reader whose input they check.
"""


class DataError(ValueError):
    """A data file is missing, malformed or hostile, or a data set cannot be found.

    The message names the file and what is wrong with it, e.g.
    ``t10k-images-idx3-ubyte.gz: header says 10000 images of 28x28 = 7840000 bytes,
    file holds 1234``.  One ``except DataError`` covers every data problem, downloads included.
    """


class DownloadError(DataError):
    """Every mirror failed for one file.

    A ``DataError`` (so also a ``ValueError``), not an ``OSError``: callers catch one type for
    every data problem.  ``filename`` is the file; ``attempts`` lists ``(url, reason)`` for each
    mirror tried, in order; the message names them all.
    """

    def __init__(self, filename: str, attempts: "list[tuple[str, str]]") -> None:
        self.filename = filename
        self.attempts = list(attempts)
        lines = [f"{filename}: download failed from every mirror ({len(self.attempts)} tried):"]
        lines += [f"  {url}: {reason}" for url, reason in self.attempts]
        super().__init__("\n".join(lines))

    def __reduce__(self):  # rebuild from the fields, not the formatted message
        return (type(self), (self.filename, self.attempts))


class BundledSampleWarning(UserWarning):
    """Full MNIST is not in the cache, so the bundled 10,000 + 10,000 sample is used instead."""
