"""``python -m kalec`` is the ``kalec`` command."""

from kalec.cli import entry

if __name__ == "__main__":  # a spawned worker imports this module too, and must not run kalec
    entry()
