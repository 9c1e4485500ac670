"""``python -m gdlab``: the ``gdlab`` command (:mod:`gdlab.cli`)."""

import sys

from gdlab.cli import main

sys.exit(main())
