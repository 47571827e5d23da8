"""NAVAI for Python: the core of a backend for OpenAI Realtime voice agents.

It mints short-lived client secrets (so browsers never hold the OpenAI key), has
ElevenLabs speak a text-only session's answers (hybrid voice), turns
Python functions in configured folders into tools, and runs them validated. No web
framework is imported here; :mod:`navai_adapters` puts this core behind HTTP, and
:class:`NavaiBackendClient` talks to such a backend from Python.
"""

from __future__ import annotations

from navai_core import exceptions
from navai_core._client import (
    AsyncNavaiBackendClient,
    BackendCall,
    BackendClientSecret,
    BackendFunction,
    BackendFunctionsResult,
    NavaiBackendClient,
)
from navai_core._config._options import (
    NavaiVoiceBackendOptions,
    RetryPolicy,
    get_navai_voice_backend_options_from_env,
)
from navai_core._config._speech_options import ElevenLabsVoiceSettings
from navai_core._functions import (
    FunctionContext,
    FunctionDefinition,
    NavaiFunctionRegistry,
    load_navai_functions,
    navai_function,
)
from navai_core._upstream._calls import (
    RealtimeCall,
    acreate_realtime_call,
    ahangup_realtime_call,
    create_realtime_call,
    hangup_realtime_call,
)
from navai_core._upstream._instructions import build_session_instructions
from navai_core._upstream._secrets import (
    ClientSecretUpstreamRequest,
    CreateClientSecretRequest,
    RealtimeClientSecret,
    acreate_realtime_client_secret,
    build_client_secret_request,
    create_realtime_client_secret,
    parse_client_secret_response,
)
from navai_core._upstream._session import build_session_config
from navai_core._upstream._speech import (
    SpeechUpstreamRequest,
    SynthesizedSpeech,
    SynthesizeSpeechRequest,
    asynthesize_speech,
    build_speech_request,
    parse_speech_response,
    synthesize_speech,
)

__all__ = [
    "AsyncNavaiBackendClient",
    "BackendCall",
    "BackendClientSecret",
    "BackendFunction",
    "BackendFunctionsResult",
    "ClientSecretUpstreamRequest",
    "CreateClientSecretRequest",
    "ElevenLabsVoiceSettings",
    "FunctionContext",
    "FunctionDefinition",
    "NavaiBackendClient",
    "NavaiFunctionRegistry",
    "NavaiVoiceBackendOptions",
    "RealtimeCall",
    "RealtimeClientSecret",
    "RetryPolicy",
    "SpeechUpstreamRequest",
    "SynthesizeSpeechRequest",
    "SynthesizedSpeech",
    "__version__",
    "acreate_realtime_call",
    "acreate_realtime_client_secret",
    "ahangup_realtime_call",
    "asynthesize_speech",
    "build_client_secret_request",
    "build_session_config",
    "build_session_instructions",
    "build_speech_request",
    "create_realtime_call",
    "create_realtime_client_secret",
    "exceptions",
    "get_navai_voice_backend_options_from_env",
    "hangup_realtime_call",
    "load_navai_functions",
    "navai_function",
    "parse_client_secret_response",
    "parse_speech_response",
    "synthesize_speech",
]

__version__ = "0.1.0"
