"""Backend functions: discovery, tool definitions with JSON Schema, validated execution.

The public names are re-exported by :mod:`navai_core`; import them from there.
"""

from __future__ import annotations

from navai_core._functions._context import FunctionContext
from navai_core._functions._decorator import navai_function
from navai_core._functions._definition import FunctionDefinition, ToolRef
from navai_core._functions._registry import NavaiFunctionRegistry, load_navai_functions
from navai_core._functions._result import EncodedResult

__all__ = [
    "EncodedResult",
    "FunctionContext",
    "FunctionDefinition",
    "NavaiFunctionRegistry",
    "ToolRef",
    "load_navai_functions",
    "navai_function",
]
