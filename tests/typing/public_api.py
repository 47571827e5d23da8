"""Only type-checked (mypy --strict), never run: the public API as users write it."""

from __future__ import annotations

import httpx

from navai_adapters import NavaiRequest, NavaiServerConfig
from navai_adapters.starlette import add_navai_routes, create_app
from navai_adapters.wsgi import NavaiWSGIApp
from navai_adapters.wsgi import create_app as create_wsgi_app
from navai_core import (
    AsyncNavaiBackendClient,
    BackendCall,
    BackendClientSecret,
    BackendFunction,
    BackendFunctionsResult,
    CreateClientSecretRequest,
    FunctionContext,
    NavaiBackendClient,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    RealtimeCall,
    RealtimeClientSecret,
    RetryPolicy,
    SynthesizedSpeech,
    SynthesizeSpeechRequest,
    acreate_realtime_call,
    acreate_realtime_client_secret,
    ahangup_realtime_call,
    asynthesize_speech,
    build_session_config,
    build_session_instructions,
    create_realtime_call,
    create_realtime_client_secret,
    hangup_realtime_call,
    load_navai_functions,
    navai_function,
    synthesize_speech,
)
from navai_core.exceptions import (
    AuthorizationError,
    BackendError,
    BackendFunctionError,
    NavaiError,
    UnknownBackendFunctionError,
    UnknownFunctionError,
)


def mint_sync(options: NavaiVoiceBackendOptions) -> str:
    secret: RealtimeClientSecret = create_realtime_client_secret(
        options, CreateClientSecretRequest(voice="marin")
    )
    expires: int | None = secret.expires_at
    return secret.value + str(expires)


async def mint_async(options: NavaiVoiceBackendOptions, client: httpx.AsyncClient) -> str:
    secret = await acreate_realtime_client_secret(options, {"model": "gpt-realtime"}, client=client)
    return secret.value


def speak(options: NavaiVoiceBackendOptions, client: httpx.Client) -> bytes:
    speech: SynthesizedSpeech = synthesize_speech(
        options, SynthesizeSpeechRequest(text="Hello", voice_id="v1"), client=client
    )
    mime: str = speech.mime_type
    return speech.audio + mime.encode()


async def aspeak(options: NavaiVoiceBackendOptions) -> str:
    speech = await asynthesize_speech(options, {"text": "Hola"})
    return speech.to_dict()["audioBase64"]


def instructions() -> str:
    return build_session_instructions("Be brief.", language="Spanish")


@navai_function
def greet(name: str, context: FunctionContext) -> str:
    return f"Hello {name} from {context.function_name}"


@navai_function(name="shout", description="Shout.", timeout=2.0)
def loud(text: str) -> str:
    return text.upper()


def registry_use() -> object:
    registry: NavaiFunctionRegistry = load_navai_functions(folders="src/ai/functions-modules")
    try:
        return registry.execute("greet", {"name": "Ada"})
    except UnknownFunctionError as error:
        return error.available
    except NavaiError as error:
        return error.status_code
    finally:
        registry.close()


def authorize(request: NavaiRequest) -> bool:
    if "authorization" not in request.headers:
        raise AuthorizationError("Sign in first.")
    return True


def apps() -> tuple[object, ...]:
    config = NavaiServerConfig(max_body_bytes=2048)
    starlette_app = create_app(authorize=authorize, max_body_bytes=config.max_body_bytes)
    wsgi_app: NavaiWSGIApp = create_wsgi_app(enable_functions=False)
    navai = add_navai_routes(starlette_app)
    return starlette_app, wsgi_app, navai.routes


def observed() -> object:
    from prometheus_client import CollectorRegistry

    from navai_adapters import NavaiObserver, current_request_id
    from navai_adapters.metrics import NavaiMetrics

    observer: NavaiObserver = NavaiMetrics(CollectorRegistry())  # satisfies the protocol
    request_id: str | None = current_request_id()
    return create_app(observer=observer, request_log=True), request_id


def backend_client_sync(transport: httpx.BaseTransport) -> object:
    with NavaiBackendClient(
        "http://localhost:8000",
        functions_list_path="/api/functions",
        headers={"Authorization": "Bearer t"},
        timeout=httpx.Timeout(10.0, connect=2.0),
        retry=RetryPolicy(max_attempts=1),
        transport=transport,
    ) as client:
        secret: BackendClientSecret = client.create_client_secret(
            CreateClientSecretRequest(model="gpt-realtime"), voice="marin"
        )
        listed: BackendFunctionsResult = client.list_functions(strict=True)
        first: BackendFunction = listed.functions[0]
        schema = first.parameters or {}
        warnings: tuple[str, ...] = listed.warnings
        speech: SynthesizedSpeech = client.synthesize_speech("Hola", voice_id="v1")
        audio: bytes = speech.audio
        try:
            return client.execute_function(first.name, {"a": 1})
        except BackendFunctionError as error:
            return (error.status_code, error.error, error.details, error.function_name)
        except UnknownBackendFunctionError as error:
            return error.available
        except BackendError as error:
            return (secret.value, schema, warnings, audio, error.text)


async def backend_client_async(client: httpx.AsyncClient) -> object:
    async with AsyncNavaiBackendClient(client=client) as backend:
        secret = await backend.create_client_secret(language="Spanish")
        listed = await backend.list_functions()
        speech = await backend.synthesize_speech("Hi")
        result = await backend.execute_function("add", None)
        return secret.expires_at, listed.functions, speech.mime_type, result


def identify(request: NavaiRequest) -> str | bool:
    # A string allows the request and names the caller for rate limits.
    return request.headers.get("x-user") or request.client_address is not None


async def aidentify(request: NavaiRequest) -> str | None:
    user: str | None = request.headers.get("x-user")
    return user


def limited_config() -> tuple[NavaiServerConfig, ...]:
    return (
        NavaiServerConfig(
            authorize=identify,
            rate_limits={"client_secret": "10/minute;100/day", "functions_execute": ["60/minute"]},
            rate_limit_storage="redis://127.0.0.1:6379/0",
            rate_limit_fail_open=False,
            trusted_proxies="10.0.0.0/8,127.0.0.1",
        ),
        NavaiServerConfig(authorize=aidentify),
    )


def call_sync(options: NavaiVoiceBackendOptions, offer: str) -> str:
    call: RealtimeCall = create_realtime_call(options, offer, {"voice": "marin"})
    hangup_realtime_call(options, call.call_id)
    session: dict[str, object] = build_session_config(options, CreateClientSecretRequest())
    return call.sdp + str(session)


async def call_async(options: NavaiVoiceBackendOptions, offer: str) -> str:
    async with httpx.AsyncClient() as client:
        call = await acreate_realtime_call(options, offer, client=client, safety_identifier="x")
        await ahangup_realtime_call(options, call.call_id, client=client)
    return call.call_id


def call_through_backend(client: NavaiBackendClient, offer: str) -> bool:
    call: BackendCall = client.start_call(offer, voice="marin")
    client.hangup_call(call.call_id)
    config = NavaiServerConfig(server_tools=True, max_sidebands=10, enable_functions_execute=False)
    return call.server_tools and config.server_tools
