"""JSON Schema of each tool's parameters, and descriptions from docstrings."""

from __future__ import annotations

import textwrap

import pytest

from navai_core import load_navai_functions
from tests.schemas import assert_schema

TYPES_MODULE = """
from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal, Optional, TypedDict

import attrs
import msgspec


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(TypedDict):
    street: str
    zip: int


@dataclasses.dataclass
class Item:
    id: int
    qty: int = 1


@attrs.define
class Point:
    x: float
    y: float = 0.0


def c_str(x: str): pass
def c_int(x: int): pass
def c_float(x: float): pass
def c_bool(x: bool): pass
def c_none(x: None): pass
def c_opt(x: Optional[int]): pass
def c_union(x: int | str): pass
def c_lit(x: Literal["a", "b"]): pass
def c_litint(x: Literal[1, 2]): pass
def c_enum(x: Color): pass
def c_intenum(x: Level): pass
def c_list(x: list[int]): pass
def c_barelist(x: list): pass
def c_tuple(x: tuple[int, str]): pass
def c_vartuple(x: tuple[int, ...]): pass
def c_dict(x: dict[str, int]): pass
def c_baredict(x: dict): pass
def c_set(x: set[str]): pass
def c_typeddict(x: Address): pass
def c_dataclass(x: Item): pass
def c_attrs(x: Point): pass
def c_listdc(x: list[Item]): pass
def c_annot(x: Annotated[int, msgspec.Meta(ge=1, description="Positive.")]): pass
def c_date(x: datetime.date): pass
def c_uuid(x: uuid.UUID): pass
def c_decimal(x: decimal.Decimal): pass
def c_any(x: Any): pass
def c_object(x: object): pass
def c_unannotated(x): pass
"""

ITEM = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "qty": {"type": "integer", "default": 1}},
    "required": ["id"],
}

CASES = {
    "c_str": {"type": "string"},
    "c_int": {"type": "integer"},
    "c_float": {"type": "number"},
    "c_bool": {"type": "boolean"},
    "c_none": {"type": "null"},
    "c_opt": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "c_union": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    "c_lit": {"enum": ["a", "b"]},
    "c_litint": {"enum": [1, 2]},
    "c_enum": {"enum": ["red", "blue"]},
    "c_intenum": {"enum": [1, 2]},
    "c_list": {"type": "array", "items": {"type": "integer"}},
    "c_barelist": {"type": "array"},
    "c_tuple": {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "items": False,
    },
    "c_vartuple": {"type": "array", "items": {"type": "integer"}},
    "c_dict": {"type": "object", "additionalProperties": {"type": "integer"}},
    "c_baredict": {"type": "object"},
    "c_set": {"type": "array", "items": {"type": "string"}},
    "c_typeddict": {
        "type": "object",
        "properties": {"street": {"type": "string"}, "zip": {"type": "integer"}},
        "required": ["street", "zip"],
    },
    "c_dataclass": ITEM,
    "c_attrs": {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
        "required": ["x"],
    },
    "c_listdc": {"type": "array", "items": ITEM},
    "c_annot": {"description": "Positive.", "type": "integer", "minimum": 1},
    "c_date": {"type": "string", "format": "date"},
    "c_uuid": {"type": "string", "format": "uuid"},
    "c_decimal": {"type": "string", "format": "decimal"},
    "c_any": {},
    "c_object": {},
    "c_unannotated": {},
}


@pytest.fixture(scope="module")
def types_registry(tmp_path_factory):
    base = tmp_path_factory.mktemp("types")
    (base / "types_module.py").write_text(TYPES_MODULE)
    registry = load_navai_functions(base, "types_module.py", env={})
    yield registry
    registry.close()


def test_no_warnings_for_supported_types(types_registry):
    assert types_registry.warnings == []
    assert sorted(types_registry.names) == sorted(CASES)


@pytest.mark.parametrize(("name", "expected"), CASES.items(), ids=list(CASES))
def test_type_hint_to_schema(types_registry, name, expected):
    parameters = types_registry.get(name).parameters
    assert_schema(
        parameters,
        {
            "type": "object",
            "properties": {"x": expected},
            "required": ["x"],
            "additionalProperties": False,
        },
    )
    assert list(parameters["properties"]) == ["x"]


def test_to_dict_has_exactly_the_listing_keys(types_registry):
    item = types_registry.get("c_int").to_dict()
    assert list(item) == ["name", "description", "source", "parameters"]
    assert item["description"] == "Call exported function c_int."
    assert item["source"] == "types_module.py#c_int"


def test_required_defaults_and_order(one):
    registry = one(
        """
        import enum
        class Mode(enum.Enum):
            FAST = "fast"
        SENTINEL = object()

        def f(a: int, b: str = "x", *, c: bool = False, d: list[int] | None = None,
              e: Mode = Mode.FAST, g: object = SENTINEL, h: float = 1.5, k: tuple = (1, 2)):
            pass
        """
    )
    parameters = registry.get("f").parameters
    properties = parameters["properties"]
    assert list(properties) == ["a", "b", "c", "d", "e", "g", "h", "k"]
    assert parameters["required"] == ["a"]
    assert_schema(properties["b"], {"type": "string", "default": "x"})
    assert_schema(properties["c"], {"type": "boolean", "default": False})
    assert properties["d"]["default"] is None
    assert properties["e"]["default"] == "fast"
    assert "default" not in properties["g"]  # not JSON: not shown
    assert properties["h"]["default"] == 1.5
    assert properties["k"]["default"] == [1, 2]


def test_context_parameter_is_left_out_of_the_schema(one):
    registry = one(
        """
        from typing import Optional
        from navai_core import FunctionContext

        def f(ctx: FunctionContext, city: str):
            pass

        def g(city: str, ctx: "Optional[FunctionContext]" = None):
            pass
        """
    )
    for name in ("f", "g"):
        parameters = registry.get(name).parameters
        assert list(parameters["properties"]) == ["city"]
        assert parameters["required"] == ["city"]


def test_var_positional_and_var_keyword(one):
    registry = one(
        """
        def total(*numbers: float, **tags: str):
            pass

        def loose(**anything):
            pass
        """
    )
    parameters = registry.get("total").parameters
    assert list(parameters["properties"]) == ["numbers"]
    assert_schema(
        parameters["properties"]["numbers"], {"type": "array", "items": {"type": "number"}}
    )
    assert parameters["required"] == []
    assert_schema(parameters["additionalProperties"], {"type": "string"})
    assert registry.get("loose").parameters["additionalProperties"] is True


def test_recursive_types_keep_defs_in_the_parameters(one):
    registry = one(
        """
        from __future__ import annotations
        import dataclasses

        @dataclasses.dataclass
        class Node:
            value: int
            children: list[Node] = dataclasses.field(default_factory=list)

        def walk(root: Node, extra: list[Node] | None = None) -> int:
            return root.value + len(root.children)
        """
    )
    parameters = registry.get("walk").parameters
    assert_schema(parameters["properties"]["root"], {"$ref": "#/$defs/Node"})
    node = parameters["$defs"]["Node"]
    assert_schema(
        node["properties"]["children"], {"type": "array", "items": {"$ref": "#/$defs/Node"}}
    )
    assert registry.execute("walk", {"root": {"value": 1, "children": [{"value": 2}]}}) == 2


def test_unsupported_annotation_skips_the_tool_with_a_warning(one):
    registry = one(
        """
        import socket

        class Custom:
            pass

        def bad(sock: socket.socket, x: int):
            pass

        def also_bad(item: Custom = None):
            pass

        def good(x: int):
            pass
        """
    )
    assert registry.names == ["good"]
    assert registry.warnings[0].startswith(
        "[navai] Skipped tools.py#bad: parameter 'sock' has a type NAVAI cannot describe "
        "as JSON Schema (type <class 'socket.socket'> is not supported)"
    )
    assert "tools.py#also_bad: parameter 'item'" in registry.warnings[1]


def test_unresolvable_string_annotation_skips_the_tool(one):
    registry = one(
        """
        from __future__ import annotations
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from decimal import Decimal

        def price(amount: Decimal) -> str:
            return str(amount)

        def fine(x: int) -> int:
            return x
        """
    )
    assert registry.names == ["fine"]
    assert registry.warnings == [
        (
            "[navai] Skipped tools.py#price: cannot resolve its type hints "
            "(NameError: name 'Decimal' is not defined)."
        )
    ]


def test_two_context_parameters_skip_the_tool(one):
    registry = one(
        """
        from navai_core import FunctionContext
        def f(a: FunctionContext, b: FunctionContext):
            pass
        def g(*a: FunctionContext):
            pass
        """
    )
    assert registry.items == ()
    assert "both take the FunctionContext" in registry.warnings[0]
    assert "cannot take the FunctionContext" in registry.warnings[1]


def test_class_tool_schema(one):
    registry = one(
        """
        class Cart:
            '''A cart.

            Args:
                owner: Who owns it.
            '''

            def __init__(self, owner: str, discount: float = 0.0):
                self.owner = owner

            def add(self, sku: str, qty: int = 1) -> str:
                '''Add a product.

                Args:
                    sku: The product code.
                '''
                return sku

            def total(self) -> float:
                return 0.0

            @staticmethod
            def prices(currency: str) -> dict:
                return {}

        class NoInit:
            def ping(self) -> str:
                return "pong"
        """
    )
    add = registry.get("cart_add")
    assert add.description == "Add a product."
    assert_schema(
        add.parameters,
        {
            "type": "object",
            "properties": {
                "constructorArgs": {
                    "type": "object",
                    "description": "Arguments to construct Cart, by name (or a list, in order).",
                    "properties": {
                        "owner": {"description": "Who owns it.", "type": "string"},
                        "discount": {"type": "number", "default": 0.0},
                    },
                    "required": ["owner"],
                    "additionalProperties": False,
                },
                "methodArgs": {
                    "type": "object",
                    "description": "Arguments of Cart.add, by name (or a list, in order).",
                    "properties": {
                        "sku": {"description": "The product code.", "type": "string"},
                        "qty": {"type": "integer", "default": 1},
                    },
                    "required": ["sku"],
                    "additionalProperties": False,
                },
            },
            "required": ["constructorArgs", "methodArgs"],
            "additionalProperties": False,
        },
    )
    assert list(add.parameters["properties"]) == ["constructorArgs", "methodArgs"]
    assert registry.get("cart_total").parameters["required"] == ["constructorArgs"]
    prices = registry.get("cart_prices").parameters
    assert list(prices["properties"]) == ["methodArgs"]
    assert prices["required"] == ["methodArgs"]
    ping = registry.get("no_init_ping").parameters
    assert list(ping["properties"]) == ["methodArgs"]
    assert ping["required"] == []


def test_constructor_with_unsupported_type_skips_every_method(one):
    registry = one(
        """
        import socket
        class Bad:
            def __init__(self, sock: socket.socket):
                self.sock = sock
            def one(self) -> int:
                return 1
            def two(self) -> int:
                return 2
        class Unresolved:
            def __init__(self, x: "Missing"):
                pass
            def three(self) -> int:
                return 3
        """
    )
    assert registry.items == ()
    assert sorted(registry.warnings) == [
        (
            "[navai] Skipped tools.py#Bad.one: parameter 'constructor sock' has a type NAVAI "
            "cannot describe as JSON Schema (type <class 'socket.socket'> is not supported)."
        ),
        (
            "[navai] Skipped tools.py#Bad.two: parameter 'constructor sock' has a type NAVAI "
            "cannot describe as JSON Schema (type <class 'socket.socket'> is not supported)."
        ),
        (
            "[navai] Skipped tools.py#Unresolved.three: its constructor cannot resolve its type "
            "hints (NameError: name 'Missing' is not defined)."
        ),
    ]


# --- docstrings ---------------------------------------------------------------------------

GOOGLE = '''
    """Get the weather
    for a city.

    More details that are not part of the summary.

    Args:
        city (str): The city
            name.
        unit: The unit.
        *tags: Labels.

    Returns:
        dict: The weather.
    """
'''

NUMPY = '''
    """Get the weather for a city.

    Parameters
    ----------
    city : str
        The city name.
    unit : str, optional
        The unit.
    *tags : str
        Labels.
    """
'''

SPHINX = '''
    """Get the weather for a city.

    :param city: The city name.
    :param str unit: The unit.
    :param tags: Labels.
    :returns: The weather.
    """
'''


@pytest.mark.parametrize(
    ("doc", "city"),
    [(GOOGLE, "The city name."), (NUMPY, "The city name."), (SPHINX, "The city name.")],
    ids=["google", "numpy", "sphinx"],
)
def test_docstring_styles(one, doc, city):
    source = (
        "def get_weather(city: str, unit: str = 'c', *tags: str):\n"
        + textwrap.indent(textwrap.dedent(doc).strip("\n"), "    ")
        + "\n    pass\n"
    )
    definition = one(source).get("get_weather")
    assert definition.description == "Get the weather for a city."
    properties = definition.parameters["properties"]
    assert properties["city"]["description"] == city
    assert properties["unit"]["description"] == "The unit."
    assert properties["tags"]["description"] == "Labels."


@pytest.mark.parametrize(
    ("doc", "summary"),
    [
        ('"""One line."""', "One line."),
        ('"""\n    Starts on the second line.\n    """', "Starts on the second line."),
        ('"""Wrapped over\n    two lines.\n\n    Body."""', "Wrapped over two lines."),
        ('"""Has a colon: still a summary."""', "Has a colon: still a summary."),
        ('"""   """', "Call exported function f."),
        ('"""\n    Args:\n        x: Only a section.\n    """', "Call exported function f."),
    ],
)
def test_summaries(one, doc, summary):
    assert one(f"def f(x=1):\n    {doc}\n").get("f").description == summary


def test_broken_docstring_still_gives_a_summary(one):
    doc = '"""Summary here.\n\n    Args:\n        x\n    """'
    definition = one(f"def f(x=1):\n    {doc}\n").get("f")
    assert definition.description == "Summary here."


def test_annotated_description_wins_over_the_docstring(one):
    registry = one(
        """
        from typing import Annotated
        import msgspec

        def f(x: Annotated[int, msgspec.Meta(description="From the type.")], y: int):
            '''Do it.

            Args:
                x: From the docstring.
                y: Also from the docstring.
            '''
        """
    )
    properties = registry.get("f").parameters["properties"]
    assert properties["x"]["description"] == "From the type."
    assert properties["y"]["description"] == "Also from the docstring."


def test_parameter_description_wins_over_a_dataclass_docstring(one):
    registry = one(
        """
        import dataclasses

        @dataclasses.dataclass
        class Item:
            '''An item in the store.'''
            id: int

        def f(item: Item):
            '''Do it.

            Args:
                item: The item to use.
            '''
        """
    )
    assert registry.get("f").parameters["properties"]["item"]["description"] == "The item to use."


def test_items_and_get_return_the_same_definition_objects(types_registry):
    assert types_registry.get("c_int") is types_registry.get("C_INT ")
    assert types_registry.items[1] is types_registry.get(types_registry.names[1])


def test_mutually_recursive_types(one):
    registry = one(
        """
        from __future__ import annotations
        import dataclasses

        @dataclasses.dataclass
        class Folder:
            name: str
            files: list[File] = dataclasses.field(default_factory=list)

        @dataclasses.dataclass
        class File:
            name: str
            parent: Folder | None = None

        @dataclasses.dataclass
        class Drive:
            root: Folder
            backup: Folder | None = None

        def index(drive: Drive) -> int:
            return len(drive.root.files)
        """
    )
    parameters = registry.get("index").parameters
    drive = parameters["properties"]["drive"]
    assert drive["title"] == "Drive"  # not recursive itself: inlined
    assert_schema(drive["properties"]["root"], {"$ref": "#/$defs/Folder"})
    assert sorted(parameters["$defs"]) == ["File", "Folder"]
    assert (
        registry.execute("index", {"drive": {"root": {"name": "/", "files": [{"name": "a"}]}}}) == 1
    )


def test_unhashable_annotation_metadata(one):
    registry = one(
        """
        from typing import Annotated
        def f(x: Annotated[int, ["not", "hashable"]], y: Annotated[int, ["other"]] = 1) -> int:
            return x + y
        """
    )
    assert_schema(registry.get("f").parameters["properties"]["x"], {"type": "integer"})
    assert registry.execute("f", {"x": 2}) == 3


def test_decorated_functions_keep_their_signature(one):
    registry = one(
        """
        import functools

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)
            return wrapper

        @logged
        def add(a: int, b: int = 1) -> int:
            '''Add numbers.'''
            return a + b
        """
    )
    definition = registry.get("add")
    assert definition.description == "Add numbers."
    assert definition.parameters["required"] == ["a"]
    assert registry.execute("add", {"a": 2}) == 3


def test_unreadable_signature_skips_the_tool(one):
    registry = one(
        """
        def f(x: int) -> int:
            return x
        f.__signature__ = "not a signature"
        """
    )
    assert registry.items == ()
    assert registry.warnings[0].startswith("[navai] Skipped tools.py#f: cannot read its signature")


def test_loading_leaves_the_garbage_collector_as_it_was(one):
    import gc

    gc.disable()
    try:
        one("def f():\n    pass\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
    one("def f():\n    pass\n")
    assert gc.isenabled()


def test_annotated_description_on_a_referenced_type(one):
    registry = one(
        """
        import dataclasses
        from typing import Annotated
        import msgspec

        @dataclasses.dataclass
        class Item:
            id: int

        def f(item: Annotated[Item, msgspec.Meta(description="The item.")]):
            pass
        """
    )
    assert_schema(
        registry.get("f").parameters["properties"]["item"],
        {
            "type": "object",
            "properties": {"id": {"type": "integer"}},
            "required": ["id"],
            "description": "The item.",
        },
    )


def test_a_type_whose_own_hints_do_not_resolve_skips_only_its_tools(one):
    registry = one(
        """
        from __future__ import annotations
        import dataclasses
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from decimal import Decimal

        @dataclasses.dataclass
        class Price:
            amount: Decimal

        def charge(price: Price) -> int:
            return 1

        def fine(x: int) -> int:
            return x
        """
    )
    assert registry.names == ["fine"]
    assert registry.warnings == [
        (
            "[navai] Skipped tools.py#charge: parameter 'price' has a type NAVAI cannot describe "
            "as JSON Schema (NameError: name 'Decimal' is not defined)."
        )
    ]
