"""The tag language: every tag of the design's table, and each malformed form, named by cell."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalec.frontend.tags import parse_cell_tags, parse_duration, parse_tag
from kalec.ir import Origin, Role, Secret, Severity


def tags(*raw: str):
    parsed, diagnostics = parse_cell_tags(list(raw), Origin(3))
    return parsed, diagnostics


@pytest.mark.parametrize("spelling", ["block", "step"])
def test_block_and_step_are_synonyms_and_lists_add_up(spelling: str) -> None:
    parsed, diagnostics = tags(f"{spelling}:processing-A;processing-B", f"{spelling}:train_model2")
    assert parsed.role is Role.STEP
    assert parsed.steps == ("processing-A", "processing-B", "train_model2")
    assert diagnostics == []


def test_prev_tags_add_up() -> None:
    parsed, _ = tags("block:c", "prev:a;b", "prev:load-Data")
    assert parsed.prev == ("a", "b", "load-Data")


@pytest.mark.parametrize(
    ("tag", "role"),
    [
        ("imports", Role.IMPORTS),
        ("functions", Role.FUNCTIONS),
        ("skip", Role.SKIP),
        ("pipeline-parameters", Role.PARAMETERS),
        ("pipeline-metrics", Role.METRICS),
    ],
)
def test_role_tags(tag: str, role: Role) -> None:
    assert tags(tag)[0].role is role


def test_step_settings() -> None:
    parsed, diagnostics = tags(
        "block:train",
        "limit:nvidia.com/gpu:1",
        "limit:memory:4Gi",
        "limit:cpu:500m",
        "image:python:3.11-slim",
        "annotation:example.com/owner:team a:b",
        "label:tier:gold",
        "cache:disabled",
        "retry:3",
        "timeout:1h30m",
        "secret:db-creds:password:DB_PASSWORD",
    )
    assert diagnostics == []
    options = parsed.options
    assert dict(options.limits) == {"nvidia.com/gpu": "1", "memory": "4Gi", "cpu": "500m"}
    assert options.image == "python:3.11-slim"
    assert dict(options.annotations) == {"example.com/owner": "team a:b"}
    assert dict(options.labels) == {"tier": "gold"}
    assert options.cache is False
    assert options.retries == 3
    assert options.timeout_seconds == 5400
    assert options.secrets == (Secret("db-creds", "password", "DB_PASSWORD"),)


def test_cache_enabled() -> None:
    assert tags("cache:enabled")[0].options.cache is True


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "prev:",
        "block:a b",
        "block:a;;b",
        "prev:-",
        "limit:gpu",
        "limit:nvidia.com/gpu",
        "limit:memory:lots",
        "image:",
        "annotation:key",
        "label:",
        "cache:on",
        "retry:x",
        "retry:-1",
        "timeout:soon",
        "timeout:0",
        "secret:name:key",
        "imports:x",
        "skip:now",
        "pipeline-metrics:x",
    ],
)
def test_malformed_kalec_tags_are_errors_naming_the_cell(bad: str) -> None:
    _, diagnostics = tags(bad)
    assert [d.severity for d in diagnostics] == [Severity.ERROR]
    assert diagnostics[0].origin == Origin(3)
    assert f"'{bad}'" in diagnostics[0].message
    assert "expected" in diagnostics[0].message or "zero" in diagnostics[0].message


@pytest.mark.parametrize(
    "other",
    ["hide-input", "remove-cell", "papermill", "injected-parameters", "todo:later", "labels"],
)
def test_other_tools_tags_are_warnings(other: str) -> None:
    parsed, diagnostics = tags(other, "block:a")
    assert parsed.steps == ("a",)
    assert [d.severity for d in diagnostics] == [Severity.WARNING]
    assert "not a kalec tag" in diagnostics[0].message


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("blok:train", "block:train"),
        ("imprts", "imports"),
        ("prev-load", "prev:load"),
        ("Imports", "imports"),
        ("Block:train", "block:train"),
        ("fucntions", "functions"),
        ("skipp", "skip"),
        ("pipeline-metric", "pipeline-metrics"),
        ("limt:cpu:2", "limit:cpu:2"),
        ("step=train", "step:train"),
    ],
)
def test_a_tag_one_edit_from_a_kalec_tag_is_an_error_with_did_you_mean(
    typo: str, meant: str
) -> None:
    parsed, diagnostics = tags(typo, "prev:x")
    assert [d.severity for d in diagnostics] == [Severity.ERROR]
    assert diagnostics[0].hint == f"did you mean '{meant}'?"
    assert diagnostics[0].origin == Origin(3)


@pytest.mark.parametrize("empty", ["block:", "step:"])
def test_an_empty_step_tag_continues_the_step_above(empty: str) -> None:
    parsed, diagnostics = tags(empty)
    assert diagnostics == []
    assert parsed.role is None and parsed.steps == ()


def test_papermills_parameters_tag_means_pipeline_parameters() -> None:
    parsed, diagnostics = tags("parameters")
    assert diagnostics == [] and parsed.role is Role.PARAMETERS


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("limit:memory:1.5Gi", "1536Mi"),
        ("limit:memory:1e3", "memory limit"),
        ("limit:memory:0", "more than zero"),
        ("limit:cpu:2Gi", "cpu limit"),
        ("limit:cpu:0", "more than zero"),
        ("limit:nvidia.com/gpu:0.5", "whole number"),
        ("limit:nvidia.com/gpu:0", "whole number"),
        ("limit:gpu:1", "unknown resource"),
        ("retry:99999999999999999999", "at most 2,147,483,647"),
        ("timeout:99999999999999999999d", "at most 2,147,483,647"),
        ("image:MyImage", "image reference"),
        ("image:a{{b}}", "image reference"),
        ("label:app:{{workflow.name}}", "label value"),
        ("label:app:" + "x" * 64, "label value"),
        ("label:bad-:v", "Kubernetes key"),
        ("annotation:bad key:v", "malformed"),
        ("annotation:a/b/c:v", "DNS name"),
        ("secret:Upper:key:ENV", "Kubernetes name"),
        ("secret:name:k{{x}}:ENV", "malformed"),
    ],
)
def test_values_the_targets_refuse_are_errors_naming_the_cell(tag: str, words: str) -> None:
    _, diagnostics = tags(tag)
    assert [d.severity for d in diagnostics] == [Severity.ERROR], diagnostics
    assert diagnostics[0].origin == Origin(3)
    assert words in diagnostics[0].message


@pytest.mark.parametrize(
    "good",
    [
        "limit:memory:4Gi",
        "limit:memory:512M",
        "limit:cpu:500m",
        "limit:cpu:0.5",
        "limit:nvidia.com/gpu:1",
        "limit:amd.com/gpu:2",
        "retry:2147483647",
        "timeout:1h30m",
        "image:python:3.11-slim",
        "image:registry.example.com:5000/team/img:1.0",
        "image:ghcr.io/org/img@sha256:" + "a" * 64,
        "label:app.kubernetes.io/name:trainer",
        "annotation:example.com/owner:anyone {at} all",
        "secret:db-creds:password:DB_PASSWORD",
    ],
)
def test_values_the_targets_accept_pass(good: str) -> None:
    _, diagnostics = tags(good)
    assert diagnostics == []


def test_a_cell_cannot_be_two_kinds_at_once() -> None:
    _, diagnostics = tags("imports", "functions")
    assert diagnostics[0].severity is Severity.ERROR
    _, diagnostics = tags("pipeline-parameters", "block:a")
    assert diagnostics[0].severity is Severity.ERROR


def test_skip_wins_over_anything() -> None:
    parsed, diagnostics = tags("block:a", "skip")
    assert parsed.role is Role.SKIP and diagnostics == []


def test_unknown_tag_is_none_and_kalec_tag_is_parsed() -> None:
    assert parse_tag("whatever") is None
    assert parse_tag("block:x").names == ("x",)


STEP_TAG_TEXT = st.text(alphabet="abAB09_-;:. é\t", max_size=12)


@settings(max_examples=400, deadline=None)
@given(head=st.sampled_from(["block", "step", "prev"]), rest=STEP_TAG_TEXT)
def test_step_tags_read_without_the_parser_read_as_the_grammar_does(head: str, rest: str) -> None:
    """The quick reading of block:, step: and prev: tags gives what the grammar gives, and
    reads every such tag the grammar accepts (the others, errors, go to the grammar)."""
    from kalec.frontend.tags import _parse_with_grammar, _step_tag

    tag = f"{head}:{rest}"
    quick = _step_tag(tag, head)
    try:
        grammar = _parse_with_grammar(tag, head)
    except ValueError:
        grammar = None
    assert quick == grammar
