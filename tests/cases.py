"""Notebooks whose pipeline run must print what their top-to-bottom kernel run prints.

Each case is a list of cells: (tags, source), or a string for a markdown cell. One case per
data-flow situation the compiler must get right; tests/test_equivalence.py runs each both ways.
"""

B = "block:"

GOOD: dict[str, list] = {
    "redefinition": [
        ([B + "a"], "x = 1"),
        ([B + "b", "prev:a"], "x = x + 10"),
        ([B + "c", "prev:b"], "x = x * 2\nprint('RESULT x', x)"),
        ([B + "d", "prev:c"], "print('RESULT final', x)"),
    ],
    "mutation_kinds": [
        (
            [B + "make"],
            "items = [3, 1, 2]\nconf = {'k': 0}\nclass Box: pass\nbox = Box()\nbox.v = 1\n"
            "counts = {'n': 0}\ntotal = 0",
        ),
        (
            [B + "change", "prev:make"],
            "items.sort()\nitems.append(9)\nconf['k'] = 5\nbox.v += 1\n"
            "counts['n'] += 3\ntotal += 7\ndel conf['k']\nconf.update(z=1)",
        ),
        ([B + "show", "prev:change"], "print('RESULT', items, conf, box.v, counts, total)"),
    ],
    "del_and_rebind": [
        ([B + "a"], "tmp = 5\nkeep = tmp * 2\ndel tmp"),
        ([B + "b", "prev:a"], "tmp = 'again'\nprint('RESULT', keep, tmp)"),
    ],
    "comprehension_scope": [
        (
            [B + "a"],
            "i = 100\nsquares = [i * i for i in range(4)]\n"
            "lookup = {k: v for k, v in zip('ab', (1, 2))}",
        ),
        ([B + "b", "prev:a"], "print('RESULT', i, squares, lookup, sum(v for v in squares))"),
    ],
    "function_reads_globals": [
        (["functions"], "def scaled(v):\n    return v * FACTOR + offset"),
        (["pipeline-parameters"], "FACTOR = 3"),
        ([B + "a"], "offset = 0.5"),
        ([B + "b", "prev:a"], "print('RESULT', scaled(2))"),
    ],
    "step_function_passed_on": [
        (
            [B + "a"],
            "import math\nbase = 10\ndef grow(v):\n    return math.floor(v * base / 3)\n"
            "shift = lambda v: v - base",
        ),
        ([B + "b", "prev:a"], "print('RESULT', grow(7), shift(1))"),
    ],
    "class_in_step": [
        (
            [B + "a"],
            "class Acc:\n    def __init__(self):\n        self.items = []\n"
            "    def push(self, v):\n        self.items.append(v)\n        return self\n"
            "    def add_many(self, vs):\n        for v in vs:\n            self.push(v)\n"
            "acc = Acc().push(1)",
        ),
        ([B + "b", "prev:a"], "acc.add_many([2, 3])"),
        ([B + "c", "prev:b"], "print('RESULT', acc.items, type(acc).__name__)"),
    ],
    "data_dependency_added": [
        ([B + "a"], "x = 2"),
        ([B + "b"], "y = 3"),
        ([B + "c", "prev:b"], "print('RESULT', x + y)"),
    ],
    "shared_cell_two_steps": [
        ([B + "root"], "base = 4"),
        ([B + "left;right", "prev:root"], "offset = base + 1"),
        ([B + "left"], "l = offset * 2"),
        ([B + "right"], "r = offset * 3"),
        ([B + "join", "prev:left;right"], "print('RESULT', l, r, offset)"),
    ],
    "untagged_cells_continue": [
        (["imports"], "import json"),
        ([], "import collections"),
        ([B + "a"], "c = collections.Counter('hello')"),
        ([], "top = c.most_common(1)"),
        ([B + "b", "prev:a"], "print('RESULT', json.dumps(top))"),
    ],
    "no_tags": [
        ([], "a = 1"),
        "# just markdown",
        ([], "b = a + 1\nprint('RESULT', a, b)"),
    ],
    "skip_cells": [
        ([B + "a"], "x = 1"),
        (["skip"], "x = 1000\nprint('RESULT skipped')"),
        ([B + "b", "prev:a"], "print('RESULT', x)"),
    ],
    "loop_and_with_targets": [
        (
            [B + "a"],
            "import io\nfor i, ch in enumerate('abc'):\n    pass\nwith io.StringIO('hi') as f:\n"
            "    text = f.read()",
        ),
        ([B + "b", "prev:a"], "print('RESULT', i, ch, text)"),
    ],
    "walrus_and_global": [
        (
            [B + "a"],
            "counter = 0\ndef bump():\n    global counter\n    counter += 1\n"
            "if (n := 3) > 2:\n    big = True",
        ),
        ([B + "b", "prev:a"], "bump()\nbump()"),
        ([B + "c", "prev:b"], "print('RESULT', counter, n, big)"),
    ],
    "imports_in_steps": [
        (
            [B + "a"],
            "import statistics as st\nfrom collections import OrderedDict\nvals = [1, 2, 3, 4]",
        ),
        ([B + "b", "prev:a"], "print('RESULT', st.median(vals), list(OrderedDict(a=1)))"),
    ],
    "numpy_values": [
        (["imports"], "import numpy as np"),
        (
            [B + "a"],
            "rng = np.random.default_rng(7)\narr = rng.normal(size=(3, 2)).astype('float32')\n"
            "ints = np.arange(6).reshape(2, 3)",
        ),
        ([B + "b", "prev:a"], "arr[0, 0] = 1.5\nextra = rng.integers(0, 100, 3)"),
        (
            [B + "c", "prev:b"],
            "print('RESULT', arr.dtype, arr.shape, round(float(arr.sum()), 4), ints.T.tolist(), "
            "extra.tolist())",
        ),
    ],
    "pandas_inplace": [
        (["imports"], "import pandas as pd"),
        ([B + "a"], "df = pd.DataFrame({'a': [1, None, 3], 'b': ['x', 'y', 'z']}).set_index('b')"),
        (
            [B + "b", "prev:a"],
            "df.dropna(inplace=True)\ndf['c'] = df['a'] * 2\ndf.loc['x', 'a'] = 10",
        ),
        ([B + "c", "prev:b"], "print('RESULT', df.to_dict(), list(df.index), str(df['a'].dtype))"),
    ],
    "parameters_typed": [
        (
            ["pipeline-parameters"],
            "N = 3\nRATE = 0.5\nNAME = 'run'\nFLAG = True\nSIZES = [1, 2]\nOPTS = {'k': 'v'}",
        ),
        ([B + "a"], "out = [NAME] * N\nprint('RESULT', out, RATE * 2, FLAG, SIZES, OPTS)"),
    ],
    "metrics_reported": [
        ([B + "train"], "accuracy = 0.75\nloss = 0.25"),
        ([B + "report", "prev:train"], "print('RESULT', accuracy + loss)"),
        (["pipeline-metrics"], "print(accuracy)\nloss"),
    ],
    "magics_and_shell": [
        (["imports"], "%matplotlib inline\nimport os"),
        (
            [B + "a"],
            "word = 'shell'\n!echo RESULT from-{word}\n%env KALEC_CASE=7\n"
            "here = os.environ['KALEC_CASE']",
        ),
        ([B + "b", "prev:a"], "%%capture cap\nprint('hidden')\ny = int(here) + 1"),
        ([B + "c", "prev:b"], "print('RESULT', here, y, 'hidden' in cap.stdout)"),
    ],
    "display_and_last_expression": [
        ([B + "a"], "v = {'k': [1, 2]}\nv"),
        ([B + "b", "prev:a"], "display('RESULT displayed')\n'RESULT last'"),
        ([B + "c", "prev:b"], "'RESULT hidden';"),
    ],
    "prelude_value_changed_by_step": [
        (["functions"], "settings = {'mode': 'default'}\nTHRESHOLD = 0.5"),
        ([B + "a"], "settings['mode'] = 'tuned'\nTHRESHOLD = 0.9"),
        ([B + "b", "prev:a"], "print('RESULT', settings, THRESHOLD)"),
    ],
    "parallel_branches_merge": [
        ([B + "root"], "data = list(range(10))"),
        ([B + "evens", "prev:root"], "evens = [d for d in data if d % 2 == 0]"),
        ([B + "odds", "prev:root"], "odds = [d for d in data if d % 2]"),
        ([B + "merge", "prev:evens;odds"], "print('RESULT', sum(evens), sum(odds), len(data))"),
    ],
    "unicode_and_quotes": [
        (
            [B + "a"],
            's = """tri\'ple \\"\\"\\" and \'\'\' """\n'
            "emoji = '✓ 東京 \\N{GREEK SMALL LETTER ALPHA}'\nraw = r'\\d+\\\\'",
        ),
        ([B + "b", "prev:a"], "print('RESULT', len(s), emoji, raw)"),
    ],
    "kale_metadata_and_step_synonym": [
        (["step:first"], "v = 41"),
        (["step:second", "prev:first"], "print('RESULT', v + 1)"),
    ],
    "function_mutates_argument": [
        (["functions"], "def add_row(rows, row):\n    rows.append(row)"),
        ([B + "a"], "rows = []"),
        ([B + "b", "prev:a"], "add_row(rows, 1)\nadd_row(row=2, rows=rows)"),
        ([B + "c", "prev:b"], "print('RESULT', rows)"),
    ],
    # libraries that draw from numpy's generator with no seed of their own (a forest's fit):
    # the state travels between them in the notebook's order
    # a helper called before the step binds again what it reads: at the call it reads the
    # notebook's value from before (an earlier step's)
    "called_before_rebound": [
        ([B + "a"], "from math import sqrt\nx = 4"),
        (
            [B + "b", "prev:a"],
            "def f():\n    return sqrt(x)\n\nprint('RESULT first', f())\n"
            "from math import sqrt\nx = 9\nprint('RESULT then', f())",
        ),
    ],
    "implicit_draws": [
        (
            ["imports"],
            "import numpy as np\nfrom sklearn.datasets import load_iris\n"
            "from sklearn.ensemble import RandomForestClassifier\nnp.random.seed(0)",
        ),
        ([B + "data"], "X, y = load_iris(return_X_y=True)\nnoise = np.random.rand(2)"),
        (
            [B + "first", "prev:data"],
            "a = RandomForestClassifier(n_estimators=3).fit(X, y)\n"
            "print('RESULT first', a.estimators_[0].tree_.threshold[:4].round(3).tolist())",
        ),
        (
            [B + "second", "prev:data"],
            "b = RandomForestClassifier(n_estimators=3).fit(X, y)\n"
            "print('RESULT second', b.estimators_[0].tree_.threshold[:4].round(3).tolist())",
        ),
        ([B + "last", "prev:data"], "print('RESULT last', np.random.rand(2).round(4).tolist())"),
    ],
}

# Notebooks that must be refused at compile time: (cells, words the message must contain); the
# code of the diagnostic each must give is in BAD_CODES.
BAD: dict[str, tuple[list, list[str]]] = {
    "cycle": ([([B + "a", "prev:b"], "x = 1"), ([B + "b", "prev:a"], "y = 2")], ["cycle"]),
    "unknown_prev": (
        [([B + "a", "prev:loda"], "x = 1"), ([B + "load"], "y = 1")],
        ["prev:loda", "did you mean prev:load"],
    ),
    "undefined": ([([B + "a"], "y = missing + 1")], ["missing", "not defined", "cell 1"]),
    "used_before_defined": (
        [([B + "a"], "print(later)"), ([B + "b"], "later = 1")],
        ["later", "cell 2"],
    ),
    "overwritten_after_read": (
        [([B + "a"], "w = 1"), ([B + "b", "prev:a"], "print(w)"), ([B + "a"], "w = 2")],
        ["w", "cell 3"],
    ),
    "syntax": ([([B + "a"], "x = (1,")], ["syntax error", "cell 1"]),
    "malformed_limit": (
        [([B + "a", "limit:gpu"], "x = 1")],
        ["limit:gpu", "limit:RESOURCE:QUANTITY"],
    ),
    "typo_in_a_tag": ([(["blok:a"], "x = 1"), ([B + "b"], "print(x)")], ["did you mean 'block:a'"]),
    "bad_parameter": (
        [(["pipeline-parameters"], "N = compute()"), ([B + "a"], "print(N)")],
        ["constant", "calls a function"],
    ),
    "prelude_reads_step_value": (
        [(["functions"], "y = x + 1"), ([B + "a"], "x = 1")],
        ["x", "every step"],
    ),
    "unpicklable_generator": (
        [([B + "a"], "gen = (i for i in range(3))"), ([B + "b", "prev:a"], "print(list(gen))")],
        ["generator", "gen"],
    ),
    "conflicting_roles": ([(["imports", "block:a"], "import os")], ["different kinds"]),
    "deleted_then_read": (
        [([B + "a"], "t = 1"), ([B + "b", "prev:a"], "del t"), ([B + "c", "prev:b"], "print(t)")],
        ["t", "deleted"],
    ),
}

# Sections of a textbook notebook reuse X, y and model; tagged by section, without prev:. Each
# reader gets the value of the last cell before it that set the name, as a kernel does.
BAD_CODES = {
    "cycle": "K702",
    "unknown_prev": "K306",
    "undefined": "K605",
    "used_before_defined": "K604",
    "overwritten_after_read": "K603",
    "syntax": "K401",
    "malformed_limit": "K201",
    "typo_in_a_tag": "K202",
    "bad_parameter": "K505",
    "prelude_reads_step_value": "K601",
    "unpicklable_generator": "K704",
    "conflicting_roles": "K204",
    "deleted_then_read": "K607",
}

GOOD["sections_reuse_names"] = [
    (["imports"], "import statistics"),
    "## Section 1",
    ([B + "section-one"], "X = [1, 2, 3]\ny = [2, 4, 6]"),
    ([], "model = statistics.mean(y) / statistics.mean(X)\nfirst = model"),
    "## Section 2",
    ([B + "section-two"], "X = [10, 20]\ny = [5, 5]"),
    ([], "model = statistics.mean(y) - statistics.mean(X)"),
    ([B + "summary"], "print('RESULT', X, y, model, first)"),
    ([B + "again"], "X = X + [1]\nprint('RESULT again', X)"),
]

# Kale's own habits: `block:` to continue a step, papermill's `parameters` tag, constant
# expressions and None as defaults, a parameter reported as a metric, `print(x)` metrics.
GOOD["kale_and_papermill_habits"] = [
    (["imports"], "import math"),
    (["parameters"], "EPOCHS = 2 * 3\nLR = 1e-3 * 5\nSIZES = [1, 2] * 2\nTAG = None"),
    ([B + "load"], "data = list(range(EPOCHS))"),
    (["block:"], "data = [d * LR for d in data]"),
    ([B + "train", "prev:load"], "score = round(math.fsum(data) + sum(SIZES), 6)"),
    (["block:"], "print('RESULT', score, TAG, SIZES)"),
    (["pipeline-metrics"], "print(score)\nprint(EPOCHS)"),
]

# Builtins the notebook rebinds are values like others: `sum = 0` in one step, read in another.
GOOD["builtins_rebound"] = [
    ([B + "a"], "n = len([1, 2])\nsum = 0\nfor i in range(3):\n    sum += i\nid = 'x7'"),
    ([B + "b"], "print('RESULT', sum, id, n, max(1, 2))"),
    ([B + "c"], "len = 99\ntype = 'rf'"),
    ([B + "d"], "print('RESULT', len, type)"),
]

GOOD["star_imports"] = [
    (["imports"], "from math import *"),
    ([B + "a"], "from statistics import *\nx = sqrt(16) + mean([1, 2, 3])"),
    ([B + "b", "prev:a"], "print('RESULT', x, floor(pi), median([5, 1, 3]))"),
]

GOOD["global_random_state"] = [
    (
        ["imports"],
        "import random\nimport numpy as np\nfrom numpy.random import rand\nnp.random.seed(3)\n"
        "random.seed(5)",
    ),
    ([B + "draw"], "a = np.random.randint(0, 1000, 3).tolist()\nb = random.random()"),
    ([B + "more", "prev:draw"], "c = rand(2).round(6).tolist()\nd = random.choice('abcdef')"),
    ([B + "independent"], "def noise():\n    return np.random.normal()\ne = round(noise(), 6)"),
    ([B + "show", "prev:more;independent"], "print('RESULT', a, round(b, 6), c, d, e)"),
]
GOOD["seeded_in_a_step"] = [
    (["imports"], "import numpy as np"),
    ([B + "seed"], "np.random.seed(11)\nfirst = np.random.rand()"),
    ([B + "next", "prev:seed"], "second = np.random.rand()"),
    ([B + "reseed", "prev:next"], "np.random.seed(11)\nthird = np.random.rand()"),
    ([B + "show", "prev:reseed"], "print('RESULT', first == third, first != second)"),
]

GOOD["double_braces_and_placeholders"] = [
    (
        [B + "a"],
        "template = '{{inputs.parameters.x}} {{workflow.uid}} {{$}}'\nname = 'n'\n"
        "shown = f'{{{name}}}'",
    ),
    ([B + "b", "prev:a"], "print('RESULT', template, shown, {'k': {'v': 1}})"),
]

GOOD["files_between_steps"] = [
    (["imports"], "import json\nimport os\nimport numpy as np"),
    (
        [B + "write"],
        "import time\ntime.sleep(0.5)\nos.makedirs('out', exist_ok=True)\n"
        "with open('out/config.json', 'w') as f:\n    json.dump({'k': 3}, f)\n"
        "np.save('out/arr.npy', np.arange(4))",
    ),
    ([B + "read-json"], "settings = json.load(open('out/config.json'))\nprint('RESULT', settings)"),
    ([B + "read-array"], "print('RESULT', np.load('out/arr.npy').sum())"),
    ([B + "writefile"], "%%writefile helper_mod.py\nVALUE = 7\n"),
    ([B + "use-module"], "import helper_mod\nprint('RESULT', helper_mod.VALUE)"),
]
