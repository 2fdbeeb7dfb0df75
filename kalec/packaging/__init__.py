"""What a step needs besides its cells: the packages its imports need, pinned to the versions
installed here; the notebook's local modules; kalec's runtime as an archive to embed.

May import the IR and analysis; read by the targets and the local runner, never running code.
"""
