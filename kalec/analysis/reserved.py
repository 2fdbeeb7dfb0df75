"""Names kalec itself writes into the text it analyses; never a user's variable."""

TIMEIT_SCOPE = "_kalec_timeit_scope"  # the function standing for a %%timeit body's own scope
