"""Hybrid voice, end to end from a terminal: OpenAI thinks, ElevenLabs speaks.

    NAVAI_TTS_PROVIDER=elevenlabs OPENAI_API_KEY=sk-... \\
    ELEVENLABS_API_KEY=... ELEVENLABS_VOICE_ID=... \\
        python examples/hybrid_voice.py "Hello! How can I help?" --out reply.mp3

It does what a browser does with a hybrid server, without the browser:

1. mints a client secret; with ``NAVAI_TTS_PROVIDER=elevenlabs`` the session is
   text-only (``output_modalities: ["text"]``) and the answer says
   ``"speech": {"provider": "elevenlabs"}``: the cue for the client to speak the
   assistant's text itself;
2. has ElevenLabs speak a text (in the browser: each assistant reply), as
   ``POST /navai/speech/synthesize`` would, and writes the audio to ``--out``.

Both calls share one pooled ``httpx.Client``. Settings come from the environment (see
docs/hybrid-voice.md). It prints one JSON line, ``{"speech": ..., "mimeType", "bytes",
"out"}``; on failure it prints the error to stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

from navai_core import (
    NavaiVoiceBackendOptions,
    SynthesizeSpeechRequest,
    create_realtime_client_secret,
    synthesize_speech,
)
from navai_core.exceptions import NavaiError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint a text-only session and speak a text.")
    parser.add_argument("text", help="what the assistant says")
    parser.add_argument("--out", type=Path, default=Path("reply.mp3"), help="audio file to write")
    parser.add_argument("--voice-id", help="ElevenLabs voice (default: ELEVENLABS_VOICE_ID)")
    parser.add_argument(
        "--format", help="such as mp3_44100_128 (default: ELEVENLABS_OUTPUT_FORMAT)"
    )
    args = parser.parse_args(argv)

    try:
        options = NavaiVoiceBackendOptions.from_env()
        if options.tts_provider != "elevenlabs":
            print("error: set NAVAI_TTS_PROVIDER=elevenlabs for hybrid voice.", file=sys.stderr)
            return 1
        with httpx.Client() as client:
            secret = create_realtime_client_secret(options, client=client)
            speech = synthesize_speech(
                options,
                SynthesizeSpeechRequest(
                    text=args.text, voice_id=args.voice_id, output_format=args.format
                ),
                client=client,
            )
    except NavaiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.out.write_bytes(speech.audio)
    summary = {
        "speech": secret.to_dict()["speech"],
        "mimeType": speech.mime_type,
        "bytes": len(speech.audio),
        "out": str(args.out),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
