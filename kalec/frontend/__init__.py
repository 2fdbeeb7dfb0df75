"""Notebook file -> cells with parsed tags and runnable Python (magics turned into calls).

May import the IR, the diagnostics catalogue, cluster_names and the startup cache; nothing above.
"""
