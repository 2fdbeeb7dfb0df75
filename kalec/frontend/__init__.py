"""Notebook file -> cells with parsed tags and runnable Python (magics turned into calls).

Imports from kalec: analysis, cluster_names, diagnostics, errors, ir, startup_cache.
"""
