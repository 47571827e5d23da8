"""Only type-checked (mypy --strict), never run: the public API as users write it."""

from __future__ import annotations

import httpx

from navai_adapters import NavaiRequest, NavaiServerConfig
from navai_adapters.starlette import add_navai_routes, create_app
from navai_adapters.wsgi import NavaiWSGIApp
from navai_adapters.wsgi import create_app as create_wsgi_app
from navai_core import (
    CreateClientSecretRequest,
    FunctionContext,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    RealtimeClientSecret,
    acreate_realtime_client_secret,
    build_session_instructions,
    create_realtime_client_secret,
    load_navai_functions,
    navai_function,
)
from navai_core.exceptions import AuthorizationError, NavaiError, UnknownFunctionError


def mint_sync(options: NavaiVoiceBackendOptions) -> str:
    secret: RealtimeClientSecret = create_realtime_client_secret(
        options, CreateClientSecretRequest(voice="marin")
    )
    expires: int | None = secret.expires_at
    return secret.value + str(expires)


async def mint_async(options: NavaiVoiceBackendOptions, client: httpx.AsyncClient) -> str:
    secret = await acreate_realtime_client_secret(options, {"model": "gpt-realtime"}, client=client)
    return secret.value


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
