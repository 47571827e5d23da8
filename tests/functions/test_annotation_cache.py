"""Type hints read without ``typing.get_type_hints``: the same hints, or a fall-back to it.

Discovery evaluates string annotations itself (compiled once per text, evaluated in the
function's globals) and asks ``get_type_hints`` only when in doubt. Every test here
compares with ``get_type_hints(func, include_extras=True)`` on the running Python, and
checks which path was taken, so a fast path that gets a hint wrong, or silently stops
being taken, fails here.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
import typing
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from navai_core import FunctionContext
from navai_core._functions import _fast_introspection, _params
from navai_core._functions._params import SkipToolError

FAST = _fast_introspection.HINTS_ON_THIS_PYTHON
_names = itertools.count()

MakeModule = Callable[[str], ModuleType]


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeModule:
    """Import a module from source, under a fresh name (taken out of sys.modules after)."""

    def make(source: str) -> ModuleType:
        name = f"navai_annotation_test_{next(_names)}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, loaded)
        spec.loader.exec_module(loaded)
        return loaded

    return make


def read_hints(func: Any) -> dict[str, Any]:
    """The hints discovery reads (``_read_signature``'s, the fast path where it applies)."""
    return _params._read_signature(func, drop_first=False)[1]


def read_signature_stdlib(func: Any) -> tuple[list[Any], dict[str, Any]]:
    """What discovery reads with the fast paths switched off: the standard library's."""
    enabled = _fast_introspection.ENABLED
    _fast_introspection.ENABLED = False
    try:
        return _params._read_signature(func, drop_first=False)
    finally:
        _fast_introspection.ENABLED = enabled


def took_fast_path(func: Any) -> bool:
    return _fast_introspection.plain_type_hints(func) is not None


def assert_same_as_typing(func: Any, *, fast: bool) -> dict[str, Any]:
    """The hints equal ``get_type_hints``' (and print the same), by the expected path."""
    parameters, hints = _params._read_signature(func, drop_first=False)
    expected = typing.get_type_hints(func, include_extras=True)
    assert hints == expected
    # ``==`` alone is loose: ``Optional[int] == int | None``, ``Literal`` ignores order.
    assert repr(hints) == repr(expected)
    assert took_fast_path(func) is (fast and FAST)
    # The switch to the standard library gives the very same parameters and hints.
    stdlib_parameters, stdlib_hints = read_signature_stdlib(func)
    assert repr((parameters, hints)) == repr((stdlib_parameters, stdlib_hints))
    return hints


def skip_reason(func: Any) -> str:
    """The message of the SkipToolError discovery raises."""
    with pytest.raises(SkipToolError) as caught:
        read_hints(func)
    return str(caught.value)


def typing_error(func: Any) -> str:
    """The message discovery builds from ``get_type_hints``' own error."""
    with pytest.raises(Exception) as caught:  # whatever typing raises
        typing.get_type_hints(func, include_extras=True)
    return f"cannot resolve its type hints ({type(caught.value).__name__}: {caught.value})"


FUTURE_MODULE = """
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union

from navai_core import FunctionContext


class Meta:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Meta({self.text!r})"

    def __eq__(self, other: object) -> bool:  # each evaluation makes a new one
        return isinstance(other, Meta) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def everything(
    city: str,
    unit: Literal["celsius", "fahrenheit"],
    note: Annotated[str, "a note", Meta("x")],
    item: Item,
    items: list[Item],
    tagged: Annotated[Item, Meta("item")],
    by_name: dict[str, list[int]],
    either: Union[int, str],
    callback: Callable[[int], str],
    rest: tuple[int, ...],
    anything: Any,
    ctx: FunctionContext,
    days: int = 3,
    maybe: int | None = None,
    optional: Optional[int] = None,
    nested: list[Literal["a", "b"]] | None = None,
) -> None:
    pass


def unannotated_return(x: int):
    pass


def quoted_inside(items: list["Item"], by_id: dict[int, "Item"]) -> None:
    pass


@dataclasses.dataclass
class Item:
    id: int
"""


def test_future_annotations_match_get_type_hints(module: MakeModule) -> None:
    tools = module(FUTURE_MODULE)
    hints = assert_same_as_typing(tools.everything, fast=True)
    assert hints["item"] is tools.Item  # defined after the function: a forward reference
    assert hints["unit"] == typing.Literal["celsius", "fahrenheit"]
    assert typing.get_args(hints["unit"]) == ("celsius", "fahrenheit")
    assert hints["note"].__metadata__[0] == "a note"  # Annotated is kept
    assert hints["ctx"] is FunctionContext
    assert hints["return"] is type(None)
    assert_same_as_typing(tools.unannotated_return, fast=True)
    # ``list['Item']`` evaluates to a generic holding a string: get_type_hints' job.
    hints = assert_same_as_typing(tools.quoted_inside, fast=False)
    if sys.version_info >= (3, 11):  # 3.10's get_type_hints leaves it a string
        assert hints["items"] == list[tools.Item]


def test_same_text_resolves_in_each_functions_own_module(module: MakeModule) -> None:
    # Compiled once per text, but evaluated in each module's globals.
    source = """
        from __future__ import annotations
        def f(item: Item, items: list[Item]) -> Item:
            pass
        class Item:
            pass
    """
    first, second = module(source), module(source)
    assert read_hints(first.f)["item"] is first.Item
    assert read_hints(second.f)["item"] is second.Item
    assert read_hints(second.f)["items"] == list[second.Item]


def test_default_none_is_what_get_type_hints_makes_of_it(module: MakeModule) -> None:
    # Python 3.10's get_type_hints adds Optional[...] for a None default; later ones do
    # not. Either way discovery agrees with it (3.10 always takes get_type_hints).
    tools = module(
        """
        from __future__ import annotations
        def f(x: int = None, *, y: str = None, z: int | None = None) -> None:
            pass
        """
    )
    hints = assert_same_as_typing(tools.f, fast=True)
    if sys.version_info >= (3, 11):
        assert hints["x"] is int


def test_method_annotations_use_the_module_not_the_class(module: MakeModule) -> None:
    tools = module(
        """
        from __future__ import annotations

        class Cart:
            Item = int  # a class attribute, not what the annotations mean

            def add(self, item: Item, qty: int = 1) -> Cart:
                pass

            @classmethod
            def make(cls, items: list[Item]) -> Cart:
                pass

        class Item:
            pass
        """
    )
    hints = assert_same_as_typing(tools.Cart.add, fast=True)
    assert hints["item"] is tools.Item
    assert hints["return"] is tools.Cart
    assert_same_as_typing(tools.Cart.__dict__["make"].__func__, fast=True)


def test_annotations_that_are_not_strings(module: MakeModule) -> None:
    tools = module(
        """
        from typing import Annotated, List, Literal, Optional

        def plain(a: int, b: Literal["x", "y"], c: Annotated[str, "text"],
                  d: Optional[int] = None, e: None = None) -> None:
            pass

        def quoted(a: "Item", b: Literal["Item"]) -> "Item":
            pass

        def inside_builtin_generic(a: list["Item"]):
            pass

        def inside_typing_generic(a: List["Item"], b: Annotated["Item", "meta"]):
            pass

        class Item:
            pass
        """
    )
    hints = assert_same_as_typing(tools.plain, fast=True)
    assert hints["e"] is type(None)
    assert assert_same_as_typing(tools.quoted, fast=True)["a"] is tools.Item
    # A string inside a generic is evaluated by get_type_hints: the fast path steps aside.
    hints = assert_same_as_typing(tools.inside_builtin_generic, fast=False)
    if sys.version_info >= (3, 11):  # 3.10's get_type_hints leaves it a string
        assert hints["a"] == list[tools.Item]
    assert_same_as_typing(tools.inside_typing_generic, fast=False)


def test_unresolvable_names_skip_the_tool_with_typings_message(module: MakeModule) -> None:
    tools = module(
        """
        from __future__ import annotations
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from decimal import Decimal

        def parameter(amount: Decimal) -> str:
            pass

        def returned(amount: int) -> Missing:
            pass

        def nested(amounts: list[Missing]) -> None:
            pass

        def not_imported_here(items: Sequence[int], meta: msgspec.Meta) -> None:
            pass
        """
    )
    assert skip_reason(tools.parameter) == (
        "cannot resolve its type hints (NameError: name 'Decimal' is not defined)"
    )
    assert skip_reason(tools.parameter) == typing_error(tools.parameter)
    assert skip_reason(tools.returned) == typing_error(tools.returned)
    assert "'Missing'" in skip_reason(tools.returned)
    assert skip_reason(tools.nested) == typing_error(tools.nested)
    # Names resolve in the function's module only, whatever NAVAI's own modules import.
    assert skip_reason(tools.not_imported_here) == (
        "cannot resolve its type hints (NameError: name 'Sequence' is not defined)"
    )


def test_values_typing_rejects_skip_the_tool_with_typings_message(module: MakeModule) -> None:
    tools = module(
        """
        from typing import ClassVar, Final, Generic, Union

        def class_var(x: "ClassVar[int]"):
            pass

        def final(x: "Final[int]"):
            pass

        def bare_generic(x: "Generic"):
            pass

        def bare_union(x: "Union"):
            pass

        def a_tuple(x: "int, str"):
            pass

        def not_an_expression(x: "int +"):
            pass
        """
    )
    for func in (
        tools.class_var,
        tools.final,
        tools.bare_generic,
        tools.bare_union,
        tools.a_tuple,
        tools.not_an_expression,
    ):
        assert skip_reason(func) == typing_error(func)
    assert skip_reason(tools.not_an_expression) == (
        "cannot resolve its type hints "
        "(SyntaxError: Forward reference must be an expression -- got 'int +')"
    )


def test_values_left_to_get_type_hints(module: MakeModule) -> None:
    # Valid, but not a class or a parameterised generic: get_type_hints decides.
    tools = module(
        """
        from __future__ import annotations
        from typing import NewType, NoReturn, TypeVar

        T = TypeVar("T")
        UserId = NewType("UserId", int)

        def type_var(x: T) -> T:
            pass

        def new_type(x: UserId) -> NoReturn:
            pass

        def a_string(x: "int") -> None:  # the text is "'int'": a string once evaluated
            pass
        """
    )
    assert assert_same_as_typing(tools.type_var, fast=False)["x"] is tools.T
    assert assert_same_as_typing(tools.new_type, fast=False)["x"] is tools.UserId
    assert assert_same_as_typing(tools.a_string, fast=False)["x"] is int


@pytest.mark.skipif(sys.version_info < (3, 11), reason="unpacking syntax")
def test_unpacked_annotations_are_left_to_get_type_hints(module: MakeModule) -> None:
    tools = module(
        """
        from typing import TypeVarTuple
        Ts = TypeVarTuple("Ts")

        def unpacked(*args: *tuple[int, ...]):
            pass

        def inside(x: tuple[int, *tuple[str, ...]]):
            pass

        def as_text(*args: "*Ts"):
            pass

        def tuple_as_text(*args: "*tuple[int, ...]"):
            pass
        """
    )
    # get_type_hints turns ``*tuple[int, ...]`` into ``Unpack[tuple[int, ...]]``.
    assert_same_as_typing(tools.unpacked, fast=False)
    assert_same_as_typing(tools.inside, fast=False)
    assert_same_as_typing(tools.as_text, fast=False)
    assert_same_as_typing(tools.tuple_as_text, fast=False)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="type parameter syntax")
def test_type_parameters_are_left_to_get_type_hints(module: MakeModule) -> None:
    tools = module(
        """
        from __future__ import annotations

        def generic[T](x: T, items: list[T]) -> T:
            pass
        """
    )
    assert not took_fast_path(tools.generic)
    if sys.version_info >= (3, 13):
        assert_same_as_typing(tools.generic, fast=False)
    else:  # 3.12's get_type_hints cannot see T: the tool is skipped, with its message
        assert skip_reason(tools.generic) == typing_error(tools.generic)


def test_decorated_function_resolves_in_the_wrapped_functions_module(
    module: MakeModule,
) -> None:
    decorators = module(
        """
        import functools

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)
            return wrapper
        """
    )
    tools = module(
        f"""
        from __future__ import annotations
        from {decorators.__name__} import logged

        @logged
        def lookup(item: Item, count: int = 1) -> Item:
            pass

        class Item:
            pass
        """
    )
    # The wrapper's own globals (the decorators module) have no ``Item``; get_type_hints
    # follows __wrapped__ to the tools module, and so does discovery.
    hints = assert_same_as_typing(tools.lookup, fast=False)
    assert hints["item"] is tools.Item
    assert _fast_introspection.plain_parameters(tools.lookup) is None


def test_a_function_with_a_signature_takes_get_type_hints(module: MakeModule) -> None:
    tools = module(
        """
        from __future__ import annotations
        import inspect

        def f(x: int) -> None:
            pass

        f.__signature__ = inspect.signature(f)
        """
    )
    assert _fast_introspection.plain_parameters(tools.f) is None
    assert read_hints(tools.f) == typing.get_type_hints(tools.f, include_extras=True)


def test_no_annotations_reads_nothing(module: MakeModule) -> None:
    tools = module(
        """
        def f(x, y=1):
            pass
        """
    )
    assert read_hints(tools.f) == {}


def test_without_the_fast_path_get_type_hints_answers(
    module: MakeModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on Python 3.10 (and 3.14): the same hints, all from get_type_hints.
    tools = module(FUTURE_MODULE)
    monkeypatch.setattr(_fast_introspection, "HINTS_ON_THIS_PYTHON", False)
    assert _fast_introspection.plain_type_hints(tools.everything) is None
    hints = read_hints(tools.everything)
    assert hints == typing.get_type_hints(tools.everything, include_extras=True)


@pytest.mark.skipif(not FAST, reason="get_type_hints only on this Python")
def test_compiled_texts_are_bounded(module: MakeModule, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = module(
        """
        from __future__ import annotations
        def f(a: int, b: str, c: bytes, d: float) -> bool:
            pass
        """
    )
    monkeypatch.setattr(_fast_introspection, "_ANNOTATION_CODE", {})
    monkeypatch.setattr(_fast_introspection, "_ANNOTATION_CODE_LIMIT", 2)
    assert_same_as_typing(tools.f, fast=True)
    assert 0 < len(_fast_introspection._ANNOTATION_CODE) <= 2


def test_registry_loads_forward_references_and_literals(one: Callable[..., Any]) -> None:
    registry = one(
        """
        from __future__ import annotations
        import dataclasses
        from typing import Annotated, Literal

        import msgspec

        def order(
            item: Item,
            unit: Literal["kg", "lb"] = "kg",
            qty: Annotated[int, msgspec.Meta(ge=1)] = 1,
            note: str | None = None,
        ) -> None:
            pass

        @dataclasses.dataclass
        class Item:
            id: int
        """
    )
    assert registry.warnings == []
    properties = registry.get("order").parameters["properties"]
    assert properties["item"]["properties"] == {"id": {"type": "integer"}}
    assert properties["unit"] == {"enum": ["kg", "lb"], "default": "kg"}
    assert properties["qty"] == {"type": "integer", "minimum": 1, "default": 1}
    assert properties["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


SHAPES_MODULE = '''
from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import msgspec

from navai_core import FunctionContext


@dataclasses.dataclass
class Item:
    id: int
    tags: list[str] = dataclasses.field(default_factory=list)


def positional(a: int, b: str = "x", /, c: float = 1.5, *rest: int, flag: bool = False,
               **extra: str) -> dict[str, object]:
    """Every kind of parameter.

    Args:
        a: The first.
        rest: More numbers.
    """
    return {"a": a, "b": b, "c": c, "rest": list(rest), "flag": flag, "extra": extra}


def typed(item: Item, unit: Literal["kg", "lb"] = "kg",
          qty: Annotated[int, msgspec.Meta(ge=1)] = 1, ctx: FunctionContext | None = None,
          note: str | None = None) -> list[object]:
    return [item.id, unit, qty, ctx.function_name if ctx else None, note]


def untyped(x, y=2, *, z=None):
    return [x, y, z]


class Cart:
    """A cart.

    Args:
        owner: Whose it is.
    """

    def __init__(self, owner: str, discount: float = 0.0) -> None:
        self.owner = owner
        self.discount = discount

    def total(self, prices: list[float]) -> float:
        return sum(prices) * (1 - self.discount)

    @staticmethod
    def currency(code: str = "EUR") -> str:
        return code
'''

SHAPE_CALLS: list[tuple[str, dict[str, Any] | None]] = [
    ("positional", {"args": [1, "y", 2.5, 7, 8], "kwargs": {"flag": True, "more": "m"}}),
    ("positional", {"a": 1}),
    ("typed", {"item": {"id": 3, "tags": ["t"]}, "unit": "lb", "qty": 2}),
    ("untyped", {"x": [1], "z": "zz"}),
    ("cart_total", {"constructorArgs": {"owner": "ada", "discount": 0.5}, "methodArgs": [[2, 4]]}),
    ("cart_currency", None),
]


def test_both_paths_load_the_same_registry(
    tree: Callable[..., Any], load: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same listing and the same results, with the fast paths on and off.
    tree({"tools.py": SHAPES_MODULE, "future.py": FUTURE_MODULE})
    registries = {}
    for enabled in (True, False):
        monkeypatch.setattr(_fast_introspection, "ENABLED", enabled)
        registries[enabled] = load()
    fast_registry, stdlib_registry = registries[True], registries[False]
    # ``everything`` takes a Callable, which has no JSON Schema. Python 3.10's
    # get_type_hints leaves a string inside a builtin generic unresolved, so there
    # ``quoted_inside`` is skipped too, on both paths alike.
    assert fast_registry.warnings == stdlib_registry.warnings
    assert len(fast_registry.warnings) == (1 if sys.version_info >= (3, 11) else 2)
    listing = [item.to_dict() for item in fast_registry.items]
    assert repr(listing) == repr([item.to_dict() for item in stdlib_registry.items])
    assert {item["name"] for item in listing} >= {"positional", "typed", "untyped", "cart_total"}
    for name, payload in SHAPE_CALLS:
        assert fast_registry.execute(name, payload) == stdlib_registry.execute(name, payload)
    assert fast_registry.execute("positional", {"a": 1}) == {
        "a": 1,
        "b": "x",
        "c": 1.5,
        "rest": [],
        "flag": False,
        "extra": {},
    }
