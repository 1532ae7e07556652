"""``python -m pymetallic``: the ``pymetallic`` command line (pymetallic.cli)."""

import sys

from .cli import main

sys.exit(main())
