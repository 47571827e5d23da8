"""Server configuration shared by every adapter: paths, limits, functions, the auth hook."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from navai_core._env import env_bool, env_int, env_list, env_str, from_env
from navai_core.exceptions import InvalidOptionError

if TYPE_CHECKING:
    from navai_adapters._http import NavaiRequest
    from navai_core import NavaiFunctionRegistry

__all__ = ["AuthorizeHook", "NavaiServerConfig"]

#: ``authorize(request)``: return ``True``/``None`` to allow, ``False`` to refuse (403), or
#: raise :class:`~navai_core.exceptions.AuthorizationError` (401 unless told otherwise).
#: On the Starlette side it may be ``async``; under WSGI it must be a plain function.
AuthorizeHook = Callable[["NavaiRequest"], bool | Awaitable[bool | None] | None]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _path(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.startswith("/") or "?" in value or " " in value:
        msg = f"{attribute.name} must be a URL path starting with '/'. Received: {value!r}"
        raise InvalidOptionError(msg, option=attribute.name, value=value)


def _positive_int(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be a whole number of at least 1. Received: {value!r}"
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
        authorize: Called before every route runs; see :data:`AuthorizeHook`.
        cors_origins: Browser origins allowed by CORS (Starlette adapter only).
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
    authorize: AuthorizeHook | None = attrs.field(default=None, repr=False)
    cors_origins: tuple[str, ...] = attrs.field(default=(), converter=_origins)

    def __attrs_post_init__(self) -> None:
        paths = [self.client_secret_path, self.speech_synthesize_path]
        if self.enable_functions:
            paths += [self.functions_list_path, self.functions_execute_path]
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
        ``NAVAI_FUNCTIONS_FOLDERS``, ``NAVAI_CORS_ORIGINS``.

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
        if (origins := env_list(source, "NAVAI_CORS_ORIGINS")) is not None:
            found["cors_origins"] = origins
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
}
_ENV_VARIABLES = {**_ENV_TEXT, "max_body_bytes": "NAVAI_MAX_BODY_BYTES"}
