"""kalec: compile a tagged Jupyter notebook into a pipeline, and run it.

Kept free of imports: every step process imports this package to reach ``kalec.runtime``.
"""

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built JupyterLab extension lies in the package (``jupyter labextension
    develop --overwrite .`` links it into an environment while it is being worked on)."""
    return [{"src": "labextension", "dest": "kalec-labextension"}]
