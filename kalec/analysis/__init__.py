"""Readings of Python code that more than one pass relies on: names, effects, files, hazards.

Imports from kalec: cluster_names, runtime, sized_cache. (The runtime for its names of hidden
state.)
"""
