"""What a step needs besides its cells: the packages its imports need, pinned to the versions
installed here; the notebook's local modules; kalec's runtime as an archive to embed.

Imports from kalec: analysis, ir, runtime, sized_cache, startup_cache. Read by the targets and
the local runner, never running code.
"""
