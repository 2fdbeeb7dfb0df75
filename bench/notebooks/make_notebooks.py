"""Writes the benchmark notebooks of this folder: six analyses as people write them (textbook
examples of pandas, scikit-learn, statsmodels, SciPy and matplotlib), tagged by section.

Every notebook uses data that ships with its libraries or that it generates with a fixed seed,
so it runs without a network. Run this after editing a notebook here.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def notebook(name: str, cells: list) -> None:
    out = []
    for index, cell in enumerate(cells):
        if isinstance(cell, str):
            out.append({"id": f"c{index}", "cell_type": "markdown", "metadata": {}, "source": cell})
            continue
        tags, source = cell
        out.append(
            {
                "id": f"c{index}",
                "cell_type": "code",
                "execution_count": None,
                "metadata": {"tags": tags},
                "outputs": [],
                "source": source,
            }
        )
    document = {
        "cells": out,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (HERE / name).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


notebook(
    "iris_models.ipynb",
    [
        "# Iris: two classifiers compared",
        (
            ["imports"],
            "import numpy as np\nimport pandas as pd\nfrom sklearn.datasets import load_iris\n"
            "from sklearn.model_selection import train_test_split\n"
            "from sklearn.preprocessing import StandardScaler\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.neighbors import KNeighborsClassifier\n"
            "from sklearn.metrics import accuracy_score, confusion_matrix",
        ),
        (["pipeline-parameters"], "TEST_SIZE = 0.3\nSEED = 42\nNEIGHBORS = 5"),
        "## Load",
        (
            ["block:load"],
            "iris = load_iris(as_frame=True)\ndf = iris.frame\nprint(df.shape)\n"
            "print(df.groupby('target').mean().round(2))",
        ),
        "## Split and scale",
        (
            ["block:split", "prev:load"],
            "X_train, X_test, y_train, y_test = train_test_split(\n"
            "    df[iris.feature_names], df['target'], test_size=TEST_SIZE, random_state=SEED,\n"
            "    stratify=df['target'])\nscaler = StandardScaler().fit(X_train)\n"
            "X_train_s = scaler.transform(X_train)\nX_test_s = scaler.transform(X_test)",
        ),
        "## Logistic regression",
        (
            ["block:logistic", "prev:split"],
            "logistic = LogisticRegression(max_iter=500).fit(X_train_s, y_train)\n"
            "logistic_acc = accuracy_score(y_test, logistic.predict(X_test_s))",
        ),
        "## k nearest neighbours",
        (
            ["block:knn", "prev:split"],
            "knn = KNeighborsClassifier(n_neighbors=NEIGHBORS).fit(X_train_s, y_train)\n"
            "knn_acc = accuracy_score(y_test, knn.predict(X_test_s))",
        ),
        "## Compare",
        (
            ["block:compare", "prev:logistic", "prev:knn"],
            "best = 'logistic' if logistic_acc >= knn_acc else 'knn'\n"
            "print(confusion_matrix(y_test, (logistic if best == 'logistic' else knn)"
            ".predict(X_test_s)))\n"
            "print('RESULT', best, round(logistic_acc, 4), round(knn_acc, 4))",
        ),
        (["pipeline-metrics"], "logistic_acc\nknn_acc"),
    ],
)

notebook(
    "diabetes_regression.ipynb",
    [
        "# Diabetes progression: linear models with cross-validation",
        (
            ["imports"],
            "import numpy as np\nimport pandas as pd\nfrom sklearn.datasets import load_diabetes\n"
            "from sklearn.linear_model import LinearRegression, RidgeCV, LassoCV\n"
            "from sklearn.model_selection import cross_val_score, KFold",
        ),
        (["pipeline-parameters"], "FOLDS = 5\nSEED = 0"),
        (
            ["block:load"],
            "data = load_diabetes(as_frame=True)\nX, y = data.data, data.target\n"
            "print(X.describe().loc[['mean', 'std']].round(3))",
        ),
        (
            ["block:correlations", "prev:load"],
            "corr = X.assign(target=y).corr()['target'].drop('target').sort_values()\n"
            "print(corr.round(3))",
        ),
        (
            ["block:models", "prev:load"],
            "folds = KFold(FOLDS, shuffle=True, random_state=SEED)\nscores = {}\n"
            "for name, model in [('ols', LinearRegression()),\n"
            "                    ('ridge', RidgeCV(alphas=np.logspace(-3, 3, 13))),\n"
            "                    ('lasso', LassoCV(cv=3, random_state=SEED))]:\n"
            "    scores[name] = cross_val_score(model, X, y, cv=folds, scoring='r2').mean()",
        ),
        (
            ["block:report", "prev:models", "prev:correlations"],
            "table = pd.Series(scores).sort_values(ascending=False)\nprint(table.round(4))\n"
            "top_feature = corr.abs().idxmax()\nbest_r2 = float(table.iloc[0])\n"
            "print('RESULT', table.index[0], round(best_r2, 4), top_feature)",
        ),
        (["pipeline-metrics"], "best_r2"),
    ],
)

notebook(
    "sales_timeseries.ipynb",
    [
        "# Daily sales: resampling, rolling means and a seasonal summary",
        (["imports"], "import numpy as np\nimport pandas as pd"),
        (["pipeline-parameters"], "DAYS = 730\nWINDOW = 28\nSEED = 3"),
        (
            ["block:generate"],
            "rng = np.random.default_rng(SEED)\n"
            "dates = pd.date_range('2023-01-01', periods=DAYS, freq='D')\n"
            "season = 100 + 20 * np.sin(2 * np.pi * dates.dayofyear / 365.25)\n"
            "sales = "
            "pd.DataFrame({'date': dates, 'store': rng.choice(['north', 'south', 'east'], DAYS),\n"
            "                      'units': rng.poisson(season)})",
        ),
        (
            ["block:monthly", "prev:generate"],
            "monthly = sales.set_index('date').groupby('store')['units'].resample('MS').sum()\n"
            "monthly = monthly.unstack(0)\nprint(monthly.head())",
        ),
        (
            ["block:rolling", "prev:generate"],
            "daily = sales.groupby('date')['units'].sum()\n"
            "rolling = daily.rolling(WINDOW, min_periods=1).mean()\n"
            "peak_day = rolling.idxmax()",
        ),
        (
            ["block:summary", "prev:monthly", "prev:rolling"],
            "by_quarter = sales.assign(q=sales['date'].dt.quarter).pivot_table(\n"
            "    index='q', columns='store', values='units', aggfunc='mean')\n"
            "print(by_quarter.round(1))\n"
            "total_units = int(monthly.to_numpy().sum())\n"
            "print('RESULT', total_units, peak_day.date(), round(float(rolling.max()), 2))",
        ),
        (["pipeline-metrics"], "total_units"),
    ],
)

notebook(
    "digits_pca_svm.ipynb",
    [
        "# Handwritten digits: PCA, a support vector machine, and a figure",
        (
            ["imports"],
            "import numpy as np\nimport matplotlib\nimport matplotlib.pyplot as plt\n"
            "from sklearn.datasets import load_digits\nfrom sklearn.decomposition import PCA\n"
            "from sklearn.svm import SVC\nfrom sklearn.model_selection import train_test_split\n"
            "from sklearn.metrics import classification_report, accuracy_score",
        ),
        (["pipeline-parameters"], "COMPONENTS = 30\nC = 5.0\nSEED = 1"),
        (
            ["block:load"],
            "digits = load_digits()\nX_train, X_test, y_train, y_test = train_test_split(\n"
            "    digits.data, digits.target, test_size=0.25, random_state=SEED)",
        ),
        (
            ["block:reduce", "prev:load"],
            "pca = PCA(n_components=COMPONENTS, random_state=SEED).fit(X_train)\n"
            "Z_train, Z_test = pca.transform(X_train), pca.transform(X_test)\n"
            "explained = float(pca.explained_variance_ratio_.sum())",
        ),
        (
            ["block:plot", "prev:reduce"],
            "fig, ax = plt.subplots(figsize=(5, 3))\n"
            "ax.plot(np.cumsum(pca.explained_variance_ratio_))\n"
            "ax.set_xlabel('components'); ax.set_ylabel('explained variance')\n"
            "fig.savefig('digits_variance.png', dpi=80)\nplt.close(fig)",
        ),
        (
            ["block:classify", "prev:reduce"],
            "svm = SVC(C=C, gamma='scale').fit(Z_train, y_train)\npredicted = svm.predict(Z_test)\n"
            "accuracy = accuracy_score(y_test, predicted)\n"
            "print(classification_report(y_test, predicted, digits=3))\n"
            "print('RESULT', round(accuracy, 4), round(explained, 4))",
        ),
        (["pipeline-metrics"], "accuracy"),
    ],
)

notebook(
    "wages_ols.ipynb",
    [
        "# Wages: ordinary least squares with statsmodels",
        (
            ["imports"],
            "import numpy as np\nimport pandas as pd\nimport statsmodels.api as sm\n"
            "import statsmodels.formula.api as smf",
        ),
        (["pipeline-parameters"], "N = 2000\nSEED = 11"),
        (
            ["block:simulate"],
            "rng = np.random.default_rng(SEED)\neducation = rng.integers(8, 21, N)\n"
            "experience = rng.integers(0, 40, N)\nfemale = rng.integers(0, 2, N)\n"
            "log_wage = (1.2 + 0.08 * education + 0.03 * experience - 0.0005 * experience ** 2\n"
            "            - 0.15 * female + rng.normal(0, 0.4, N))\n"
            "wages = pd.DataFrame(dict(log_wage=log_wage, education=education,\n"
            "                          experience=experience, female=female))",
        ),
        (
            ["block:fit", "prev:simulate"],
            "model = smf.ols('log_wage ~ education + experience + I(experience**2) + female',\n"
            "                data=wages).fit(cov_type='HC1')\nprint(model.summary().tables[1])",
        ),
        (
            ["block:diagnose", "prev:fit"],
            "residuals = model.resid\n"
            "jb_stat, jb_p, _, _ = sm.stats.jarque_bera(residuals)\n"
            "return_to_school = float(model.params['education'])\n"
            "r_squared = float(model.rsquared)\n"
            "print('RESULT', round(return_to_school, 4), round(r_squared, 4), jb_p > 0.01)",
        ),
        (["pipeline-metrics"], "r_squared"),
    ],
)

notebook(
    "monte_carlo.ipynb",
    [
        "# Monte Carlo: pricing an option and checking it against the formula",
        (
            ["imports"],
            "import math\nimport numpy as np\nfrom scipy import stats",
        ),
        (
            ["pipeline-parameters"],
            "S0 = 100.0\nSTRIKE = 105.0\nRATE = 0.03\nVOL = 0.2\nYEARS = 1.0\nPATHS = 400000\n"
            "SEED = 5",
        ),
        (
            ["block:simulate"],
            "rng = np.random.default_rng(SEED)\nz = rng.standard_normal(PATHS)\n"
            "terminal = S0 * np.exp((RATE - VOL ** 2 / 2) * YEARS + VOL * math.sqrt(YEARS) * z)",
        ),
        (
            ["block:price", "prev:simulate"],
            "payoff = np.maximum(terminal - STRIKE, 0) * math.exp(-RATE * YEARS)\n"
            "mc_price = float(payoff.mean())\n"
            "stderr = float(payoff.std(ddof=1) / math.sqrt(PATHS))",
        ),
        (
            ["block:formula"],
            "d1 = (math.log(S0 / STRIKE) + (RATE + VOL ** 2 / 2) * YEARS) / (VOL * "
            "math.sqrt(YEARS))\n"
            "d2 = d1 - VOL * math.sqrt(YEARS)\n"
            "bs_price = S0 * stats.norm.cdf(d1) - STRIKE * math.exp(-RATE * YEARS) * "
            "stats.norm.cdf(d2)",
        ),
        (
            ["block:check", "prev:price", "prev:formula"],
            "gap = abs(mc_price - bs_price)\n"
            "print('RESULT', round(mc_price, 3), round(float(bs_price), 3), gap < 4 * stderr)",
        ),
        (["pipeline-metrics"], "mc_price"),
    ],
)

notebook(
    "breast_cancer_classifiers.ipynb",
    [
        "# Breast cancer: five classifiers, each section importing its own model",
        (
            ["imports"],
            "import numpy as np\nfrom sklearn.datasets import load_breast_cancer\n"
            "from sklearn.model_selection import train_test_split",
        ),
        (["pipeline-parameters"], "SEED = 0\nTEST_SIZE = 0.25"),
        "## Data",
        (
            ["block:data"],
            "X, y = load_breast_cancer(return_X_y=True)\n"
            "X_train, X_test, y_train, y_test = train_test_split(\n"
            "    X, y, test_size=TEST_SIZE, random_state=SEED, stratify=y)\n"
            "print(X_train.shape, X_test.shape)",
        ),
        "## Random forest",
        (
            ["block:forest", "prev:data"],
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.metrics import accuracy_score\n"
            "forest = RandomForestClassifier(n_estimators=50, random_state=SEED)\n"
            "forest_acc = accuracy_score(y_test, forest.fit(X_train, y_train).predict(X_test))",
        ),
        "## Gradient boosting",
        (
            ["block:boosting", "prev:data"],
            "from sklearn.ensemble import HistGradientBoostingClassifier\n"
            "from sklearn.metrics import accuracy_score\n"
            "boosting = HistGradientBoostingClassifier(max_iter=50, random_state=SEED)\n"
            "boosting_acc = accuracy_score(y_test, boosting.fit(X_train, y_train).predict(X_test))",
        ),
        "## Support vectors",
        (
            ["block:svm", "prev:data"],
            "from sklearn.pipeline import make_pipeline\n"
            "from sklearn.preprocessing import StandardScaler\n"
            "from sklearn.svm import SVC\nfrom sklearn.metrics import accuracy_score\n"
            "svm = make_pipeline(StandardScaler(), SVC(C=1.0))\n"
            "svm_acc = accuracy_score(y_test, svm.fit(X_train, y_train).predict(X_test))",
        ),
        "## Naive Bayes",
        (
            ["block:bayes", "prev:data"],
            "from sklearn.naive_bayes import GaussianNB\n"
            "from sklearn.metrics import accuracy_score\n"
            "bayes_acc = accuracy_score(y_test, GaussianNB().fit(X_train, "
            "y_train).predict(X_test))",
        ),
        "## Decision tree",
        (
            ["block:tree", "prev:data"],
            "from sklearn.tree import DecisionTreeClassifier\n"
            "from sklearn.metrics import accuracy_score\n"
            "tree = DecisionTreeClassifier(max_depth=4, random_state=SEED)\n"
            "tree_acc = accuracy_score(y_test, tree.fit(X_train, y_train).predict(X_test))",
        ),
        "## Compare",
        (
            [
                "block:compare",
                "prev:forest",
                "prev:boosting",
                "prev:svm",
                "prev:bayes",
                "prev:tree",
            ],
            "scores = {'forest': forest_acc, 'boosting': boosting_acc, 'svm': svm_acc,\n"
            "          'bayes': bayes_acc, 'tree': tree_acc}\n"
            "best = max(scores, key=scores.get)\n"
            "print('RESULT', best, {k: round(v, 4) for k, v in sorted(scores.items())})",
        ),
        (["pipeline-metrics"], "forest_acc\nsvm_acc"),
    ],
)
