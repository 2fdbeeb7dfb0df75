"""``python -m kalec`` is the ``kalec`` command."""

import sys

from kalec.cli import main

sys.exit(main())
