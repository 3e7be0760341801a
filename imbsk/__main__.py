"""``python -m imbsk``: the same as the ``imbsk`` command (see :mod:`imbsk.cli`)."""

import sys

from imbsk.cli import main

if __name__ == "__main__":
    sys.exit(main())
