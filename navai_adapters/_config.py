"""Server configuration shared by every adapter: paths, limits, functions, the auth hook."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from navai_adapters._auth import MIN_TOKEN_LENGTH, load_authorize_hook
from navai_adapters._ratelimit import STORAGE_SCHEMES, redacted_url
from navai_core._config._env import env_bool, env_float, env_int, env_list, env_str, from_env
from navai_core._ratelimit import RATE_LIMIT_ENV, Network, Rate, parse_networks, parse_rates
from navai_core.exceptions import InvalidOptionError

if TYPE_CHECKING:
    from navai_adapters._http import NavaiRequest
    from navai_adapters._observe import NavaiObserver
    from navai_core import NavaiFunctionRegistry

__all__ = ["AuthorizeHook", "NavaiServerConfig"]

#: ``authorize(request)``: return ``True``/``None`` to allow, ``False`` to refuse (403), or
#: raise :class:`~navai_core.exceptions.AuthorizationError` (401 unless told otherwise).
#: Returning a string allows too, and names the caller: rate limits count per identity
#: then, instead of per client address.
#: On the Starlette side it may be ``async``; under WSGI it must be a plain function.
AuthorizeHook = Callable[["NavaiRequest"], bool | str | Awaitable[bool | str | None] | None]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _path(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.startswith("/") or "?" in value or " " in value:
        msg = f"{attribute.name} must be a URL path starting with '/'. Received: {value!r}"
        raise InvalidOptionError(msg, option=attribute.name, value=value)


def _positive_int(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be a whole number of at least 1. Received: {value!r}"
        raise InvalidOptionError(msg, option=attribute.name, value=value)


def _token(_instance: object, _attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is None:
        return
    # The value is a secret: never put it in the message.
    if (
        not isinstance(value, str)
        or len(value) < MIN_TOKEN_LENGTH
        or value != "".join(value.split())
    ):
        msg = (
            f"auth_token (NAVAI_AUTH_TOKEN) must be at least {MIN_TOKEN_LENGTH} characters "
            "without spaces (the value is not shown). Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
        raise InvalidOptionError(msg, option="auth_token", variable="NAVAI_AUTH_TOKEN")


def _hook(value: Any) -> Any:
    # `authorize="myapp.auth:check"` names a hook, as NAVAI_AUTHORIZE does.
    return load_authorize_hook(value, variable="authorize") if isinstance(value, str) else value


def _rate_limits(value: Any) -> dict[str, tuple[Rate, ...]]:
    if not isinstance(value, Mapping):
        msg = (
            "rate_limits must map route names to rates, such as "
            f"{{'client_secret': '10/minute;100/day'}}. Received: {value!r}"
        )
        raise InvalidOptionError(msg, option="rate_limits", value=value)
    limits: dict[str, tuple[Rate, ...]] = {}
    for route, rates in value.items():
        if route not in RATE_LIMIT_ENV:
            known = ", ".join(RATE_LIMIT_ENV)
            msg = f"rate_limits has no route {route!r}: use one of {known}."
            raise InvalidOptionError(msg, option="rate_limits", value=value)
        try:
            parsed = parse_rates(rates)
        except (TypeError, ValueError) as error:
            msg = f"rate_limits[{route!r}]: {error}"
            raise InvalidOptionError(msg, option="rate_limits", value=rates) from None
        if parsed:
            limits[route] = parsed
    return limits


def _networks(value: Any) -> tuple[Network, ...]:
    try:
        return parse_networks(value)
    except ValueError as error:
        msg = f"trusted_proxies: {error}"
        raise InvalidOptionError(msg, option="trusted_proxies", value=value) from None


def _storage(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    scheme = value.split("://", 1)[0] if isinstance(value, str) and "://" in value else None
    if scheme not in STORAGE_SCHEMES:
        shown = redacted_url(value) if isinstance(value, str) else value
        msg = (
            f"{attribute.name} must be memory:// or a redis://, rediss:// or redis+unix:// "
            f"URL. Received: {shown!r}"
        )
        raise InvalidOptionError(msg, option=attribute.name, value=shown)


def _positive_float(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        msg = f"{attribute.name} must be a number greater than 0. Received: {value!r}"
        raise InvalidOptionError(msg, option=attribute.name, value=value)


def _origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(item.strip() for item in value if item.strip())


@attrs.frozen(kw_only=True)
class NavaiServerConfig:
    """How the HTTP routes are served. Every adapter takes the same config.

    Attributes:
        client_secret_path: Route minting client secrets (``POST``).
        functions_list_path: Route listing backend functions (``GET``).
        functions_execute_path: Route executing one (``POST``).
        speech_synthesize_path: Route speaking text through ElevenLabs (``POST``); it
            answers 404 (saying how to turn it on) unless ``tts_provider`` is ElevenLabs.
        enable_functions: ``False`` removes both functions routes.
        max_body_bytes: Larger request bodies are refused with 413 before being read whole.
        functions_base_dir: Where function folders are looked up (default: working dir).
        functions_folders: Discovery tokens (default: ``src/ai/functions-modules``).
        agents_folders: Agent folder names: a plain folder token then matches only
            ``{folder}/{agent}/`` (default: ``NAVAI_AGENTS_FOLDERS``, else every folder).
        functions_exclude: Globs never scanned (default: ``NAVAI_FUNCTIONS_EXCLUDE``).
        registry: A registry built by the caller; when given, no discovery is done.
        authorize: Called before every route runs; see :data:`AuthorizeHook`. A string
            ``"module:function"`` names a hook to import.
        cors_origins: Browser origins allowed by CORS (Starlette adapter only).
        auth_token: A shared secret every request must send as ``Authorization: Bearer
            <token>`` (compared in constant time; 401 otherwise). Checked before
            ``authorize``; both may be set.
        expose_load_warnings: ``True`` lists the functions' load warnings (file paths,
            import errors) in ``GET`` listing answers; by default they only go to the log.
        health_path: Route answering ``{"status": "ok"}`` (``GET``) to load balancers and
            probes, without authorization and without touching the functions.
        request_log: ``True`` gives every request an id (the caller's ``X-Request-ID``
            when plain, else a new one), sends it back as ``X-Request-ID``, puts it on
            every log line logged while the request is served, and logs one
            ``navai.access`` line per request.
        observer: Told of every request, tool call and mint, for metrics; see
            :class:`navai_adapters.metrics.NavaiMetrics`.
        rate_limits: Rates per route name (``client_secret``, ``functions_execute``,
            ``speech_synthesize``), such as ``{"client_secret": "10/minute;100/day"}``;
            none by default. Needs the ``ratelimit`` extra.
        rate_limit_storage: Where requests are counted: ``memory://`` (this process) or a
            Redis URL shared by every worker and machine.
        rate_limit_fail_open: When the storage fails, let requests through (``True``)
            or refuse them with 503 (``False``).
        rate_limit_storage_timeout: Seconds a Redis connect or command may take.
        trusted_proxies: Addresses or networks of the proxies whose ``X-Forwarded-For``
            names the client; none by default (the header is never believed).
        realtime_calls_path: Route relaying a browser's SDP offer to OpenAI (``POST``);
            ``{path}/{call_id}/hangup`` ends a call, ``{path}/{call_id}/attach`` hands a
            call made elsewhere to the server's tools.
        enable_realtime_calls: ``False`` removes the calls routes.
        enable_functions_execute: ``False`` removes the execute route only (with server
            tools, no browser needs it).
        server_tools: Run tools on the server, over each call's sideband WebSocket
            (needs the ``realtime`` extra); the session then carries the tools.
        max_sidebands: The most sidebands at once; a call beyond it is refused (503)
            before OpenAI is asked.
        sideband_idle_timeout: Seconds without an event after which a sideband closes.
        max_sdp_bytes: Larger SDP offers are refused with 413.
    """

    client_secret_path: str = attrs.field(default="/navai/realtime/client-secret", validator=_path)
    functions_list_path: str = attrs.field(default="/navai/functions", validator=_path)
    functions_execute_path: str = attrs.field(default="/navai/functions/execute", validator=_path)
    speech_synthesize_path: str = attrs.field(default="/navai/speech/synthesize", validator=_path)
    enable_functions: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_positive_int)
    functions_base_dir: str | os.PathLike[str] | None = None
    functions_folders: str | tuple[str, ...] | None = None
    agents_folders: str | tuple[str, ...] | None = None
    functions_exclude: str | tuple[str, ...] | None = None
    registry: NavaiFunctionRegistry | None = attrs.field(default=None, repr=False)
    authorize: AuthorizeHook | None = attrs.field(default=None, repr=False, converter=_hook)
    cors_origins: tuple[str, ...] = attrs.field(default=(), converter=_origins)
    auth_token: str | None = attrs.field(default=None, repr=False, validator=_token)
    expose_load_warnings: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )
    health_path: str = attrs.field(default="/navai/health", validator=_path)
    request_log: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    observer: NavaiObserver | None = attrs.field(default=None, repr=False)
    # Compared, not hashed (a dict): the config stays hashable, as it was.
    rate_limits: dict[str, tuple[Rate, ...]] = attrs.field(
        factory=dict, converter=_rate_limits, hash=False
    )
    rate_limit_storage: str = attrs.field(
        default="memory://", validator=_storage, repr=lambda url: repr(redacted_url(url))
    )
    rate_limit_fail_open: bool = attrs.field(
        default=True, validator=attrs.validators.instance_of(bool)
    )
    rate_limit_storage_timeout: float = attrs.field(default=0.5, validator=_positive_float)
    trusted_proxies: tuple[Network, ...] = attrs.field(default=(), converter=_networks)
    realtime_calls_path: str = attrs.field(default="/navai/realtime/calls", validator=_path)
    enable_realtime_calls: bool = attrs.field(
        default=True, validator=attrs.validators.instance_of(bool)
    )
    enable_functions_execute: bool = attrs.field(
        default=True, validator=attrs.validators.instance_of(bool)
    )
    server_tools: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    max_sidebands: int = attrs.field(default=100, validator=_positive_int)
    sideband_idle_timeout: float = attrs.field(default=600.0, validator=_positive_float)
    max_sdp_bytes: int = attrs.field(default=64 * 1024, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        paths = [self.health_path, self.client_secret_path, self.speech_synthesize_path]
        if self.enable_functions:
            paths.append(self.functions_list_path)
            if self.enable_functions_execute:
                paths.append(self.functions_execute_path)
        if self.enable_realtime_calls:
            paths.append(self.realtime_calls_path)
        if self.server_tools and not (self.enable_functions and self.enable_realtime_calls):
            msg = (
                "server_tools needs the functions (enable_functions) and the calls routes "
                "(enable_realtime_calls): the tools come from the registry, the calls "
                "from the calls route."
            )
            raise InvalidOptionError(msg, option="server_tools", value=self.server_tools)
        if len(set(paths)) != len(paths):
            msg = f"Route paths must differ from each other. Received: {', '.join(paths)}"
            raise InvalidOptionError(msg, option="paths", value=paths)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> NavaiServerConfig:
        """Read ``NAVAI_*`` variables; keyword arguments win over them.

        Variables: ``NAVAI_CLIENT_SECRET_PATH``, ``NAVAI_FUNCTIONS_LIST_PATH``,
        ``NAVAI_FUNCTIONS_EXECUTE_PATH``, ``NAVAI_SPEECH_SYNTHESIZE_PATH``,
        ``NAVAI_ENABLE_FUNCTIONS``,
        ``NAVAI_MAX_BODY_BYTES``, ``NAVAI_FUNCTIONS_BASE_DIR``,
        ``NAVAI_FUNCTIONS_FOLDERS``, ``NAVAI_CORS_ORIGINS``, ``NAVAI_AUTH_TOKEN``,
        ``NAVAI_AUTHORIZE`` (``module:function``), ``NAVAI_EXPOSE_LOAD_WARNINGS``,
        ``NAVAI_HEALTH_PATH``, ``NAVAI_REQUEST_LOG``, ``NAVAI_RATE_LIMIT_MINT``,
        ``NAVAI_RATE_LIMIT_EXECUTE``, ``NAVAI_RATE_LIMIT_SPEECH``,
        ``NAVAI_RATE_LIMIT_STORAGE``, ``NAVAI_RATE_LIMIT_FAIL_OPEN``,
        ``NAVAI_RATE_LIMIT_STORAGE_TIMEOUT``, ``NAVAI_TRUSTED_PROXIES``,
        ``NAVAI_REALTIME_CALLS_PATH``, ``NAVAI_ENABLE_REALTIME_CALLS``,
        ``NAVAI_ENABLE_FUNCTIONS_EXECUTE``, ``NAVAI_SERVER_TOOLS``,
        ``NAVAI_MAX_SIDEBANDS``, ``NAVAI_SIDEBAND_IDLE_TIMEOUT``, ``NAVAI_MAX_SDP_BYTES``.

        Raises:
            InvalidOptionError: A variable has a value that cannot be used; the message
                names it and the value.
        """
        source: Mapping[str, str] = os.environ if env is None else env
        found: dict[str, Any] = {}
        for option, variable in _ENV_TEXT.items():
            if (value := env_str(source, variable)) is not None:
                found[option] = value
        if (enabled := env_bool(source, "NAVAI_ENABLE_FUNCTIONS")) is not None:
            found["enable_functions"] = enabled
        if (limit := env_int(source, "NAVAI_MAX_BODY_BYTES")) is not None:
            found["max_body_bytes"] = limit
        for option, variable in _ENV_BOOL.items():
            if (flag := env_bool(source, variable)) is not None:
                found[option] = flag
        for option, variable in _ENV_INT.items():
            if (number := env_int(source, variable)) is not None:
                found[option] = number
        if (idle := env_float(source, "NAVAI_SIDEBAND_IDLE_TIMEOUT")) is not None:
            found["sideband_idle_timeout"] = idle
        if (origins := env_list(source, "NAVAI_CORS_ORIGINS")) is not None:
            found["cors_origins"] = origins
        if (exposed := env_bool(source, "NAVAI_EXPOSE_LOAD_WARNINGS")) is not None:
            found["expose_load_warnings"] = exposed
        if (request_log := env_bool(source, "NAVAI_REQUEST_LOG")) is not None:
            found["request_log"] = request_log
        if (token := env_str(source, "NAVAI_AUTH_TOKEN")) is not None:
            found["auth_token"] = token
        # A hook given in code wins: do not import the one the environment names.
        if "authorize" not in overrides and (spec := env_str(source, "NAVAI_AUTHORIZE")):
            found["authorize"] = load_authorize_hook(spec)
        found.update(_rate_limit_env(source))
        try:
            config = cls(**found)
        except InvalidOptionError as error:
            name = _ENV_VARIABLES.get(error.option or "")
            if name is None:
                raise
            raise from_env(error, name, source) from None
        return attrs.evolve(config, **overrides) if overrides else config


_ENV_TEXT = {
    "client_secret_path": "NAVAI_CLIENT_SECRET_PATH",
    "functions_list_path": "NAVAI_FUNCTIONS_LIST_PATH",
    "functions_execute_path": "NAVAI_FUNCTIONS_EXECUTE_PATH",
    "speech_synthesize_path": "NAVAI_SPEECH_SYNTHESIZE_PATH",
    "functions_base_dir": "NAVAI_FUNCTIONS_BASE_DIR",
    "functions_folders": "NAVAI_FUNCTIONS_FOLDERS",
    "realtime_calls_path": "NAVAI_REALTIME_CALLS_PATH",
    "health_path": "NAVAI_HEALTH_PATH",
}
_ENV_BOOL = {
    "enable_realtime_calls": "NAVAI_ENABLE_REALTIME_CALLS",
    "enable_functions_execute": "NAVAI_ENABLE_FUNCTIONS_EXECUTE",
    "server_tools": "NAVAI_SERVER_TOOLS",
}
_ENV_INT = {"max_sidebands": "NAVAI_MAX_SIDEBANDS", "max_sdp_bytes": "NAVAI_MAX_SDP_BYTES"}
_ENV_VARIABLES = {
    **_ENV_TEXT,
    **_ENV_BOOL,
    **_ENV_INT,
    "sideband_idle_timeout": "NAVAI_SIDEBAND_IDLE_TIMEOUT",
    "max_body_bytes": "NAVAI_MAX_BODY_BYTES",
    "rate_limit_storage_timeout": "NAVAI_RATE_LIMIT_STORAGE_TIMEOUT",
    "trusted_proxies": "NAVAI_TRUSTED_PROXIES",
}


def _rate_limit_env(source: Mapping[str, str]) -> dict[str, Any]:
    """The rate-limit settings among ``source``'s variables; bad rates name their variable."""
    found: dict[str, Any] = {}
    rates: dict[str, tuple[Rate, ...]] = {}
    for route, variable in RATE_LIMIT_ENV.items():
        if (text := env_str(source, variable)) is None:
            continue
        try:
            rates[route] = parse_rates(text)
        except ValueError as error:
            msg = f"{variable}={text!r} is invalid: {error}"
            raise InvalidOptionError(
                msg, option="rate_limits", variable=variable, value=text
            ) from None
    if rates:
        found["rate_limits"] = rates
    if (storage := env_str(source, "NAVAI_RATE_LIMIT_STORAGE")) is not None:
        try:
            _storage(None, attrs.fields(NavaiServerConfig).rate_limit_storage, storage)
        except InvalidOptionError as error:
            # Not from_env(): that quotes the raw value, and a Redis URL holds a password.
            msg = f"NAVAI_RATE_LIMIT_STORAGE is invalid: {error.message}"
            variable = "NAVAI_RATE_LIMIT_STORAGE"
            raise InvalidOptionError(
                msg, option=error.option, variable=variable, value=error.value
            ) from None
        found["rate_limit_storage"] = storage
    if (fail_open := env_bool(source, "NAVAI_RATE_LIMIT_FAIL_OPEN")) is not None:
        found["rate_limit_fail_open"] = fail_open
    if (timeout := env_float(source, "NAVAI_RATE_LIMIT_STORAGE_TIMEOUT")) is not None:
        found["rate_limit_storage_timeout"] = timeout
    if (proxies := env_str(source, "NAVAI_TRUSTED_PROXIES")) is not None:
        found["trusted_proxies"] = proxies
    return found
