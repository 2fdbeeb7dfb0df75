"""Cell tags -> ``CellTags``, with the grammar of ``grammar/tags.lark``.

Each distinct tag string is parsed once (notebooks repeat the same few tags on many cells), which
keeps a 2,000-cell notebook's tags to a few milliseconds.
"""

from __future__ import annotations

import _thread  # its lock alone: threading costs a small build's start more
import functools
import io
import marshal
import re
import sys
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from kalec import cluster_names, startup_cache
from kalec import diagnostics as D
from kalec.cluster_names import digest
from kalec.ir import CellTags, Diagnostic, Origin, Role, Secret, StepOptions

# The keywords that make a tag kalec's: a tag whose head is one of these must parse.
KEYWORDS = (
    "block", "step", "prev", "imports", "functions", "skip", "pipeline-parameters", "parameters",
    "pipeline-metrics", "limit", "image", "annotation", "label", "cache", "retry", "timeout",
    "secret", "report", "notebook",
)  # fmt: skip

# The expected form of each keyword, shown when a tag of it is malformed.
FORMS = {
    "block": "block:NAME or block:NAME;NAME (letters, digits, '-' and '_')",
    "step": "step:NAME (letters, digits, '-' and '_')",
    "prev": "prev:NAME or prev:NAME;NAME naming earlier steps",
    "imports": "imports (no value)",
    "functions": "functions (no value)",
    "skip": "skip (no value)",
    "pipeline-parameters": "pipeline-parameters (no value)",
    "parameters": "parameters (no value; papermill's name for pipeline-parameters)",
    "pipeline-metrics": "pipeline-metrics (no value)",
    "limit": "limit:RESOURCE:QUANTITY, e.g. limit:nvidia.com/gpu:1, limit:memory:4Gi, limit:cpu:2",
    "image": "image:IMAGE, e.g. image:python:3.11-slim",
    "annotation": "annotation:KEY:VALUE",
    "label": "label:KEY:VALUE",
    "cache": "cache:enabled or cache:disabled",
    "retry": "retry:N, a whole number of retries",
    "timeout": "timeout:DURATION, e.g. timeout:90s, timeout:15m, timeout:2h",
    "secret": "secret:NAME:KEY:ENV, e.g. secret:db-creds:password:DB_PASSWORD",
    "report": "report:enabled or report:disabled",
    "notebook": "notebook:NAME, with the notebook's path in the cell's metadata (notebook_path)",
}

ROLE_TAGS = {
    "imports": Role.IMPORTS,
    "functions": Role.FUNCTIONS,
    "skip": Role.SKIP,
    "parameters": Role.PARAMETERS,
    "metrics": Role.METRICS,
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def grammar_path() -> Path:
    """The grammar file: inside the installed package, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "grammar" / "tags.lark", here.parent / "grammar" / "tags.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("kalec's tag grammar (grammar/tags.lark) is missing from the install")


@functools.cache
def _parser() -> Any:
    """The LALR parser of the grammar. Building its tables is most of a small compile's time,
    so they are kept in the user's cache, under a key of the grammar and the versions."""
    import lark

    grammar = grammar_path().read_text(encoding="utf-8")
    cache = startup_cache.folder()
    key = digest(f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}", 16)
    cached = cache / f"tags-{key}.lark" if cache else None
    if cached and cached.is_file():
        try:
            with open(cached, "rb") as handle:
                return lark.Lark.load(handle)
        except Exception:  # damaged or from another lark: rebuilt below
            pass
    parser = lark.Lark(grammar, parser="lalr")
    if cached:
        buffer = io.BytesIO()
        parser.save(buffer)
        startup_cache.write_atomically(cached, buffer.getvalue())
    return parser


def parse_duration(text: str) -> int:
    """``90`` -> 90, ``1h30m`` -> 5400 (seconds)."""
    if text.isdigit():
        return int(text)
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)([smhd])", text))


@dataclass(frozen=True)
class ParsedTag:
    """One tag's meaning, ready to be added to a cell's ``CellTags``."""

    kind: str
    names: tuple[str, ...] = ()
    options: StepOptions = StepOptions()


@functools.lru_cache(maxsize=4096)
def parse_tag(tag: str) -> ParsedTag | None:
    """The meaning of one tag; ``None`` when it is not a kalec tag; ``ValueError`` when malformed.

    Meanings found before come from the user's cache (``remember_meanings`` keeps them): the
    same few tags recur in every notebook, and importing lark is a fifth of a small compile.
    """
    head = tag.split(":", 1)[0]
    if head not in KEYWORDS:
        return None
    with _meanings_lock:  # a server compiles in several threads
        known = _meanings()
        if tag not in known:
            try:
                known[tag] = ("ok", _parse(tag, head))
            except ValueError as error:
                known[tag] = ("error", str(error))
            _new_meanings.add(tag)
        outcome, meaning = known[tag]
    if outcome == "error":
        raise ValueError(meaning)
    return meaning


_new_meanings: set[str] = set()
_meanings_lock = _thread.RLock()
_MAX_MEANINGS = 4096  # a hostile notebook's thousands of distinct tags are not all kept


def _meanings_file() -> Path | None:
    """Keyed by everything that decides a meaning (the grammar, this module, the IR's classes)
    through their sizes and modification times, as Python keys its bytecode: finding the file
    reads and hashes none of them."""
    cache = startup_cache.folder()
    if cache is None:
        return None
    here = Path(__file__).resolve()
    sources = [grammar_path(), here, here.parent.parent / "ir" / "model.py"]
    try:
        stamps = tuple(n for p in sources for n in _stamp(p))
    except OSError:
        return None
    # the hash of a tuple of ints is the same in every process (only text hashes are salted)
    return cache / f"tag-meanings-{hash(stamps) & 0xFFFF_FFFF_FFFF_FFFF:016x}.marshal"


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _plain(meaning: tuple[str, Any]) -> tuple:
    """A meaning as tuples, strings and numbers, which ``marshal`` keeps: it needs no import
    and, unlike pickle, runs no code when it loads."""
    outcome, parsed = meaning
    if not isinstance(parsed, ParsedTag):
        return outcome, parsed
    options = tuple(
        tuple(astuple(s) for s in value) if f.name == "secrets" else value
        for f in fields(StepOptions)
        for value in (getattr(parsed.options, f.name),)
    )
    return outcome, (parsed.kind, parsed.names, options)


def _from_plain(plain: tuple) -> tuple[str, Any]:
    outcome, parsed = plain
    if outcome != "ok" or parsed is None:
        return outcome, parsed
    kind, names, options = parsed
    values = {
        f.name: tuple(Secret(*s) for s in value) if f.name == "secrets" else value
        for f, value in zip(fields(StepOptions), options, strict=True)
    }
    return outcome, ParsedTag(kind, tuple(names), StepOptions(**values))


@functools.cache
def _meanings() -> dict[str, tuple[str, Any]]:
    path = _meanings_file()
    if path is not None and path.is_file():
        try:
            loaded = marshal.loads(path.read_bytes())
            return {tag: _from_plain(plain) for tag, plain in loaded.items()}
        except Exception:  # damaged, or written by another version: start afresh
            pass
    return {}


def remember_meanings() -> None:
    """Keep the meanings of tags met for the first time, for the next compile. Past the limit
    the file starts afresh with the newest ones, so a huge notebook cannot freeze it."""
    with _meanings_lock:
        if not _new_meanings:
            return
        known = _meanings()
        new = {tag: known[tag] for tag in _new_meanings}
        _new_meanings.clear()
        known = dict(known)
    kept = known if len(known) <= _MAX_MEANINGS else new if len(new) <= _MAX_MEANINGS else None
    path = _meanings_file()
    if path is not None and kept is not None:
        plain = {tag: _plain(meaning) for tag, meaning in kept.items()}
        startup_cache.write_atomically(path, marshal.dumps(plain))
        startup_cache.TAG_MEANINGS.forget_oldest(path.parent)


# The grammar's ``names`` (NAME (";" NAME)* ";"?), for the step tags' quick reading below.
_STEP_NAMES = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:;[A-Za-z0-9_][A-Za-z0-9_-]*)*;?")


def _step_tag(tag: str, head: str) -> ParsedTag | None:
    """``block:``, ``step:`` and ``prev:`` tags of well-formed names, read as the grammar
    reads them without loading its parser: they are most of a notebook's tags, and every new
    step name is a new tag. None for anything else, errors included: the grammar's parser
    decides those (tests/test_tags.py checks that both readings agree)."""
    if head not in ("block", "step", "prev") or tag[len(head) : len(head) + 1] != ":":
        return None
    rest = tag[len(head) + 1 :]
    if not rest:
        return None if head == "prev" else ParsedTag("continue")
    if not _STEP_NAMES.fullmatch(rest):
        return None
    names = tuple(name for name in rest.split(";") if name)
    return ParsedTag("prev" if head == "prev" else "step", names=names)


def _parse(tag: str, head: str) -> ParsedTag | None:
    quick = _step_tag(tag, head)
    return quick if quick is not None else _parse_with_grammar(tag, head)


def _parse_with_grammar(tag: str, head: str) -> ParsedTag | None:
    import lark

    try:
        tree = _parser().parse(tag)
    except lark.exceptions.LarkError:
        raise ValueError(f"malformed tag '{tag}': expected {FORMS[head]}") from None
    node = tree.children[0]
    kind = str(node.data)  # a lark Token: kept as plain text, the cache holds no lark object
    args = [str(c) for c in node.children if isinstance(c, lark.Token)]
    if kind in ("block", "step", "prev"):
        if not node.children:  # `block:` alone: the cell continues the step above, as in Kale
            return ParsedTag("continue")
        steps = tuple(str(t) for t in node.children[0].children)
        return ParsedTag("prev" if kind == "prev" else "step", names=steps)
    if kind in ROLE_TAGS:
        return ParsedTag(kind)
    problem: str | None = None
    if kind == "limit":
        problem = cluster_names.quantity_problem(args[0], args[1])
        options = StepOptions(limits=((args[0], args[1]),))
    elif kind == "image":
        problem = cluster_names.image_problem(args[0])
        options = StepOptions(image=args[0])
    elif kind == "annotation":
        problem = cluster_names.label_key_problem(args[0])
        options = StepOptions(annotations=((args[0], args[1]),))
    elif kind == "label":
        problem = cluster_names.label_key_problem(args[0]) or cluster_names.label_value_problem(
            args[1]
        )
        options = StepOptions(labels=((args[0], args[1]),))
    elif kind == "cache":
        options = StepOptions(cache=args[0] == "enabled")
    elif kind == "report":
        options = StepOptions(report=args[0] == "enabled")
    elif kind == "notebook":
        return ParsedTag("notebook", names=(args[0],))
    elif kind == "retry":
        problem = cluster_names.count_problem("retries", int(args[0]))
        options = StepOptions(retries=int(args[0]))
    elif kind == "timeout":
        seconds = parse_duration(args[0])
        if seconds <= 0:
            problem = "a timeout must be longer than zero"
        problem = problem or cluster_names.count_problem("seconds", seconds)
        options = StepOptions(timeout_seconds=seconds)
    else:  # secret
        problem = cluster_names.object_name_problem(
            args[0], "secret"
        ) or cluster_names.secret_key_problem(args[1])
        options = StepOptions(secrets=(Secret(*args),))
    if problem:
        raise ValueError(f"tag '{tag}' cannot be honoured: {problem}")
    return ParsedTag("option", options=options)


def _one_edit_apart(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or swap of neighbours turns a into b."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _parses(tag: str) -> bool:
    try:
        return parse_tag(tag) is not None
    except ValueError:
        return False


@functools.lru_cache(maxsize=1024)
def near_miss(tag: str) -> str | None:
    """The kalec tag that ``tag`` is one typo away from (``blok:train``, ``imprts``,
    ``prev-load``, ``Block:train``), or None for a tag that is plainly someone else's."""
    head, sep, rest = tag.partition(":")
    for keyword in KEYWORDS:
        if _one_edit_apart(head.lower(), keyword) or head.lower() == keyword != head:
            candidate = keyword + sep + rest
            if _parses(candidate):
                return candidate
    for separator in ("-", "=", " ", "_"):  # `prev-load`: the colon mistyped
        head, sep, rest = tag.partition(separator)
        if sep and head.lower() in KEYWORDS and _parses(f"{head.lower()}:{rest}"):
            return f"{head.lower()}:{rest}"
    return None


def parse_cell_tags(tags: list[str], origin: Origin) -> tuple[CellTags, list[Diagnostic]]:
    """All tags of one cell, added up; diagnostics for malformed, unknown and conflicting ones."""
    diagnostics: list[Diagnostic] = []
    roles: list[Role] = []
    steps: list[str] = []
    prev: list[str] = []
    references: list[str] = []
    options = StepOptions()
    for raw in tags:
        tag = str(raw).strip()
        try:
            parsed = parse_tag(tag)
        except ValueError as error:
            diagnostics.append(D.TAG_MALFORMED(origin, error=error))
            continue
        if parsed is None:
            suggestion = near_miss(tag)
            if suggestion:  # a typo would silently move the cell to another step: stop here
                diagnostics.append(D.TAG_TYPO(origin, tag=tag, suggestion=suggestion))
            else:
                diagnostics.append(D.TAG_UNKNOWN(origin, tag=tag))
        elif parsed.kind == "continue":
            continue
        elif parsed.kind == "step":
            steps.extend(parsed.names)
        elif parsed.kind == "prev":
            prev.extend(parsed.names)
        elif parsed.kind == "option":
            options = options.merged(parsed.options)
        elif parsed.kind == "notebook":
            references.extend(parsed.names)
        else:
            roles.append(ROLE_TAGS[parsed.kind])
    role = None
    distinct = list(dict.fromkeys(roles))
    references = list(dict.fromkeys(references))
    if Role.SKIP in distinct:
        role = Role.SKIP  # skip wins: the cell is left out whatever else it says
    elif len(distinct) + bool(steps) + len(references) > 1:
        given = (
            [r.value for r in distinct]
            + [f"block:{s}" for s in steps]
            + [f"notebook:{r}" for r in references]
        )
        diagnostics.append(D.TAG_ROLES_CONFLICT(origin, tags=", ".join(given)))
    elif distinct:
        role = distinct[0]
    elif steps:
        role = Role.STEP
    return (
        CellTags(
            role=role,
            steps=tuple(dict.fromkeys(steps)),
            prev=tuple(dict.fromkeys(prev)),
            options=options,
            reference=references[0]
            if len(references) == 1 and not distinct and not steps
            else None,
        ),
        diagnostics,
    )
