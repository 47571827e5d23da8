"""What one tool is: what running it needs, and its listing (description and schema).

A discovered candidate whose parameters were read is :class:`Pending`; once named, it is
an :class:`Entry`: the name, timeout and call target, settled at load, and the listed
:class:`FunctionDefinition`, built the first time it is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navai_core._functions._call import FunctionTarget, MethodTarget
from navai_core._functions._discovery import Candidate
from navai_core._functions._params import ToolParameters
from navai_core._functions._schema import SchemaBatch, read_doc

__all__ = ["Entry", "FunctionDefinition", "Pending", "ToolRef"]


@attrs.frozen
class FunctionDefinition:
    """One tool, as it is listed (run it through its registry).

    Attributes:
        name: The tool name (lower snake_case, unique in its registry).
        description: The decorator's description, else the docstring's summary, else
            ``Call exported function {name}.``.
        source: ``{relative path}#{qualified name}``, such as ``orders.py#Cart.total``.
        parameters: The JSON Schema of its arguments (an object schema; for a class
            method, one with ``constructorArgs`` and ``methodArgs``). Treat it as
            read-only: it is shared, not copied, on every listing.
        timeout_seconds: How long a call may take.
    """

    name: str
    description: str
    source: str
    parameters: dict[str, Any] = attrs.field(hash=False)
    timeout_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The listing form: ``name``, ``description``, ``source`` and ``parameters``."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "parameters": self.parameters,
        }


@attrs.frozen
class ToolRef:
    """A tool's canonical name and source, found without building its listing.

    Attributes:
        name: The tool name, as listed.
        source: ``{relative path}#{qualified name}``.
    """

    name: str
    source: str


def _init_descriptions(cls: type) -> Mapping[str, str]:
    """Constructor parameter descriptions: the class docstring's, then ``__init__``'s."""
    return {**read_doc(cls).params, **read_doc(cls.__init__).params}  # type: ignore[misc]


@attrs.frozen(eq=False)
class Pending:
    """A candidate whose parameters are read, waiting for its schema."""

    candidate: Candidate
    source: str
    spec: ToolParameters
    init: ToolParameters | None
    is_async: bool

    def hints(self) -> list[tuple[str, Any]]:
        """``(parameter, type)`` pairs to describe; constructor ones named as such."""
        hints = self.spec.hints()
        if self.init is not None:
            hints += [(f"constructor {name}", hint) for name, hint in self.init.hints()]
        return hints


class Entry:
    """One tool in a snapshot: what running it needs, and its listing, made on demand.

    Running needs only the name, timeout and target, all settled at load. The listing
    (description and schema) needs the docstrings, and parsing them is costly, so it
    waits until the tool is first listed or looked up, and is kept from then on.
    """

    __slots__ = (
        "_definition",
        "batch",
        "is_async",
        "name",
        "pending",
        "source",
        "target",
        "timeout_seconds",
    )

    def __init__(
        self, name: str, timeout_seconds: float, pending: Pending, batch: SchemaBatch
    ) -> None:
        self.name = name
        self.timeout_seconds = timeout_seconds
        self.pending = pending
        self.batch = batch
        self.source = pending.source
        self.is_async = pending.is_async
        candidate = pending.candidate
        self.target: FunctionTarget | MethodTarget
        if candidate.owner is None:
            self.target = FunctionTarget(func=candidate.func, spec=pending.spec)
        else:
            self.target = MethodTarget(
                owner=candidate.owner,
                attr=candidate.qualname.rpartition(".")[2],
                spec=pending.spec,
                init=pending.init,
            )
        self._definition: FunctionDefinition | None = None

    @property
    def definition(self) -> FunctionDefinition:
        """The listed form (built once; two threads racing build equal values)."""
        definition = self._definition
        if definition is None:
            doc = read_doc(self.pending.candidate.func)
            meta = self.pending.candidate.meta
            definition = self._definition = FunctionDefinition(
                name=self.name,
                description=(meta.description if meta else None)
                or doc.summary
                or f"Call exported function {self.name}.",
                source=self.source,
                parameters=self._parameters(doc.params),
                timeout_seconds=self.timeout_seconds,
            )
        return definition

    def _parameters(self, descriptions: Mapping[str, str]) -> dict[str, Any]:
        """The ``parameters`` schema (for a class method: constructor and method)."""
        batch, pending, needed = self.batch, self.pending, dict[str, None]()
        candidate = pending.candidate
        if candidate.owner is None:
            parameters = batch.object_schema(pending.spec, needed, descriptions)
        else:
            class_name = candidate.qualname.rpartition(".")[0]
            properties: dict[str, Any] = {}
            required: list[str] = []
            init = pending.init
            if init is not None and (init.field_info or init.var_keyword is not None):
                properties["constructorArgs"] = batch.object_schema(
                    init,
                    needed,
                    _init_descriptions(candidate.owner),
                    f"Arguments to construct {class_name}, by name (or a list, in order).",
                )
                if properties["constructorArgs"]["required"]:
                    required.append("constructorArgs")
            properties["methodArgs"] = batch.object_schema(
                pending.spec,
                needed,
                descriptions,
                f"Arguments of {candidate.qualname}, by name (or a list, in order).",
            )
            if properties["methodArgs"]["required"]:
                required.append("methodArgs")
            parameters = {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        if needed:
            parameters["$defs"] = batch.defs(needed)
        return parameters
