"""Readings of Python code that the passes rely on: names, effects, files, hazards, a cell's
reading as a whole (``cell_reader``) and the names pyflakes finds free (``undefined_names``),
and those readings kept between commands (``kept_readings``).

Imports from kalec: kalec, cluster_names, ir, runtime, sized_cache, startup_cache. (The runtime
for its names of hidden state; the IR for the cell's facts a reading is; the start-up cache's
folder for the kept readings, and kalec's version among what decides them.)
"""
