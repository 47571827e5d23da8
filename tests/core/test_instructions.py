"""build_session_instructions: CONTRACT section 2, line by line."""

from __future__ import annotations

import pytest

from navai_core import (
    CreateClientSecretRequest,
    NavaiVoiceBackendOptions,
    build_client_secret_request,
    build_session_instructions,
)

BASE = "You are a helpful assistant."


def test_base_only() -> None:
    assert build_session_instructions(BASE) == BASE


def test_request_instructions_replace_the_default() -> None:
    assert (
        build_session_instructions(BASE, instructions="Talk like a pirate.")
        == "Talk like a pirate."
    )


@pytest.mark.parametrize("blank", [None, "", "   ", "\n\t"])
def test_blank_request_instructions_fall_back_to_the_default(blank: str | None) -> None:
    assert build_session_instructions(BASE, instructions=blank) == BASE


def test_base_is_stripped() -> None:
    assert build_session_instructions("  Be brief.\n") == "Be brief."
    assert build_session_instructions(BASE, instructions="\n  Be kind.  ") == "Be kind."


def test_all_three_lines_in_order() -> None:
    text = build_session_instructions(
        BASE, language="Spanish", voice_accent="Mexican", voice_tone="friendly"
    )
    assert text == (
        "You are a helpful assistant.\n"
        "Always reply in Spanish.\n"
        "Use a Mexican accent while speaking.\n"
        "Use a friendly tone while speaking."
    )


def test_order_does_not_depend_on_where_values_come_from() -> None:
    # Tone from the request, language from the defaults: still language, then tone.
    text = build_session_instructions(BASE, voice_tone="calm", default_language="French")
    assert text.split("\n") == [BASE, "Always reply in French.", "Use a calm tone while speaking."]


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"language": "German"}, "Always reply in German."),
        ({"default_language": "German"}, "Always reply in German."),
        ({"voice_accent": "British"}, "Use a British accent while speaking."),
        ({"default_voice_accent": "British"}, "Use a British accent while speaking."),
        ({"voice_tone": "warm"}, "Use a warm tone while speaking."),
        ({"default_voice_tone": "warm"}, "Use a warm tone while speaking."),
    ],
)
def test_each_line_alone(kwargs: dict[str, str], line: str) -> None:
    assert build_session_instructions(BASE, **kwargs) == f"{BASE}\n{line}"


@pytest.mark.parametrize(
    ("requested", "default", "kind", "line"),
    [
        ("language", "default_language", "Italian", "Always reply in {}."),
        ("voice_accent", "default_voice_accent", "Scottish", "Use a {} accent while speaking."),
        ("voice_tone", "default_voice_tone", "serious", "Use a {} tone while speaking."),
    ],
)
def test_request_value_wins_over_default(
    requested: str, default: str, kind: str, line: str
) -> None:
    text = build_session_instructions(BASE, **{requested: kind, default: "IGNORED"})
    assert text == f"{BASE}\n{line.format(kind)}"
    assert "IGNORED" not in text


@pytest.mark.parametrize("blank", ["", "  ", "\t"])
@pytest.mark.parametrize(
    ("requested", "default", "line"),
    [
        ("language", "default_language", "Always reply in Fallback."),
        ("voice_accent", "default_voice_accent", "Use a Fallback accent while speaking."),
        ("voice_tone", "default_voice_tone", "Use a Fallback tone while speaking."),
    ],
)
def test_blank_request_value_falls_back_to_default(
    requested: str, default: str, line: str, blank: str
) -> None:
    text = build_session_instructions(BASE, **{requested: blank, default: "Fallback"})
    assert text == f"{BASE}\n{line}"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_everywhere_adds_no_line(blank: str) -> None:
    text = build_session_instructions(
        BASE,
        language=blank,
        voice_accent=blank,
        voice_tone=blank,
        default_language=blank,
        default_voice_accent=blank,
        default_voice_tone=blank,
    )
    assert text == BASE


def test_values_are_stripped_inside_lines() -> None:
    text = build_session_instructions(BASE, language="  Spanish ", default_voice_tone=" calm\n")
    assert text == f"{BASE}\nAlways reply in Spanish.\nUse a calm tone while speaking."


def test_lines_are_joined_with_a_bare_newline() -> None:
    text = build_session_instructions(BASE, language="Spanish", voice_tone="calm")
    assert "\r" not in text
    assert text.count("\n") == 2
    assert not text.endswith("\n")


def test_pure() -> None:
    kwargs = {"language": "Spanish", "default_voice_accent": "Mexican"}
    assert build_session_instructions(BASE, **kwargs) == build_session_instructions(BASE, **kwargs)


def test_minted_session_uses_these_rules() -> None:
    options = NavaiVoiceBackendOptions(
        openai_api_key="sk-test-key",
        default_instructions="  Be brief.  ",
        default_language="English",
        default_voice_accent="Irish",
    )
    request = CreateClientSecretRequest(language="Spanish", voice_tone="cheerful", voice_accent=" ")
    body = build_client_secret_request(options, request).body
    assert body["session"]["instructions"] == (
        "Be brief.\n"
        "Always reply in Spanish.\n"
        "Use a Irish accent while speaking.\n"
        "Use a cheerful tone while speaking."
    )
