"""Tool names: lower snake_case with only ``[a-z0-9_]``."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_name"]

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_OTHER = re.compile(r"[^a-z0-9]+")


def normalize_name(raw: str) -> str:
    """Turn a Python name (or a decorator's ``name=``) into a tool name.

    Models and clients match tool names as plain strings, so every name NAVAI lists has
    one predictable form: camelCase is split (``addItem`` -> ``add_item``,
    ``HTTPServer`` -> ``http_server``), accents are dropped (``café`` -> ``cafe``),
    anything else that is not a letter or digit becomes ``_``, repeats collapse and the
    ends are stripped. The result may be empty; the caller decides what that means.

    Args:
        raw: The name to normalise.

    Returns:
        The normalised name, possibly ``""``.
    """
    if not raw.isascii():
        decomposed = unicodedata.normalize("NFKD", raw)
        raw = "".join(char for char in decomposed if not unicodedata.combining(char))
    spaced = _CAMEL.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", raw))
    return _OTHER.sub("_", spaced.lower()).strip("_")
