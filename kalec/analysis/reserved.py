"""Names kalec itself writes into the text it analyses; never a user's variable."""

from __future__ import annotations

TIMEIT_SCOPE = "_kalec_timeit_scope"  # the function standing for a %%timeit body's own scope


def unique_names(names: list[str] | set[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Each name once, in order, without the names kalec itself writes into the code."""
    return tuple(dict.fromkeys(n for n in names if n != TIMEIT_SCOPE))
