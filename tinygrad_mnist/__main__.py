"""``python -m tinygrad_mnist ...``: the same command line as ``tinygrad-mnist``."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
