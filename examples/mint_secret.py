"""Mint an OpenAI Realtime client secret from the environment and print it as JSON.

    OPENAI_API_KEY=sk-... python examples/mint_secret.py
    OPENAI_API_KEY=sk-... python examples/mint_secret.py --voice cedar --language Spanish

Every setting comes from the environment (OPENAI_API_KEY, OPENAI_BASE_URL,
OPENAI_REALTIME_MODEL, NAVAI_OPENAI_TIMEOUT, ...; see docs/configuration.md); the
flags fill in the request a browser would send. On success it prints
``{"value": "ek_...", "expires_at": ...}``; on failure it prints the error to stderr
and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from navai_core import (
    CreateClientSecretRequest,
    NavaiVoiceBackendOptions,
    create_realtime_client_secret,
)
from navai_core.exceptions import NavaiError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint an OpenAI Realtime client secret.")
    parser.add_argument("--model", help="model (default: OPENAI_REALTIME_MODEL or gpt-realtime)")
    parser.add_argument("--voice", help="voice (default: OPENAI_REALTIME_VOICE or marin)")
    parser.add_argument("--instructions", help="instructions for the session")
    parser.add_argument("--language", help="adds 'Always reply in {language}.'")
    parser.add_argument("--voice-accent", help="adds 'Use a {accent} accent while speaking.'")
    parser.add_argument("--voice-tone", help="adds 'Use a {tone} tone while speaking.'")
    args = parser.parse_args(argv)

    request = CreateClientSecretRequest(
        model=args.model,
        voice=args.voice,
        instructions=args.instructions,
        language=args.language,
        voice_accent=args.voice_accent,
        voice_tone=args.voice_tone,
    )
    try:
        options = NavaiVoiceBackendOptions.from_env()
        secret = create_realtime_client_secret(options, request)
    except NavaiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(secret.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
