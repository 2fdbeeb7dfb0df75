"""Fitting helpers that train.ipynb imports: kalec ships this module with its steps."""

import statistics


def line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    return statistics.linear_regression(xs, ys)


def constant(ys: list[float]) -> float:
    """The best constant prediction: the mean."""
    return statistics.mean(ys)
