"""What a module exposes, and under which names."""

from __future__ import annotations

import pytest

from navai_core import navai_function
from navai_core._functions._naming import normalize_name
from navai_core.exceptions import InvalidOptionError


def test_only_public_functions_and_classes_defined_in_the_module(one):
    registry = one(
        """
        import os
        from os import system
        from os.path import join as path_join
        from json import JSONDecoder

        VALUE = 3
        handler = print

        def _private():
            return 1

        def public():
            return 2

        class _Hidden:
            def run(self):
                return 3
        """
    )
    assert registry.names == ["public"]


def test_all_lists_exactly_what_is_exposed_including_reexports(tree, load):
    tree(
        {
            "tools/helpers.py": "def shared():\n    return 'shared'\n",
            "tools/api.py": """
            import os.path
            from os.path import basename
            __all__ = ["visible", "basename", "_secret", "missing", "CONSTANT", 7]
            CONSTANT = 1

            def visible():
                return 1

            def invisible():
                return 2

            def _secret():
                return 3
            """,
        }
    )
    registry = load("tools/api.py")
    assert registry.names == ["visible", "basename"]
    assert registry.get("basename").source == "tools/api.py#basename"


def test_helpers_with_empty_all_expose_nothing(tree, load):
    tree(
        {
            "tools/_helpers.py": "__all__ = []\ndef util():\n    return 1\n",
            "tools/a.py": "def a1():\n    return 1\n",
        }
    )
    assert load("tools").names == ["a1"]


def test_class_methods_become_tools(one):
    registry = one(
        """
        class ShoppingCart:
            def __init__(self, owner: str = "anon"):
                self.owner = owner

            def addItem(self, sku: str) -> str:
                return f"{self.owner}:{sku}"

            def total(self) -> int:
                return 0

            def _private(self):
                return 1

            @staticmethod
            def catalog() -> list[str]:
                return ["a"]

            @classmethod
            def kind(cls) -> str:
                return cls.__name__

            @property
            def size(self) -> int:
                return 0

            LIMIT = 3
        """
    )
    assert registry.names == [
        "shopping_cart_add_item",
        "shopping_cart_total",
        "shopping_cart_catalog",
        "shopping_cart_kind",
    ]
    assert registry.get("shopping_cart_add_item").source == "tools.py#ShoppingCart.addItem"


def test_inherited_methods_from_scanned_classes_but_not_from_libraries(one):
    registry = one(
        """
        import collections

        class Base:
            def greet(self) -> str:
                return "base"

            def shared(self) -> str:
                return "base"

        class Child(Base):
            def shared(self) -> str:
                return "child"

        class Counter(collections.Counter):
            def top(self) -> int:
                return 1
        """
    )
    assert registry.names == [
        "base_greet",
        "base_shared",
        "child_shared",
        "child_greet",
        "counter_top",
    ]
    assert registry.execute("child_shared") == "child"
    assert registry.execute("child_greet") == "base"


def test_data_classes_enums_exceptions_protocols_and_abstract_classes_give_no_tools(one):
    registry = one(
        """
        import abc
        import dataclasses
        import enum
        import typing

        @dataclasses.dataclass
        class Item:
            id: int

        class Color(enum.Enum):
            RED = "red"

            def describe(self) -> str:
                return self.value

        class Oops(Exception):
            def explain(self) -> str:
                return "oops"

        class Greeter(typing.Protocol):
            def greet(self) -> str: ...

        class Service(abc.ABC):
            @abc.abstractmethod
            def run(self) -> None: ...

        def uses(item: Item, color: Color) -> str:
            return color.value
        """
    )
    assert registry.names == ["uses"]


def test_async_functions_are_exposed(one):
    registry = one("async def fetch() -> int:\n    return 1\n")
    assert registry.names == ["fetch"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("get_weather", "get_weather"),
        ("getWeather", "get_weather"),
        ("ShoppingCart_addItem", "shopping_cart_add_item"),
        ("HTTPServer", "http_server"),
        ("parseHTTPResponse2", "parse_http_response2"),
        ("Cart_total", "cart_total"),
        ("__weird--name__", "weird_name"),
        ("café con leche", "cafe_con_leche"),
        ("a__b", "a_b"),
        ("日本", ""),
        ("v2Api", "v2_api"),
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_camel_case_function_names_are_normalised(one):
    assert one("def getUserName() -> str:\n    return 'x'\n").names == ["get_user_name"]


def test_collisions_get_suffixes_and_a_warning(tree, load):
    tree(
        {
            "a.py": "def getItem():\n    return 'a'\n",
            "b.py": "def get_item():\n    return 'b'\n",
            "c.py": "def get_item():\n    return 'c'\n",
        }
    )
    registry = load()
    assert registry.names == ["get_item", "get_item_2", "get_item_3"]
    assert registry.execute("get_item_3") == "c"
    assert registry.warnings == [
        (
            "[navai] Function name 'get_item' from b.py#get_item is already used by a.py#getItem; "
            "it is exposed as 'get_item_2'."
        ),
        (
            "[navai] Function name 'get_item' from c.py#get_item is already used by a.py#getItem; "
            "it is exposed as 'get_item_3'."
        ),
    ]


def test_decorator_name_description_and_timeout(one):
    registry = one(
        """
        from navai_core import navai_function

        @navai_function(name="Lookup Order", description="Find an order.", timeout=1.5)
        def find(order_id: str) -> str:
            '''Docstring summary that loses to the decorator.'''
            return order_id

        @navai_function
        def plain() -> int:
            '''Plain summary.'''
            return 1

        @navai_function(name="basket", timeout=4)
        class Cart:
            def total(self) -> int:
                return 0

            @navai_function(name="cart_checkout", timeout=2, description="Pay.")
            def checkout(self) -> str:
                return "paid"

            @navai_function(timeout=3)
            @staticmethod
            def prices() -> dict[str, int]:
                return {}
        """,
        timeout_seconds=9,
    )
    assert registry.names == [
        "lookup_order",
        "plain",
        "basket_total",
        "cart_checkout",
        "basket_prices",
    ]
    found = registry.get("lookup_order")
    assert (found.description, found.timeout_seconds, found.source) == (
        "Find an order.",
        1.5,
        "tools.py#find",
    )
    assert registry.get("plain").timeout_seconds == 9
    assert registry.get("basket_total").timeout_seconds == 4
    assert registry.get("cart_checkout").timeout_seconds == 2
    assert registry.get("cart_checkout").description == "Pay."
    assert registry.get("basket_prices").timeout_seconds == 3
    assert registry.get("basket_total").description == "Call exported function basket_total."


def test_decorator_returns_the_object_itself():
    def f() -> int:
        return 1

    assert navai_function(f) is f
    assert navai_function(name="x")(f) is f
    assert f() == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "***"}, "not a usable tool name"),
        ({"name": 5}, "not a usable tool name"),
        ({"description": 5}, "must be a string"),
        ({"timeout": 0}, "above 0"),
        ({"timeout": -1}, "above 0"),
        ({"timeout": True}, "above 0"),
        ({"timeout": "5"}, "above 0"),
        ({"timeout": float("inf")}, "above 0"),
    ],
)
def test_decorator_refuses_bad_values(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        navai_function(**kwargs)


def test_a_bad_decorator_fails_its_module_with_a_warning(one):
    registry = one(
        "from navai_core import navai_function\n@navai_function(timeout=0)\ndef f():\n    pass\n"
    )
    assert registry.items == ()
    assert registry.warnings[0].startswith("[navai] Failed to load tools.py: InvalidOptionError: ")


def test_require_decorator_exposes_only_marked_names(one):
    source = """
    from navai_core import navai_function

    @navai_function
    def marked() -> int:
        return 1

    def unmarked() -> int:
        return 2

    @navai_function
    class Marked:
        def run(self) -> int:
            return 3

    class Mixed:
        def unmarked(self) -> int:
            return 4

        @navai_function
        def marked(self) -> int:
            return 5
    """
    assert one(source, require_decorator=True).names == ["marked", "marked_run", "mixed_marked"]
    assert one(source, env={"NAVAI_FUNCTIONS_REQUIRE_DECORATOR": "true"}).names == [
        "marked",
        "marked_run",
        "mixed_marked",
    ]
    assert len(one(source).names) == 5


def test_unusable_names_are_skipped_with_a_warning(one):
    registry = one("def 日本語() -> int:\n    return 1\n")
    assert registry.items == ()
    assert registry.warnings == [
        (
            "[navai] Skipped tools.py#日本語: '日本語' does not give a tool name; "
            "name it with @navai_function(name=...)."
        )
    ]


def test_aliases_add_no_second_tool(one):
    registry = one(
        """
        def find_order(order_id: str) -> str:
            return order_id

        lookup = find_order

        class Cart:
            def total(self) -> int:
                return 0

        Basket = Cart
        """
    )
    assert registry.names == ["find_order", "cart_total"]
