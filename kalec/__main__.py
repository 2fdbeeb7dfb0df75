"""``python -m kalec`` is the ``kalec`` command."""

from kalec.cli import entry

entry()
