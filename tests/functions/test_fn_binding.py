"""From payload to call: the four rules, strict validation, the context, class tools."""

from __future__ import annotations

import pytest

from navai_core import FunctionContext
from navai_core.exceptions import InvalidArgumentsError, UnknownFunctionError

TOOLS = """
from __future__ import annotations

import dataclasses
import enum
from typing import Literal

from navai_core import FunctionContext


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Line:
    id: int
    qty: int = 1


def echo(a, b=None):
    return {"a": a, "b": b}


def typed(count: int, flag: bool = False, ratio: float = 1.0) -> dict:
    return {"count": count, "flag": flag, "ratio": ratio}


def one_arg(text: str) -> str:
    return text


def takes_object(data: dict) -> dict:
    return data


def no_args() -> str:
    return "none"


def half(n: int) -> float:
    return n / 2


def keyword_only(*, size: int) -> int:
    return size


def with_value(x: int = 0, value: int = 0) -> list:
    return [x, value]


def with_args_param(args: list[int]) -> list:
    return args


def order(lines: list[Line], color: Color = Color.RED) -> dict:
    return {"types": [type(line).__name__ for line in lines], "color": type(color).__name__}


def pick(mode: Literal["a", "b"]) -> str:
    return mode


def variadic(first: int, *rest: int, **extra: str) -> dict:
    return {"first": first, "rest": list(rest), "extra": extra}


def positional_only(a: int, b: int = 2, /, c: int = 3) -> list:
    return [a, b, c]


def context_first(ctx: FunctionContext, city: str) -> dict:
    return {"name": ctx.function_name, "auth": ctx.headers.get("authorization"), "city": city, "request": ctx.request}


def context_middle(city: str, ctx: FunctionContext, unit: str = "c") -> list:
    return [city, ctx.function_name, unit]


def context_only_positional(ctx: FunctionContext, /, x: int = 1) -> list:
    return [ctx.function_name, x]


def context_star(ctx: FunctionContext, *values: int) -> list:
    return [ctx.function_name, list(values)]
"""


@pytest.fixture
def registry(one):
    return one(TOOLS)


# --- the four rules -----------------------------------------------------------------------


def test_rule_1_args_and_kwargs(registry):
    assert registry.execute("echo", {"args": [1, 2]}) == {"a": 1, "b": 2}
    assert registry.execute("echo", {"args": [1], "kwargs": {"b": 3}}) == {"a": 1, "b": 3}
    assert registry.execute("echo", {"kwargs": {"a": 5}}) == {"a": 5, "b": None}


def test_rule_1_args_empty_list_means_no_arguments(registry):
    with pytest.raises(InvalidArgumentsError, match="'a': missing required argument"):
        registry.execute("echo", {"args": []})
    assert registry.execute("no_args", {"args": []}) == "none"


def test_rule_1_refuses_mixed_keys_and_wrong_types(registry):
    with pytest.raises(InvalidArgumentsError, match="cannot be mixed with other keys \\(b\\)"):
        registry.execute("echo", {"args": [1], "b": 2})
    with pytest.raises(InvalidArgumentsError, match="parameter 'kwargs': must be an object"):
        registry.execute("echo", {"args": [1], "kwargs": [2]})
    with pytest.raises(InvalidArgumentsError, match="parameter 'args': must be a list"):
        registry.execute("echo", {"args": "x", "kwargs": {"a": 1}})


def test_rule_1_too_many_positional_and_duplicates(registry):
    with pytest.raises(
        InvalidArgumentsError, match="takes at most 2 positional arguments \\(3 given\\)"
    ):
        registry.execute("echo", {"args": [1, 2, 3]})
    with pytest.raises(
        InvalidArgumentsError, match="takes at most 1 positional argument \\(2 given\\)"
    ):
        registry.execute("one_arg", {"args": ["a", "b"]})
    with pytest.raises(
        InvalidArgumentsError, match="parameter 'a': given both by position and by name"
    ):
        registry.execute("echo", {"args": [1], "kwargs": {"a": 2}})


def test_rule_2_value_is_the_first_argument(registry):
    assert registry.execute("one_arg", {"value": "hello"}) == "hello"
    assert registry.execute("takes_object", {"value": {"k": 1}}) == {"k": 1}
    with pytest.raises(
        InvalidArgumentsError, match="'value' cannot be mixed with other keys \\(extra\\)"
    ):
        registry.execute("one_arg", {"value": "x", "extra": 1})


def test_rule_3_keys_that_are_all_parameter_names(registry):
    assert registry.execute("typed", {"count": 2, "flag": True}) == {
        "count": 2,
        "flag": True,
        "ratio": 1.0,
    }
    assert registry.execute("keyword_only", {"size": 3}) == 3


def test_rule_4_payload_is_the_first_argument(registry):
    assert registry.execute("takes_object", {"k": 1, "z": [2]}) == {"k": 1, "z": [2]}
    with pytest.raises(
        InvalidArgumentsError, match="parameter 'text': Expected `str`, got `object`"
    ):
        registry.execute("one_arg", {"unknown": 1})


def test_extra_keys_beside_parameter_names_are_named(registry):
    # Not "parameter 'n': Expected `int`, got `object`" from rule 4: the caller meant n.
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("half", {"n": 2, "bogus": 1})
    assert str(caught.value) == (
        "Invalid arguments for 'half': unexpected argument 'bogus'; half takes n"
    )
    with pytest.raises(
        InvalidArgumentsError,
        match="unexpected arguments 'colour', 'shade'; typed takes count, flag, ratio",
    ):
        registry.execute("typed", {"count": 1, "colour": "red", "shade": 2})
    with pytest.raises(InvalidArgumentsError, match="unexpected argument 'colour'; keyword_only"):
        registry.execute("keyword_only", {"size": 1, "colour": "red"})
    # Keys that match no parameter at all still make the payload the first argument.
    assert registry.execute("takes_object", {"k": 1}) == {"k": 1}
    assert registry.execute("half", {"n": 3}) == 1.5


def test_empty_or_null_payload_calls_with_no_arguments(registry):
    assert registry.execute("no_args") == "none"
    assert registry.execute("no_args", {}) == "none"
    assert registry.execute("no_args", None) == "none"


def test_payload_for_a_function_without_positional_parameters(registry):
    with pytest.raises(InvalidArgumentsError, match="parameter 'x': unknown argument"):
        registry.execute("no_args", {"x": 1})
    with pytest.raises(InvalidArgumentsError, match="parameter 'colour': unknown argument"):
        registry.execute("keyword_only", {"colour": 1})


def test_reserved_keys_that_are_parameter_names_mean_the_parameter(registry):
    assert registry.execute("with_value", {"x": 1, "value": 2}) == [1, 2]
    assert registry.execute("with_value", {"value": 2}) == [0, 2]
    assert registry.execute("with_args_param", {"args": [1, 2]}) == [1, 2]


def test_payload_must_be_an_object_or_null(registry):
    for payload in ([1, 2], "text", 3):
        with pytest.raises(InvalidArgumentsError, match="payload must be an object or null"):
            registry.execute("echo", payload)


def test_unknown_function(registry):
    with pytest.raises(UnknownFunctionError) as caught:
        registry.execute("nope")
    assert caught.value.function_name == "nope"
    assert "echo" in caught.value.available
    assert caught.value.status_code == 404
    with pytest.raises(UnknownFunctionError):
        registry.execute(None)  # type: ignore[arg-type]


def test_names_are_trimmed_and_case_insensitive(registry):
    assert registry.execute("  No_Args \n") == "none"
    assert registry.get(" ECHO ").name == "echo"
    assert registry.get("missing") is None
    assert registry.get(3) is None  # type: ignore[arg-type]


# --- strict validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "parameter", "reason"),
    [
        ({"count": "two"}, "count", "Expected `int`, got `str`"),
        ({"count": 3.9}, "count", "Expected `int`, got `float`"),
        ({"count": 3.0}, "count", "Expected `int`, got `float`"),
        ({"count": True}, "count", "Expected `int`, got `bool`"),
        ({"count": 1, "flag": "false"}, "flag", "Expected `bool`, got `str`"),
        ({"count": 1, "flag": 0}, "flag", "Expected `bool`, got `int`"),
        ({"count": 1, "ratio": "1.5"}, "ratio", "Expected `float`, got `str`"),
        ({"flag": True}, "count", "missing required argument"),
        (
            {"count": 1, "bogus": 2},
            None,
            "unexpected argument 'bogus'; typed takes count, flag, ratio",
        ),
    ],
)
def test_strictness(registry, payload, parameter, reason):
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("typed", payload)
    error = caught.value
    assert error.function_name == "typed"
    assert error.status_code == 400
    if parameter is None:  # an unknown key beside known ones: named, no parameter at fault
        assert (error.parameter, error.reason) == (None, reason)
        assert str(error) == f"Invalid arguments for 'typed': {reason}"
    else:
        assert (error.parameter, error.reason) == (parameter, reason)
        assert str(error) == f"Invalid arguments for 'typed': parameter {parameter!r}: {reason}"


def test_unknown_key_next_to_known_ones(registry):
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("typed", {"args": [1], "kwargs": {"bogus": 2}})
    assert (caught.value.parameter, caught.value.reason) == ("bogus", "unknown argument")


def test_integers_are_accepted_for_floats(registry):
    assert registry.execute("typed", {"count": 1, "ratio": 2}) == {
        "count": 1,
        "flag": False,
        "ratio": 2.0,
    }


def test_nested_errors_name_the_path(registry):
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("order", {"lines": [{"id": 1}, {"id": "x"}]})
    assert (caught.value.parameter, caught.value.reason) == (
        "lines[1].id",
        "Expected `int`, got `str`",
    )
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("order", {"lines": [{"qty": 2}]})
    assert (caught.value.parameter, caught.value.reason) == (
        "lines[0].id",
        "missing required field",
    )
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("order", {"lines": [], "color": "green"})
    assert caught.value.parameter == "color"
    assert "Invalid enum value 'green'" in caught.value.reason
    with pytest.raises(InvalidArgumentsError, match="parameter 'mode'"):
        registry.execute("pick", {"mode": "c"})


def test_values_are_converted_to_the_annotated_types(registry):
    assert registry.execute("order", {"lines": [{"id": 1}], "color": "red"}) == {
        "types": ["Line"],
        "color": "Color",
    }


def test_variadic_parameters(registry):
    assert registry.execute("variadic", {"args": [1, 2, 3]}) == {
        "first": 1,
        "rest": [2, 3],
        "extra": {},
    }
    assert registry.execute("variadic", {"first": 1, "rest": [4], "tag": "x"}) == {
        "first": 1,
        "rest": [4],
        "extra": {"tag": "x"},
    }
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("variadic", {"first": 1, "tag": 5})
    assert (caught.value.parameter, caught.value.reason) == ("tag", "Expected `str`, got `int`")
    with pytest.raises(InvalidArgumentsError, match="parameter 'rest\\[1\\]'"):
        registry.execute("variadic", {"args": [1, 2, "x"]})


def test_positional_only_parameters(registry):
    assert registry.execute("positional_only", {"args": [1]}) == [1, 2, 3]
    assert registry.execute("positional_only", {"a": 5, "c": 7}) == [5, 2, 7]
    assert registry.execute("positional_only", {"args": [1, 9], "kwargs": {"c": 0}}) == [1, 9, 0]


# --- the context --------------------------------------------------------------------------


def test_context_is_injected_wherever_it_stands(registry):
    context = FunctionContext("whatever", headers={"Authorization": "Bearer t"})
    result = registry.execute("context_first", {"city": "Paris"}, context)
    assert result["name"] == "context_first"  # always the tool's own name
    assert result["auth"] == "Bearer t"
    assert result["city"] == "Paris"
    assert registry.execute("context_middle", {"value": "Rome"}) == ["Rome", "context_middle", "c"]
    assert registry.execute("context_middle", {"args": ["Oslo", "f"]}) == [
        "Oslo",
        "context_middle",
        "f",
    ]
    assert registry.execute("context_only_positional", {"x": 4}) == ["context_only_positional", 4]
    assert registry.execute("context_star", {"args": [1, 2]}) == ["context_star", [1, 2]]


def test_context_request_is_passed_through(registry):
    marker = {"framework": "request"}
    context = FunctionContext("context_first", request=marker)
    assert registry.get("context_first")  # listed
    definition_result = registry.execute("context_first", {"city": "x"}, context)
    assert definition_result["request"] == {"framework": "request"}


def test_context_cannot_be_filled_by_the_payload(registry):
    with pytest.raises(InvalidArgumentsError, match="parameter 'ctx': unknown argument"):
        registry.execute("context_first", {"args": ["x"], "kwargs": {"ctx": {}}})


def test_function_context_headers_are_case_insensitive():
    context = FunctionContext("f", headers={"X-Api-Key": "k"})
    assert context.headers["x-api-key"] == "k"
    assert context.headers["X-API-KEY"] == "k"
    assert FunctionContext("f").headers == {}
    assert FunctionContext("f").request is None


# --- class tools --------------------------------------------------------------------------

CLASSES = """
from navai_core import FunctionContext

class Cart:
    made = 0

    def __init__(self, owner: str = "anon", items: list[str] | None = None):
        Cart.made += 1
        self.owner = owner
        self.items = items or []

    def add(self, sku: str, qty: int = 1) -> dict:
        self.items.extend([sku] * qty)
        return {"owner": self.owner, "items": self.items}

    def whoami(self, ctx: FunctionContext) -> str:
        return f"{self.owner}@{ctx.function_name}"

    @staticmethod
    def made_count() -> int:
        return Cart.made

    @classmethod
    def describe(cls, verbose: bool = False) -> str:
        return cls.__name__ + ("!" if verbose else "")

class Plain:
    def ping(self, n: int = 1) -> str:
        return "pong" * n
"""


@pytest.fixture
def classes(one):
    return one(CLASSES)


def test_instance_is_built_from_constructor_args_per_call(classes):
    assert classes.execute(
        "cart_add", {"constructorArgs": {"owner": "ana"}, "methodArgs": {"sku": "mug"}}
    ) == {
        "owner": "ana",
        "items": ["mug"],
    }
    assert classes.execute(
        "cart_add", {"constructorArgs": ["bo", ["tea"]], "methodArgs": ["mug", 2]}
    ) == {
        "owner": "bo",
        "items": ["tea", "mug", "mug"],
    }
    assert classes.execute("cart_add", {"methodArgs": {"sku": "x"}}) == {
        "owner": "anon",
        "items": ["x"],
    }
    assert classes.execute("cart_made_count") == 3


def test_static_and_class_methods_need_no_instance(classes):
    assert classes.execute("cart_describe", {"methodArgs": {"verbose": True}}) == "Cart!"
    assert classes.execute("cart_made_count") == 0
    with pytest.raises(InvalidArgumentsError, match="static or class method"):
        classes.execute("cart_describe", {"constructorArgs": {"owner": "x"}})
    assert classes.execute("cart_describe", {"constructorArgs": None}) == "Cart"


def test_class_tools_validate_both_argument_lists(classes):
    with pytest.raises(InvalidArgumentsError) as caught:
        classes.execute("cart_add", {"constructorArgs": {"owner": 5}, "methodArgs": {"sku": "x"}})
    assert caught.value.parameter == "constructorArgs.owner"
    with pytest.raises(InvalidArgumentsError) as caught:
        classes.execute("cart_add", {"methodArgs": {"qty": 2}})
    assert (caught.value.parameter, caught.value.reason) == (
        "methodArgs.sku",
        "missing required argument",
    )
    with pytest.raises(InvalidArgumentsError) as caught:
        classes.execute("cart_add", {"methodArgs": ["a", 1, 2]})
    assert caught.value.parameter == "methodArgs"
    with pytest.raises(InvalidArgumentsError, match="parameter 'methodArgs': must be a list"):
        classes.execute("cart_add", {"methodArgs": "mug"})
    with pytest.raises(InvalidArgumentsError, match="unknown key sku; a class method takes"):
        classes.execute("cart_add", {"sku": "mug"})
    with pytest.raises(
        InvalidArgumentsError, match=r"parameter 'constructorArgs\.x': unknown argument"
    ):
        classes.execute("plain_ping", {"constructorArgs": {"x": 1}})
    assert classes.execute("plain_ping", {"methodArgs": [2]}) == "pongpong"


def test_class_methods_receive_the_context(classes):
    assert (
        classes.execute("cart_whoami", {"constructorArgs": {"owner": "ana"}}) == "ana@cart_whoami"
    )


def test_keyword_names_must_be_strings(registry):
    with pytest.raises(InvalidArgumentsError, match="argument names must be strings"):
        registry.execute("variadic", {"first": 1, 5: "x"})


def test_nested_unknown_fields_in_strict_structs(one):
    registry = one(
        """
        import msgspec

        class Query(msgspec.Struct, forbid_unknown_fields=True):
            text: str

        def search(query: Query) -> str:
            return query.text
        """
    )
    assert registry.execute("search", {"query": {"text": "hi"}}) == "hi"
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("search", {"query": {"text": "hi", "extra": 1}})
    assert (caught.value.parameter, caught.value.reason) == ("query.extra", "unknown field")


def test_errors_inside_keyword_extras_name_the_path(one):
    registry = one("def f(**groups: list[int]) -> dict:\n    return groups\n")
    assert registry.execute("f", {"a": [1], "b": []}) == {"a": [1], "b": []}
    with pytest.raises(InvalidArgumentsError) as caught:
        registry.execute("f", {"a": [1, "x"]})
    assert (caught.value.parameter, caught.value.reason) == ("a[1]", "Expected `int`, got `str`")


def test_function_context_accepts_header_pairs():
    context = FunctionContext("f", headers=[("Accept-Language", "es"), ("X-Trace", "1")])
    assert context.headers["accept-language"] == "es"
