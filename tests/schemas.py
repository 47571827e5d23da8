"""Compare JSON Schemas by what a client of the tool listing relies on.

The schemas are msgspec's output, and msgspec adds keys between releases (``title``,
``default`` for a ``default_factory``...). A test states the keys a client reads
(types, required names, enum values, descriptions, items, references) and
:func:`assert_schema` checks those, leaving room for keys the test does not state.
"""

from __future__ import annotations

from typing import Any

# Lists whose order carries no meaning for a client: compared as sets.
_UNORDERED = frozenset({"enum", "required"})
# Keys that would narrow what a value may be; an expected ``{}`` allows none of them.
_CONSTRAINING = frozenset(
    {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "properties", "items"}
)


def assert_schema(actual: Any, expected: Any, path: str = "$") -> None:
    """Fail unless ``actual`` says at least everything ``expected`` says.

    - a dict matches when each expected key is present and matches; ``{}`` means "any
      value" and matches only a schema that constrains nothing;
    - ``enum`` and ``required`` lists match as sets, other lists item by item;
    - anything else must be equal (``True`` is not ``1``).
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        if not expected:
            narrowing = sorted(_CONSTRAINING & actual.keys())
            assert not narrowing, f"{path}: expected any value, got constraints {narrowing}"
        for key, value in expected.items():
            assert key in actual, f"{path}: missing {key!r} in {actual!r}"
            if key in _UNORDERED:
                assert sorted(map(repr, actual[key])) == sorted(map(repr, value)), (
                    f"{path}.{key}: {actual[key]!r} != {value!r}"
                )
            else:
                assert_schema(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {actual!r} != {expected!r}"
        for index, (got, want) in enumerate(zip(actual, expected)):
            assert_schema(got, want, f"{path}[{index}]")
    else:
        assert type(actual) is type(expected) and actual == expected, (
            f"{path}: {actual!r} != {expected!r}"
        )
