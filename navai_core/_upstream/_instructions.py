"""Session instructions: the base text plus one line each for language, accent and tone."""

from __future__ import annotations

__all__ = ["build_session_instructions"]


def _pick(requested: str | None, default: str | None) -> str | None:
    """The request's value wins over the default; blank means unset."""
    for value in (requested, default):
        if value is not None and value.strip():
            return value.strip()
    return None


def build_session_instructions(
    default_instructions: str,
    *,
    instructions: str | None = None,
    language: str | None = None,
    voice_accent: str | None = None,
    voice_tone: str | None = None,
    default_language: str | None = None,
    default_voice_accent: str | None = None,
    default_voice_tone: str | None = None,
) -> str:
    r"""Build the instructions sent with a Realtime session.

    The base is ``instructions`` (else ``default_instructions``), stripped. Then, in
    this order and only for the values that are set (a request value wins over the
    default, a blank one counts as unset), one line each::

        Always reply in {language}.
        Use a {accent} accent while speaking.
        Use a {tone} tone while speaking.

    Lines are joined with ``\n``. The function is pure: same inputs, same text.

    Returns:
        The instructions, ready to send.
    """
    base = _pick(instructions, default_instructions)
    lines = [base] if base else []
    if chosen := _pick(language, default_language):
        lines.append(f"Always reply in {chosen}.")
    if chosen := _pick(voice_accent, default_voice_accent):
        lines.append(f"Use a {chosen} accent while speaking.")
    if chosen := _pick(voice_tone, default_voice_tone):
        lines.append(f"Use a {chosen} tone while speaking.")
    return "\n".join(lines)
