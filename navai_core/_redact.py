"""Key-shaped text is never echoed: one pattern for every place that repeats input."""

from __future__ import annotations

import re

# OpenAI keys and ephemeral secrets: never echoed, even in the masked form OpenAI uses.
KEY_PATTERN = re.compile(r"\b(sk|ek|rk)[-_][A-Za-z0-9_\-*.]{3,}")


def redact_keys(text: str) -> str:
    """``text`` with anything shaped like an OpenAI key replaced by ``sk-***`` and the like."""
    return KEY_PATTERN.sub(lambda match: f"{match.group(1)}-***", text)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with each of ``secrets`` (the keys a call was made with) and key shapes hidden."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return redact_keys(text)
