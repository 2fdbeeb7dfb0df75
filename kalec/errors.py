"""The one base of kalec's own errors: the user's input cannot be honoured (exit 2).

Each says what is wrong and what to do in its message; the command line prints it in one line.
A Python exception that is not a ``KalecError`` is a bug in kalec (exit 3). The step runtime,
which ships without the compiler, has its own (``kalec.runtime.marshal.MarshalError``).
"""

from __future__ import annotations


class KalecError(Exception):
    """Bad input, refused with a message: a notebook, a target, an option, a folder."""
