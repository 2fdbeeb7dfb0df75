"""Writes the example notebooks of this folder (run it after editing them here)."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def notebook(cells: list, name: str, metadata: dict | None = None) -> None:
    out = []
    for index, cell in enumerate(cells):
        if isinstance(cell, str):
            out.append(
                {"id": f"cell-{index}", "cell_type": "markdown", "metadata": {}, "source": cell}
            )
        else:
            tags, source, *extra = cell
            meta = {"tags": tags} if tags else {}
            meta.update(extra[0] if extra else {})
            out.append(
                {
                    "id": f"cell-{index}",
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": meta,
                    "outputs": [],
                    "source": source,
                }
            )
    document = {
        "cells": out,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            **(metadata or {}),
        },
    }
    (HERE / name).parent.mkdir(parents=True, exist_ok=True)
    (HERE / name).write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


notebook(
    [
        "# Quickstart\n\n"
        "Fit a line to noisy points, in four steps. Only the standard library is used, "
        "so this runs right after `pip install -e .`:\n\n"
        "    kalec run --local examples/quickstart.ipynb",
        (["imports"], "import random\nimport statistics"),
        (["pipeline-parameters"], "N_POINTS = 200\nNOISE = 0.5\nSEED = 7"),
        "## Make data",
        (
            ["block:make-data"],
            "rng = random.Random(SEED)\nxs = [rng.uniform(0, 10) for _ in range(N_POINTS)]\n"
            "ys = [3.0 * x + 2.0 + rng.gauss(0, NOISE) for x in xs]",
        ),
        "## Split into train and test (two independent steps read the data)",
        (
            ["block:fit", "prev:make-data"],
            "slope, intercept = statistics.linear_regression(xs[:150], ys[:150])\n"
            "print(f'fitted y = {slope:.3f} x + {intercept:.3f}')",
        ),
        (["block:baseline", "prev:make-data"], "baseline = statistics.mean(ys[:150])"),
        "## Evaluate",
        (
            ["block:evaluate", "prev:fit;baseline"],
            "def mse(predict):\n"
            "    return statistics.mean((predict(x) - y) ** 2 "
            "for x, y in zip(xs[150:], ys[150:]))\n\n"
            "model_mse = mse(lambda x: slope * x + intercept)\n"
            "baseline_mse = mse(lambda x: baseline)\n"
            "improvement = baseline_mse / model_mse\n"
            "print('RESULT model beats baseline', model_mse < baseline_mse)",
        ),
        (["pipeline-metrics"], "model_mse\nimprovement"),
    ],
    "quickstart.ipynb",
    {"kalec": {"name": "quickstart", "description": "Fit a line, compare to a baseline"}},
)

notebook(
    [
        "# Sales report with pandas\n\n"
        "A Kale-style notebook (`kubeflow_notebook` metadata, `block:` and "
        "`prev:` tags). The `clean` step changes the frame in place (a new column), so kalec "
        "passes "
        "the changed frame on to `report`.",
        (["imports"], "import numpy as np\nimport pandas as pd"),
        (
            ["functions"],
            "def summarize(frame, column):\n"
            "    return frame.groupby('region')[column].sum().round(2).to_dict()",
        ),
        (["pipeline-parameters"], "DAYS = 90\nDISCOUNT = 0.1"),
        (
            ["block:load"],
            "rng = np.random.default_rng(0)\nsales = pd.DataFrame({\n"
            "    'region': rng.choice(['north', 'south', 'east'], DAYS),\n"
            "    'units': rng.integers(1, 20, DAYS).astype(float),\n"
            "    'price': rng.uniform(5, 15, DAYS).round(2),\n})\n"
            "sales.loc[::10, 'units'] = np.nan",
        ),
        (
            ["block:clean", "prev:load"],
            "sales['units'] = sales['units'].fillna(0)\n"
            "sales['revenue'] = sales['units'] * sales['price'] * (1 - DISCOUNT)",
        ),
        (
            ["block:report", "prev:clean"],
            "totals = summarize(sales, 'revenue')\ntotal_revenue = round(sum(totals.values()), 2)\n"
            "print('RESULT rows', len(sales))\nprint('RESULT regions', sorted(totals))",
        ),
        (["pipeline-metrics"], "total_revenue"),
    ],
    "pandas_report.ipynb",
    {
        "kubeflow_notebook": {
            "pipeline_name": "sales-report",
            "pipeline_description": "Weekly sales report",
            "docker_image": "python:3.11-slim",
        }
    },
)

# A composition: three notebooks a data scientist ran by hand in order, and the one that
# references them (Kale 2.3's format: a cell tagged notebook:NAME with notebook_path).
notebook(
    [
        "# Prepare\n\nMakes noisy points on a line and splits them. Referenced by "
        "`pipeline.ipynb`; it also runs on its own.",
        (["imports"], "import random"),
        (["pipeline-parameters"], "N_POINTS = 200\nSEED = 1"),
        (
            ["block:make-data"],
            "rng = random.Random(SEED)\nxs = [rng.uniform(0, 10) for _ in range(N_POINTS)]\n"
            "ys = [3.0 * x + 2.0 + rng.gauss(0, 0.5) for x in xs]",
        ),
        (
            ["block:split", "prev:make-data"],
            "cut = int(len(xs) * 0.75)\ntrain_x, test_x = xs[:cut], xs[cut:]\n"
            "train_y, test_y = ys[:cut], ys[cut:]\n"
            "print('RESULT split', len(train_x), len(test_x))",
        ),
    ],
    "compose/prepare.ipynb",
)
notebook(
    [
        "# Train\n\nFits a line and a constant baseline; `fitting.py` beside this notebook "
        "does the work. Reads the split that `prepare.ipynb` makes.",
        (["imports"], "import fitting"),
        (
            ["block:fit"],
            "slope, intercept = fitting.line(train_x, train_y)\n"
            "print(f'RESULT fitted y = {slope:.3f} x + {intercept:.3f}')",
        ),
        (["block:baseline"], "baseline = fitting.constant(train_y)"),
    ],
    "compose/models/train.ipynb",
)
notebook(
    [
        "# Evaluate\n\nCompares the fitted line with the baseline on the test points.",
        (["imports"], "import statistics"),
        (
            ["functions"],
            "def mse(predict, xs, ys):\n"
            "    return statistics.mean((predict(x) - y) ** 2 for x, y in zip(xs, ys))",
        ),
        (
            ["block:evaluate"],
            "model_mse = mse(lambda x: slope * x + intercept, test_x, test_y)\n"
            "baseline_mse = mse(lambda x: baseline, test_x, test_y)\n"
            "print('RESULT model beats baseline', model_mse < baseline_mse)",
        ),
        (["pipeline-metrics"], "model_mse"),
    ],
    "compose/evaluate.ipynb",
)
notebook(
    [
        "# A pipeline of three notebooks\n\nEach `notebook:` cell stands for a notebook; "
        "kalec runs their steps as one pipeline, passing `train_x`, `slope` and the rest "
        "between them as a top-to-bottom run of the three would:\n\n"
        "    kalec run --local examples/compose/pipeline.ipynb",
        (["pipeline-parameters"], "SEED = 7"),
        (["notebook:prepare"], "", {"notebook_path": "prepare.ipynb"}),
        (["notebook:train"], "", {"notebook_path": "models/train.ipynb"}),
        (["notebook:evaluate"], "", {"notebook_path": "evaluate.ipynb"}),
        (
            ["block:summary"],
            "improvement = baseline_mse / model_mse\n"
            "print('RESULT improvement', round(improvement, 1))",
        ),
        (["pipeline-metrics"], "improvement"),
    ],
    "compose/pipeline.ipynb",
    {"kalec": {"name": "composed", "description": "Prepare, train, evaluate: three notebooks"}},
)

# Tuning: a scikit-learn notebook whose search space is in its metadata (Katib's fields, as Kale
# writes them); `kalec tune examples/tune_digits.ipynb` loads and splits the data once.
notebook(
    [
        "# Tuning a classifier\n\nThe search space is in the notebook's metadata (Katib's "
        "fields); `kalec tune` loads and splits the data once and trains once per trial:\n\n"
        "    kalec tune examples/tune_digits.ipynb",
        (
            ["imports"],
            "from sklearn.datasets import load_digits\n"
            "from sklearn.model_selection import train_test_split\nfrom sklearn.svm import SVC",
        ),
        (["pipeline-parameters"], "C = 1.0\nGAMMA = 0.001\nKERNEL = 'rbf'"),
        (
            ["block:load"],
            "digits = load_digits()\nX_train, X_test, y_train, y_test = train_test_split(\n"
            "    digits.data, digits.target, test_size=0.3, random_state=0)",
        ),
        (
            ["block:train", "prev:load"],
            "model = SVC(C=C, gamma=GAMMA, kernel=KERNEL).fit(X_train, y_train)\n"
            "accuracy = model.score(X_test, y_test)\nprint('RESULT accuracy', round(accuracy, 4))",
        ),
        (["pipeline-metrics"], "accuracy"),
    ],
    "tune_digits.ipynb",
    {
        "kalec": {"name": "tune-digits"},
        "kubeflow_notebook": {
            "katib_run": True,
            "katib_metadata": {
                "parameters": [
                    {
                        "name": "C",
                        "parameterType": "double",
                        "feasibleSpace": {"min": "0.1", "max": "100", "distribution": "logUniform"},
                    },
                    {
                        "name": "GAMMA",
                        "parameterType": "double",
                        "feasibleSpace": {
                            "min": "0.0001",
                            "max": "0.01",
                            "distribution": "logUniform",
                        },
                    },
                    {
                        "name": "KERNEL",
                        "parameterType": "categorical",
                        "feasibleSpace": {"list": ["rbf", "linear"]},
                    },
                ],
                "objective": {"type": "maximize", "objectiveMetricName": "accuracy", "goal": 0.995},
                "algorithm": {"algorithmName": "tpe"},
                "maxTrialCount": 12,
                "parallelTrialCount": 1,
                "maxFailedTrialCount": 3,
            },
        },
    },
)
