"""Server configuration shared by every adapter: paths, limits, functions, the auth hook."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from navai_adapters._auth import MIN_TOKEN_LENGTH, AuthorizeHook, load_authorize_hook
from navai_adapters._ratelimit import STORAGE_SCHEMES, redacted_url
from navai_core._config._env import (
    BadValueError,
    boolean,
    env,
    env_each,
    load,
    number,
    split_names,
    whole,
)
from navai_core._ratelimit import RATE_LIMIT_ENV, Network, Rate, parse_networks, parse_rates
from navai_core.exceptions import InvalidOptionError

if TYPE_CHECKING:
    from navai_adapters._observe import NavaiObserver
    from navai_core import NavaiFunctionRegistry

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "AuthorizeHook", "NavaiServerConfig", "ServeSettings"]

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


def _env_rates(text: str) -> tuple[Rate, ...]:
    """One route's rates, read from its variable (the code path reads them in ``_rate_limits``)."""
    try:
        return parse_rates(text)
    except ValueError as error:
        raise InvalidOptionError(str(error), option="rate_limits", value=text) from None


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
        return split_names(value)
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

    client_secret_path: str = attrs.field(
        default="/navai/realtime/client-secret",
        validator=_path,
        metadata=env("NAVAI_CLIENT_SECRET_PATH"),
    )
    functions_list_path: str = attrs.field(
        default="/navai/functions", validator=_path, metadata=env("NAVAI_FUNCTIONS_LIST_PATH")
    )
    functions_execute_path: str = attrs.field(
        default="/navai/functions/execute",
        validator=_path,
        metadata=env("NAVAI_FUNCTIONS_EXECUTE_PATH"),
    )
    speech_synthesize_path: str = attrs.field(
        default="/navai/speech/synthesize",
        validator=_path,
        metadata=env("NAVAI_SPEECH_SYNTHESIZE_PATH"),
    )
    enable_functions: bool = attrs.field(
        default=True,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_ENABLE_FUNCTIONS", boolean),
    )
    max_body_bytes: int = attrs.field(
        default=DEFAULT_MAX_BODY_BYTES,
        validator=_positive_int,
        metadata=env("NAVAI_MAX_BODY_BYTES", whole),
    )
    functions_base_dir: str | os.PathLike[str] | None = attrs.field(
        default=None, metadata=env("NAVAI_FUNCTIONS_BASE_DIR")
    )
    functions_folders: str | tuple[str, ...] | None = attrs.field(
        default=None, metadata=env("NAVAI_FUNCTIONS_FOLDERS")
    )
    agents_folders: str | tuple[str, ...] | None = None
    functions_exclude: str | tuple[str, ...] | None = None
    registry: NavaiFunctionRegistry | None = attrs.field(default=None, repr=False)
    authorize: AuthorizeHook | None = attrs.field(
        default=None,
        repr=False,
        converter=_hook,
        metadata=env("NAVAI_AUTHORIZE", load_authorize_hook),
    )
    cors_origins: tuple[str, ...] = attrs.field(
        default=(), converter=_origins, metadata=env("NAVAI_CORS_ORIGINS", split_names)
    )
    auth_token: str | None = attrs.field(
        default=None, repr=False, validator=_token, metadata=env("NAVAI_AUTH_TOKEN", secret=True)
    )
    expose_load_warnings: bool = attrs.field(
        default=False,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_EXPOSE_LOAD_WARNINGS", boolean),
    )
    health_path: str = attrs.field(
        default="/navai/health", validator=_path, metadata=env("NAVAI_HEALTH_PATH")
    )
    request_log: bool = attrs.field(
        default=False,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_REQUEST_LOG", boolean),
    )
    observer: NavaiObserver | None = attrs.field(default=None, repr=False)
    # Compared, not hashed (a dict): the config stays hashable, as it was.
    rate_limits: dict[str, tuple[Rate, ...]] = attrs.field(
        factory=dict,
        converter=_rate_limits,
        hash=False,
        metadata=env_each(RATE_LIMIT_ENV, _env_rates),
    )
    rate_limit_storage: str = attrs.field(
        default="memory://",
        validator=_storage,
        repr=lambda url: repr(redacted_url(url)),
        metadata=env("NAVAI_RATE_LIMIT_STORAGE", secret=True),
    )
    rate_limit_fail_open: bool = attrs.field(
        default=True,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_RATE_LIMIT_FAIL_OPEN", boolean),
    )
    rate_limit_storage_timeout: float = attrs.field(
        default=0.5,
        validator=_positive_float,
        metadata=env("NAVAI_RATE_LIMIT_STORAGE_TIMEOUT", number),
    )
    trusted_proxies: tuple[Network, ...] = attrs.field(
        default=(), converter=_networks, metadata=env("NAVAI_TRUSTED_PROXIES")
    )
    realtime_calls_path: str = attrs.field(
        default="/navai/realtime/calls", validator=_path, metadata=env("NAVAI_REALTIME_CALLS_PATH")
    )
    enable_realtime_calls: bool = attrs.field(
        default=True,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_ENABLE_REALTIME_CALLS", boolean),
    )
    enable_functions_execute: bool = attrs.field(
        default=True,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_ENABLE_FUNCTIONS_EXECUTE", boolean),
    )
    server_tools: bool = attrs.field(
        default=False,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_SERVER_TOOLS", boolean),
    )
    max_sidebands: int = attrs.field(
        default=100, validator=_positive_int, metadata=env("NAVAI_MAX_SIDEBANDS", whole)
    )
    sideband_idle_timeout: float = attrs.field(
        default=600.0,
        validator=_positive_float,
        metadata=env("NAVAI_SIDEBAND_IDLE_TIMEOUT", number),
    )
    max_sdp_bytes: int = attrs.field(
        default=64 * 1024, validator=_positive_int, metadata=env("NAVAI_MAX_SDP_BYTES", whole)
    )

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
        """Read ``NAVAI_*`` variables (``os.environ`` when ``env`` is None); keywords win.

        Each field names its variable where it is declared; the list is in
        ``docs/configuration.md``. A field given as a keyword is not read from the
        environment at all (an ``authorize`` hook given in code means the one
        ``NAVAI_AUTHORIZE`` names is never imported).

        Raises:
            InvalidOptionError: A value that cannot be used; one from a variable names
                the variable and its value.
        """
        return load(cls, env, overrides)


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")


def _log_level(value: str) -> str:
    level = value.lower()
    if level not in LOG_LEVELS:
        msg = f"is not a log level. Use one of {', '.join(LOG_LEVELS)}."
        raise BadValueError(msg)
    return level


def _log_format(value: str) -> str:
    fmt = value.lower()
    if fmt not in LOG_FORMATS:
        msg = "is not a log format. Use 'text' or 'json'."
        raise BadValueError(msg)
    return fmt


@attrs.frozen(kw_only=True)
class ServeSettings:
    """What ``navai serve`` reads besides the server config; its flags win over the variables.

    Attributes:
        access_log: A line per request (``--access-log``).
        strict: Refuse to start on a module that fails to load or a folder matching
            nothing (``--strict``).
        log_level: The least severe log lines shown (``--log-level``).
        log_format: ``text``, or ``json`` lines with request ids (``--log-format``).
        demo: Also serve the WebRTC example page (``--demo``; the processes ``serve``
            starts read it from the variable).
    """

    access_log: bool = attrs.field(default=True, metadata=env("NAVAI_ACCESS_LOG", boolean))
    strict: bool = attrs.field(default=False, metadata=env("NAVAI_STRICT", boolean))
    log_level: str = attrs.field(default="info", metadata=env("NAVAI_LOG_LEVEL", _log_level))
    log_format: str = attrs.field(default="text", metadata=env("NAVAI_LOG_FORMAT", _log_format))
    demo: bool = attrs.field(default=False, metadata=env("NAVAI_DEMO", boolean))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> ServeSettings:
        """The variables (``os.environ`` when ``env`` is None), with the flags given (not None).

        Raises:
            InvalidOptionError: A variable that cannot be used; names it and its value.
        """
        return load(cls, env, {name: flag for name, flag in flags.items() if flag is not None})
