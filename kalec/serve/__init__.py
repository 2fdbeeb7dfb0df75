"""kalec over HTTP. The service (``service``: plain functions of a ``ServiceContext`` and a
typed request) answers with the shapes declared in ``answers``; requests are read and checked
once, from the record types in ``requests``, by one table of endpoints (``endpoints``); runs
and searches go on in the background (``background``, ``tunes``); what one server holds (its
limits, caches, runs) is its ``context``. Two adapters serve the table: the Flask application
``kalec serve`` runs (``app``) and the Jupyter Server extension's handlers (``jupyter``).

Imports from kalec: kalec, cluster_names, compiler, deploy, errors, frontend, graph, ir, local,
params, report, searchspace, sized_cache, targets, tune. Only the CLI imports it. Flask and
Jupyter are imported by their adapters alone.
"""
