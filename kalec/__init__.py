"""kalec: compile a tagged Jupyter notebook into a pipeline, and run it.

Kept free of imports: every step process imports this package to reach ``kalec.runtime``.
"""

__version__ = "0.1.0"
