"""Talking to the upstream services: OpenAI and ElevenLabs."""
