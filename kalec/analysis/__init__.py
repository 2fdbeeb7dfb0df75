"""Readings of Python code that more than one pass relies on: names, effects, files, hazards.

May import the IR, cluster_names and the runtime's names for hidden state; nothing above.
"""
