"""Readings of Python code that more than one pass relies on."""
