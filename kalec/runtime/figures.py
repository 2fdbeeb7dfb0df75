"""The matplotlib backend of steps (``module://kalec.runtime.figures``): Agg's drawing, with a
``show()`` that records the figures for the run's notebook and closes them, as Jupyter's inline
backend does. Without it a step's ``plt.show()`` would warn and its figures would be lost."""

from matplotlib.backend_bases import FigureManagerBase as FigureManager  # noqa: F401
from matplotlib.backends.backend_agg import FigureCanvasAgg as FigureCanvas  # noqa: F401

from kalec.runtime.cell_outputs import show_figures


def show(*args: object, **kwargs: object) -> None:
    show_figures()
