"""kalec over HTTP: the service (plain functions over a notebook as JSON), one table of
endpoints, background runs, and its two adapters: the Flask application ``kalec serve`` runs and
the Jupyter Server extension's handlers.

May import the compiler, targets, the local runner, params, report, graph and deploy; only the
CLI imports it. Flask and Jupyter are imported by their adapters alone.
"""
