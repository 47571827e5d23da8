"""The schema matcher the schema tests rely on: it must fail where a client would."""

from __future__ import annotations

import pytest

from tests.schemas import assert_schema


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ({"type": "integer", "title": "X", "default": 1}, {"type": "integer"}),
        ({"enum": ["blue", "red"]}, {"enum": ["red", "blue"]}),
        ({"required": ["b", "a"], "type": "object"}, {"required": ["a", "b"]}),
        ({"description": "Free."}, {}),
        (
            {"prefixItems": [{"type": "integer", "title": "N"}, {"description": "Any."}]},
            {"prefixItems": [{"type": "integer"}, {}]},
        ),
    ],
)
def test_accepts_what_says_at_least_as_much(actual, expected) -> None:
    assert_schema(actual, expected)


@pytest.mark.parametrize(
    ("actual", "expected", "message"),
    [
        ({"type": "number"}, {"type": "integer"}, "$.type"),
        ({"title": "X"}, {"type": "integer"}, "missing 'type'"),
        ({"enum": ["red"]}, {"enum": ["red", "blue"]}, "$.enum"),
        ({"type": "integer"}, {}, "expected any value"),
        ({"default": 1}, {"default": True}, "$.default"),
        ({"items": [{"type": "integer"}]}, {"items": [{}, {}]}, "$.items"),
        (
            {"properties": {"a": {"type": "string"}}},
            {"properties": {"a": {"type": "integer"}}},
            "$.properties.a.type",
        ),
        ([], {}, "expected an object"),
    ],
)
def test_rejects_what_a_client_would_read_differently(actual, expected, message) -> None:
    with pytest.raises(AssertionError, match=message.replace("$", r"\$").replace(".", r"\.")):
        assert_schema(actual, expected)
