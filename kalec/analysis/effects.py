"""What a piece of code binds, changes in place, imports and defines, read from its syntax tree.

A step that changes an object in place is a new producer of it, exactly like one that rebinds the
name: ``records.append(x)``, ``config['runs'] += 1``, ``model.fit(X, y)``,
``df.dropna(inplace=True)``. Which method calls change their object cannot be known from the text
alone; kalec counts the methods that change their object in the standard library, numpy, pandas,
scikit-learn, PyTorch and Keras, any call with ``inplace=True``, PyTorch's trailing-underscore
methods, and the drawing methods of random generators (they advance the generator's state). A call
counted by mistake costs at most an extra value passed or an extra dependency; one missed would
hand a later step a stale value, so the list leans towards counting.

Functions (and classes and lambdas) are read for the globals their bodies read and change, so
that whoever calls one is seen to read and change them. The ``cell_facts`` pass and the data flow
use these readings; they live here, apart from any pass, so that several can share them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from kalec.analysis.parsing import walk
from kalec.analysis.random_state import RandomAliases
from kalec.analysis.symbols import BUILTIN_NAMES, dotted_name
from kalec.runtime.global_state import NUMPY_STATE

MUTATING_METHODS = frozenset(
    """
    append extend insert remove pop clear sort reverse update setdefault popitem add discard
    difference_update intersection_update symmetric_difference_update appendleft extendleft
    popleft rotate fill resize put itemset setfield partition setflags
    fit partial_fit fit_transform fit_predict set_params set_output compile train_on_batch
    load_weights set_weights build train eval load_state_dict zero_grad step to cuda cpu
    register_buffer register_parameter add_module apply fit_on_texts fit_on_sequences
    fit_generator set_param set_attr learn
    seed shuffle random integers normal uniform choice permutation standard_normal binomial
    poisson exponential randint rand randn gauss getrandbits setstate
    __setitem__ __delitem__ __setattr__ __delattr__ __iadd__
    """.split()
)
# Functions that change their first argument in place, by their dotted name as written.
MUTATING_FUNCTIONS = frozenset(
    """
    random.shuffle np.random.shuffle numpy.random.shuffle np.copyto numpy.copyto np.put numpy.put
    np.place numpy.place np.putmask numpy.putmask np.fill_diagonal numpy.fill_diagonal
    heapq.heappush heapq.heappop heapq.heapify heapq.heapreplace heapq.heappushpop bisect.insort
    bisect.insort_left bisect.insort_right setattr delattr
    """.split()
)
# Values that no serialiser can carry to another step, by the dotted name of the call making them.
UNPICKLABLE_CALLS = {
    "open": "an open file",
    "io.open": "an open file",
    "threading.Lock": "a lock",
    "threading.RLock": "a lock",
    "threading.Semaphore": "a semaphore",
    "threading.Event": "a threading event",
    "threading.Condition": "a condition variable",
    "multiprocessing.Lock": "a lock",
    "socket.socket": "a socket",
    "sqlite3.connect": "a database connection",
}


def _root(node: ast.AST) -> str | None:
    """``np.random.rand`` -> "np": the module a call on a global generator goes through."""
    name = dotted_name(node)
    return name.split(".")[0] if name else None


def base_name(node: ast.AST) -> str | None:
    """The variable whose object an expression reaches into: ``df['a'].loc[0].x`` -> "df"."""
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def mutated_by_call(node: ast.Call, methods: frozenset[str] = MUTATING_METHODS) -> str | None:
    """The variable a call changes in place, if it is one of the calls that do."""
    func = node.func
    if any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in node.keywords
    ):
        return base_name(func.value) if isinstance(func, ast.Attribute) else None
    name = dotted_name(func)
    if name in MUTATING_FUNCTIONS:  # before methods: np.random.shuffle(x) changes x, not np
        return base_name(node.args[0]) if node.args else None
    if isinstance(func, ast.Attribute):
        method = func.attr
        if method in methods or (
            method.endswith("_") and not method.startswith("_") and len(method) > 1
        ):
            return base_name(func.value)
    return None


def call_changes(
    call: ast.Call, methods: frozenset[str], rng: RandomAliases | None
) -> tuple[list[str], list[str]]:
    """(names a call sets, names whose objects it changes in place).

    A call on a global generator sets its state when it seeds it, and reads and changes it when
    it draws; the module it goes through is not changed (``np.random.shuffle(x)`` changes the
    numpy state and ``x``, not ``np``).
    """
    sets: list[str] = []
    changes: list[str] = []
    touched = rng.effect(call) if rng else None
    if touched:
        (sets if touched[1] else changes).append(touched[0])
    elif rng is not None and rng.draws_implicitly(call):
        changes.append(NUMPY_STATE)  # model.fit(X, y): a library draws from numpy's state
    name = mutated_by_call(call, methods)
    if name and not (touched and name == _root(call.func)):
        changes.append(name)
    return sets, changes


def _target_names(target: ast.AST) -> tuple[list[str], list[str]]:
    """Names an assignment target binds, and names whose objects it changes."""
    binds: list[str] = []
    changes: list[str] = []
    if isinstance(target, ast.Name):
        binds.append(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            b, c = _target_names(element)
            binds += b
            changes += c
    elif isinstance(target, ast.Starred):
        return _target_names(target.value)
    elif isinstance(target, (ast.Attribute, ast.Subscript)):
        name = base_name(target)
        if name:
            changes.append(name)
    return binds, changes


@dataclass
class FunctionEffects:
    """What calling a function does to the notebook's globals: the names it reads, assigns,
    and changes in place."""

    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)  # every name changed in place, locals too
    changed_params: dict[int | str, str] = field(default_factory=dict)  # position/name -> param


def function_effects(
    node: ast.AST,
    methods: frozenset[str] = MUTATING_METHODS,
    rng: RandomAliases | None = None,
) -> FunctionEffects:
    """Globals a function, lambda or class body reads, rebinds (``global``) and changes."""
    declared_global: set[str] = set()
    seeded: set[str] = set()
    local: set[str] = set()
    loads: set[str] = set()
    changes: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
            if arg is not None:
                local.add(arg.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
    else:  # a class: its methods' bodies
        body = node.body
    for child in body:
        for sub in ast.walk(child):
            if isinstance(sub, ast.Global):
                declared_global.update(sub.names)
            elif isinstance(sub, ast.Name):
                (loads if isinstance(sub.ctx, ast.Load) else local).add(sub.id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                loads.add(sub.target.id)  # x += 1 reads x first
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(sub.name)
                if not isinstance(sub, ast.ClassDef):
                    a = sub.args
                    for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
                        if arg is not None:
                            local.add(arg.arg)
            elif isinstance(sub, ast.Lambda):
                local.update(arg.arg for arg in sub.args.args)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                local.update((a.asname or a.name).split(".")[0] for a in sub.names)
            elif isinstance(sub, ast.arg):
                local.add(sub.arg)
            elif isinstance(sub, ast.Call):
                sets, changed = call_changes(sub, methods, rng)
                seeded.update(sets)
                changes.update(changed)
            if isinstance(sub, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = sub.targets if isinstance(sub, (ast.Assign, ast.Delete)) else [sub.target]
                for t in targets:
                    changes.update(_target_names(t)[1])
    local -= declared_global
    effects = FunctionEffects()
    effects.reads = {n for n in loads | changes if n not in local and n not in BUILTIN_NAMES}
    effects.writes = {n for n in declared_global if n not in BUILTIN_NAMES} | seeded
    effects.mutates = {n for n in changes if n not in local}
    effects.changes = changes
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        positional = [a.arg for a in node.args.posonlyargs + node.args.args]
        for position, name in enumerate(positional):
            if name in changes:
                effects.changed_params[position] = name
                effects.changed_params[name] = name
        for arg in node.args.kwonlyargs:
            if arg.arg in changes:
                effects.changed_params[arg.arg] = arg.arg
    return effects


class CellVisitor(ast.NodeVisitor):
    """Walks a cell's top level (and the blocks of its statements), not function bodies."""

    def __init__(self, methods: frozenset[str], rng: RandomAliases) -> None:
        self.methods = methods
        self.rng = rng
        self.writes: list[str] = []
        self.mutates: list[str] = []
        self.imports: dict[str, str] = {}
        self.calls: list[tuple[str, list[tuple[int | str, str]]]] = []  # (function, arguments)
        self.deleted: dict[str, None] = {}
        self.star_imports: list[str] = []
        self.functions: dict[str, FunctionEffects] = {}
        self.unpicklable: list[tuple[str, str, int]] = []

    def _bind(self, target: ast.AST) -> None:
        binds, changes = _target_names(target)
        self.writes += binds
        self.mutates += changes
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            self.visit(target)  # calls inside the target (x[f(y)] = ...) still run
        for name in binds:
            self.functions.pop(name, None)
            self.imports.pop(name, None)
            self.deleted.pop(name, None)

    def _note_unpicklable(self, target: ast.AST, value: ast.AST | None) -> None:
        if not isinstance(target, ast.Name) or value is None:
            return
        kind = None
        if isinstance(value, ast.GeneratorExp):
            kind = "a generator"
        elif isinstance(value, ast.Call):
            kind = UNPICKLABLE_CALLS.get(dotted_name(value.func) or "")
        if kind:
            self.unpicklable.append((target.id, kind, value.lineno))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind(target)
            self._note_unpicklable(target, node.value)
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Lambda):
                self.functions[target.id] = function_effects(node.value, self.methods, self.rng)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._bind(node.target)
            self._note_unpicklable(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self._bind(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._bind(target)
            if isinstance(target, ast.Name):
                self.deleted[target.id] = None

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._bind(node.target)
        for statement in node.body + node.orelse:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._bind(item.optional_vars)
                self._note_unpicklable(item.optional_vars, item.context_expr)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.writes.append(node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star_imports.append(f"from {'.' * node.level}{node.module or ''} import *")
                continue
            name = alias.asname or alias.name.split(".")[0]
            self.writes.append(name)
            self.functions.pop(name, None)
            if isinstance(node, ast.Import):
                statement = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
            else:
                module = "." * node.level + (node.module or "")
                statement = f"from {module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
            self.imports[name] = statement

    visit_ImportFrom = visit_Import

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        if isinstance(node, ast.ClassDef):
            for base in node.bases + [k.value for k in node.keywords]:
                self.visit(base)
        else:
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
                self.visit(default)
        self.writes.append(node.name)
        self.imports.pop(node.name, None)
        self.functions[node.name] = function_effects(node, self.methods, self.rng)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults:
            self.visit(default)

    def visit_Call(self, node: ast.Call) -> None:
        sets, changed = call_changes(node, self.methods, self.rng)
        self.writes += sets
        self.mutates += changed
        if isinstance(node.func, ast.Name):
            arguments: list[tuple[int | str, str]] = []
            for position, argument in enumerate(node.args):
                name = base_name(argument)
                if name and not isinstance(argument, ast.Starred):
                    arguments.append((position, name))
            for keyword in node.keywords:
                name = base_name(keyword.value)
                if keyword.arg and name:
                    arguments.append((keyword.arg, name))
            self.calls.append((node.func.id, arguments))
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.writes.append(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.writes.append(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.writes.append(node.rest)
        self.generic_visit(node)


class SelfMutatingMethods:
    """Names of methods of the notebook's own classes that change ``self``, read one cell's tree
    at a time (a large notebook cannot hold every tree at once).

    ``c.hit(3)`` changes ``c`` when ``Counter.hit`` does ``self.n += k``. The type of ``c`` is not
    known before running, so every method of that name counts; a method that calls another one of
    its class on ``self`` counts when the other one does.
    """

    def __init__(self) -> None:
        self.found: set[str] = set()
        self.calls: dict[str, set[str]] = {}  # method -> methods it calls on self

    def read(self, tree: ast.Module) -> None:
        for node in walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for method in node.body:
                if (
                    not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef))
                    or not method.args.args
                ):
                    continue
                me = method.args.args[0].arg
                effects = function_effects(method)
                if me in effects.changes:
                    self.found.add(method.name)
                self.calls.setdefault(method.name, set()).update(
                    sub.func.attr
                    for sub in ast.walk(method)
                    if isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and isinstance(sub.func.value, ast.Name)
                    and sub.func.value.id == me
                )

    def names(self) -> set[str]:
        """Every method read so far that changes ``self``, directly or through another."""
        found = set(self.found)
        changed = True
        while changed:
            changed = False
            for name, callees in self.calls.items():
                if name not in found and callees & found:
                    found.add(name)
                    changed = True
        return found
