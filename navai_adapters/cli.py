"""The ``navai`` command: serve the backend, and inspect it from a terminal.

``navai serve``      run the HTTP backend (uvicorn, the Starlette adapter)
``navai functions``  list the discovered backend functions and their parameters
``navai call NAME``  run one function locally and print its JSON result
``navai mint``       mint a client secret and print its JSON
``navai speak TEXT`` have ElevenLabs speak a text (hybrid voice) into an audio file

With ``--url``, ``functions``, ``call`` and ``mint`` ask a running backend instead
(through :class:`navai_core.NavaiBackendClient`): this package's, or the original's.

Configuration comes from the environment, as the original's does (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``NAVAI_FUNCTIONS_FOLDERS``, ...); flags override it. Exit codes:
0 success, 1 the operation failed, 2 bad flags or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import errno
import importlib.metadata
import ipaddress
import json
import logging
import logging.config
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from navai_adapters._config import LOG_FORMATS, LOG_LEVELS, ServeSettings
from navai_adapters._gc import tune_gc
from navai_adapters._http import NavaiHttpHandler, listing
from navai_core import (
    BackendClientSecret,
    CreateClientSecretRequest,
    NavaiBackendClient,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    RealtimeClientSecret,
    SynthesizeSpeechRequest,
    create_realtime_client_secret,
    load_navai_functions,
    synthesize_speech,
)
from navai_core.exceptions import (
    BackendError,
    InvalidOptionError,
    NavaiError,
    UnknownBackendFunctionError,
    UnknownFunctionError,
)

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_FAILED_TO_LOAD = "[navai] Failed to load"
# The registry's warnings for configured folders that matched no file.
_UNMATCHED = ("[navai] Functions folder ", "[navai] The configured functions folders")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"navai: error: {message}\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:  # noqa: PLR2004
        msg = f"invalid port {text!r}: use a whole number from 0 to 65535"
        raise argparse.ArgumentTypeError(msg)
    return port


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        msg = f"invalid number {text!r}: use a whole number of at least 1"
        raise argparse.ArgumentTypeError(msg)
    return number


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="navai",
        description="Backend for OpenAI Realtime voice agents: secrets and backend functions.",
    )
    parser.add_argument("--version", action="version", version=f"navai {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def functions_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--base-dir",
            help="where function folders are looked up (env NAVAI_FUNCTIONS_BASE_DIR; "
            "default: the working directory)",
        )
        sub.add_argument(
            "--folders",
            help="comma-separated folders, wildcards or files (env NAVAI_FUNCTIONS_FOLDERS; "
            "default: src/ai/functions-modules)",
        )
        sub.add_argument(
            "--agents",
            help="comma-separated agent folder names: a plain folder then means only "
            "{folder}/{agent}/ (env NAVAI_AGENTS_FOLDERS)",
        )
        sub.add_argument(
            "--exclude",
            help="comma-separated globs never scanned, such as '**/tests/**' "
            "(env NAVAI_FUNCTIONS_EXCLUDE)",
        )

    def url_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--url",
            help="ask the running backend at this URL (such as http://localhost:8000) "
            "instead of working locally",
        )

    serve = commands.add_parser("serve", help="run the HTTP backend")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--reload", action="store_true", help="restart when code changes (development)"
    )
    serve.add_argument(
        "--root-path",
        default="",
        help="the prefix a proxy in front strips (ASGI root_path), such as /api",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log a line per request (env NAVAI_ACCESS_LOG; default on). Off roughly "
        "doubles the requests/s a worker serves: use --no-access-log in production when "
        "a proxy in front already logs requests",
    )
    serve.add_argument(
        "--tune-gc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after startup, freeze the startup heap and collect young objects less often "
        "(navai_adapters.tune_gc; default on)",
    )
    serve.add_argument(
        "--authorize",
        metavar="MODULE:FUNCTION",
        help="an authorize hook to import, called before every route (env NAVAI_AUTHORIZE); "
        "for a shared secret instead, set NAVAI_AUTH_TOKEN",
    )
    serve.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse to start when a functions module fails to load or a configured folder "
        "matches nothing (env NAVAI_STRICT; default off)",
    )
    serve.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=None,
        help="the least severe log lines shown (env NAVAI_LOG_LEVEL; default info)",
    )
    serve.add_argument(
        "--log-format",
        type=str.lower,
        choices=LOG_FORMATS,
        default=None,
        help="json: one JSON object per line, each with the request id of the request it "
        "concerns, and NAVAI's own access line instead of uvicorn's "
        "(env NAVAI_LOG_FORMAT; default text)",
    )
    serve.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        help="serve Prometheus metrics on this port (needs the metrics extra; one process)",
    )
    serve.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="interface for --metrics-port (default 127.0.0.1)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also serve the WebRTC example page at /navai/demo (off by default; for trying "
        "the calls route from a browser, not for production)",
    )
    functions_flags(serve)

    functions = commands.add_parser("functions", help="list the discovered backend functions")
    functions.add_argument("--json", action="store_true", help="print JSON instead of a table")
    functions_flags(functions)
    url_flag(functions)

    call = commands.add_parser("call", help="run one backend function and print its result")
    call.add_argument("name", help="the function's name, as `navai functions` lists it")
    call.add_argument("--payload", default=None, help='JSON payload, e.g. \'{"city": "Paris"}\'')
    functions_flags(call)
    url_flag(call)

    mint = commands.add_parser("mint", help="mint a client secret and print it as JSON")
    for flag in ("model", "voice", "instructions", "language"):
        mint.add_argument(f"--{flag}", help=f"the session's {flag} (default from env)")
    mint.add_argument("--voice-accent", help="accent line for the instructions")
    mint.add_argument("--voice-tone", help="tone line for the instructions")
    url_flag(mint)

    speak = commands.add_parser(
        "speak", help="have ElevenLabs speak a text (NAVAI_TTS_PROVIDER=elevenlabs)"
    )
    speak.add_argument("text", help="what to say")
    speak.add_argument("--out", required=True, type=Path, help="the audio file to write")
    speak.add_argument("--voice-id", help="ElevenLabs voice (default: ELEVENLABS_VOICE_ID)")
    speak.add_argument("--model-id", help="ElevenLabs model (default: ELEVENLABS_MODEL_ID)")
    speak.add_argument(
        "--format", help="such as mp3_44100_128 or pcm_16000 (default: ELEVENLABS_OUTPUT_FORMAT)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``navai`` command; returns its exit code."""
    args = _build_parser().parse_args(argv)
    if args.command != "serve":
        # Warnings and a failing function's traceback help at a terminal: show them plainly.
        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    handlers = {
        "serve": _serve,
        "functions": _functions,
        "call": _call,
        "mint": _mint,
        "speak": _speak,
    }
    try:
        return handlers[args.command](args)
    except InvalidOptionError as error:
        _say(f"navai: configuration error: {error.message}")
        return EXIT_USAGE
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return EXIT_FAILED


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _apply_function_flags(args: argparse.Namespace) -> None:
    # Flags become env so that `serve` workers (new processes) see them too.
    if args.base_dir:
        os.environ["NAVAI_FUNCTIONS_BASE_DIR"] = args.base_dir
    if args.folders:
        os.environ["NAVAI_FUNCTIONS_FOLDERS"] = args.folders
    if args.agents:
        os.environ["NAVAI_AGENTS_FOLDERS"] = args.agents
    if args.exclude:
        os.environ["NAVAI_FUNCTIONS_EXCLUDE"] = args.exclude


def _load(args: argparse.Namespace) -> NavaiFunctionRegistry:
    _apply_function_flags(args)
    return load_navai_functions()


_CLASS_ARGS = frozenset({"constructorArgs", "methodArgs"})


def _describe_tool(schema: dict[str, Any], source: str) -> str:
    """The parameters column: a class tool shows its method's, then its constructor's."""
    properties: dict[str, Any] = schema.get("properties") or {}
    is_method = "." in source.rpartition("#")[2]
    if not is_method or not properties or not set(properties) <= _CLASS_ARGS:
        return _describe_parameters(schema)
    method = _describe_parameters(properties.get("methodArgs") or {})
    constructor = properties.get("constructorArgs")
    if constructor is None or not constructor.get("properties"):
        return method
    return f"{method}; new: {_describe_parameters(constructor)}"


def _describe_parameters(schema: dict[str, Any]) -> str:
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parts = []
    for name, spec in properties.items():
        kind = _type_label(spec)
        parts.append(f"{name}{'' if name in required else '?'}: {kind}")
    return ", ".join(parts) or "-"


def _type_label(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return "|".join(json.dumps(value) for value in spec["enum"])
    if "anyOf" in spec:
        return "|".join(_type_label(option) for option in spec["anyOf"])
    kind = spec.get("type")
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"{_type_label(spec['items'])}[]"
    if kind == "object" and isinstance(spec.get("title"), str):
        return str(spec["title"])  # a named structure (attrs class, dataclass, TypedDict)
    if isinstance(kind, str):
        return kind
    return "any"


def _functions(args: argparse.Namespace) -> int:
    if args.url:
        if (problem := _local_flags_with_url(args)) is not None:
            return problem
        with NavaiBackendClient(args.url) as client:
            try:
                listed = client.list_functions(strict=True)
            except BackendError as error:
                _say(f"navai: {error.message}")
                return EXIT_FAILED
        body = listing(listed.functions, listed.warnings)
    else:
        with _load(args) as registry:
            body = listing(registry.items, registry.warnings)
    items: list[dict[str, Any]] = body["items"]
    warnings: list[str] = body["warnings"]
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        rows: list[tuple[str, ...]] = [
            (
                item["name"],
                _describe_tool(item.get("parameters") or {}, item["source"] or ""),
                item["description"] or "",
                item["source"] or "",
            )
            for item in items
        ]
        _print_table(("NAME", "PARAMETERS", "DESCRIPTION", "SOURCE"), rows)
        if not rows:
            where = (
                "the backend's configuration"
                if args.url
                else "NAVAI_FUNCTIONS_FOLDERS and --base-dir"
            )
            print(f"No backend functions found. Check {where}.")
    if args.url:  # a local registry logged its warnings (to stderr) as it loaded
        for warning in warnings:
            _say(f"warning: {warning}")
    return EXIT_FAILED if _load_problems(warnings) else EXIT_OK


def _load_problems(warnings: Sequence[str]) -> list[str]:
    """The warnings that mean the configuration is wrong: a failed import, a folder in vain."""
    return [warning for warning in warnings if warning.startswith((_FAILED_TO_LOAD, *_UNMATCHED))]


def _local_flags_with_url(args: argparse.Namespace) -> int | None:
    if args.base_dir or args.folders or args.agents or args.exclude:
        _say(
            "navai: --base-dir, --folders, --agents and --exclude choose local functions; "
            "with --url, leave them out."
        )
        return EXIT_USAGE
    return None


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [min(48, max(len(str(row[i])) for row in [header, *rows])) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [_fit(str(cell), width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _call(args: argparse.Namespace) -> int:
    payload: Any = None
    if args.payload is not None:
        try:
            payload = json.loads(args.payload)
        except ValueError as error:
            _say(f"navai: --payload is not valid JSON: {error}")
            return EXIT_USAGE
        if payload is not None and not isinstance(payload, dict):
            _say('navai: --payload must be a JSON object, such as \'{"city": "Paris"}\'.')
            return EXIT_USAGE
    if args.url:
        if (problem := _local_flags_with_url(args)) is not None:
            return problem
        with NavaiBackendClient(args.url) as client:
            try:
                result = client.execute_function(args.name, payload)
            except BackendError as error:
                return _call_failed(error)
    else:
        with _load(args) as registry:
            try:
                result = registry.execute(args.name, payload)
            except NavaiError as error:
                return _call_failed(error)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK


def _explained(error: NavaiError) -> str:
    """The error's message, with what a person at a terminal needs to fix it."""
    text = error.message
    if isinstance(error, UnknownBackendFunctionError) and error.error:
        text = error.error
    if isinstance(error, UnknownFunctionError):
        text += f" {error.details}"
    if error.hint is not None:
        text += f" {error.hint}"
    return text


def _call_failed(error: NavaiError) -> int:
    # The same lines for a local and a remote unknown name: the error, then the names.
    _say(f"navai: {_explained(error)}")
    available = getattr(error, "available", None)
    if available is not None:
        _say(f"Available functions: {', '.join(available) or '(none)'}")
    return EXIT_FAILED


def _mint(args: argparse.Namespace) -> int:
    request = CreateClientSecretRequest(
        model=args.model,
        voice=args.voice,
        instructions=args.instructions,
        language=args.language,
        voice_accent=args.voice_accent,
        voice_tone=args.voice_tone,
    )
    secret: RealtimeClientSecret | BackendClientSecret
    if args.url:
        # The backend's key and defaults apply: nothing of OPENAI_* is needed here.
        with NavaiBackendClient(args.url) as client:
            try:
                secret = client.create_client_secret(request)
            except BackendError as error:
                _say(f"navai: {error.message}")
                return EXIT_FAILED
    else:
        options = NavaiVoiceBackendOptions.from_env()
        try:
            secret = create_realtime_client_secret(options, request)
        except NavaiError as error:
            _say(f"navai: {_explained(error)}")
            return EXIT_FAILED
    print(json.dumps(secret.to_dict(), indent=2))
    return EXIT_OK


def _speak(args: argparse.Namespace) -> int:
    options = NavaiVoiceBackendOptions.from_env()
    request = SynthesizeSpeechRequest(
        text=args.text, voice_id=args.voice_id, model_id=args.model_id, output_format=args.format
    )
    try:
        speech = synthesize_speech(options, request)
    except NavaiError as error:
        _say(f"navai: {_explained(error)}")
        return EXIT_FAILED
    args.out.write_bytes(speech.audio)
    print(
        json.dumps({"mimeType": speech.mime_type, "bytes": len(speech.audio), "out": str(args.out)})
    )
    return EXIT_OK


def _log_config(
    level: str = "info", fmt: str = "text", *, access_log: bool = True
) -> dict[str, Any]:
    """The logging setup of uvicorn, with NAVAI's logger, at ``level``, as text or JSON lines."""
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 - only `serve` needs uvicorn

    config = copy.deepcopy(LOGGING_CONFIG)
    upper = level.upper()
    config["loggers"]["navai"] = {"handlers": ["default"], "level": upper, "propagate": False}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"][name]["level"] = upper
    if fmt == "json":
        for formatter in config["formatters"].values():
            formatter.clear()
            formatter["()"] = "navai_adapters.JsonFormatter"
        if not access_log:  # NAVAI's access line is the one to switch off
            config["loggers"]["navai.access"] = {"level": "WARNING"}
    return config


def _version() -> str:
    try:
        return importlib.metadata.version("navai")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown"


def _check_port(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use. "
                    "Stop what uses it, or pick another with --port."
                )
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: PLC0415

        from navai_adapters.starlette import create_app  # noqa: PLC0415
    except ImportError:
        _say('navai: `navai serve` needs the server extra: pip install "navai[server]"')
        return EXIT_USAGE
    _apply_function_flags(args)
    if args.authorize:
        os.environ["NAVAI_AUTHORIZE"] = args.authorize  # workers read it too
    # As uvicorn does: modules in the working directory (a hook's) are importable.
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    several = args.workers > 1 or args.reload
    try:
        settings = ServeSettings.from_env(
            access_log=args.access_log,
            strict=args.strict,
            log_level=args.log_level,
            log_format=args.log_format,
        )
        metrics = _metrics(args.metrics_port, several=several)
    except InvalidOptionError as error:
        _say(f"navai: {error.message}")
        return EXIT_USAGE
    access_log, strict = settings.access_log, settings.strict
    level, fmt = settings.log_level, settings.log_format
    if fmt == "json":
        # JSON lines carry request ids: NAVAI's access line replaces uvicorn's, which
        # is logged outside the request and cannot carry one.
        os.environ.setdefault("NAVAI_REQUEST_LOG", "true")
    log_config = _log_config(level, fmt, access_log=access_log)
    logging.config.dictConfig(log_config)
    options = NavaiVoiceBackendOptions.from_env()
    if args.demo:
        os.environ["NAVAI_DEMO"] = "true"  # for workers and reloads, which build their own app
    if args.reload:
        # The reloaded process reports what it loads, each time: not the parent too.
        with _quiet(logging.getLogger("navai")):
            app = create_app(options)
    else:
        app = create_app(options, observer=metrics) if metrics else create_app(options)
    app = _with_demo(app)
    handler = app.state.navai.handler
    if not _ready_to_serve(args, handler, strict=strict):
        return EXIT_FAILED
    if metrics is not None and not _serve_metrics(metrics, args.metrics_host, args.metrics_port):
        return EXIT_FAILED
    _print_banner(args, handler)
    proxy = _proxy_options(handler.config.trusted_proxies)
    uvicorn_access = access_log and fmt != "json"
    if several:
        _run_processes(args, handler, log_config, access_log=uvicorn_access, proxy=proxy)
        return EXIT_OK
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=log_config,
        access_log=uvicorn_access,
        root_path=args.root_path,
        **proxy,
    )
    config.load()  # imports uvicorn's protocol modules first, so that they are frozen too
    if args.tune_gc:
        tune_gc()
    server = uvicorn.Server(config)
    server.run()
    return EXIT_OK if server.started else EXIT_FAILED


def _print_banner(args: argparse.Namespace, handler: NavaiHttpHandler) -> None:
    url = f"http://{args.host}:{args.port}"
    print(f"NAVAI backend on {url}")
    print(f"  GET  {url}{handler.config.health_path}")
    print(f"  POST {url}{handler.config.client_secret_path}")
    if handler.options.speech_enabled:
        print(f"  POST {url}{handler.config.speech_synthesize_path}  (ElevenLabs speech)")
    if handler.registry is not None:
        print(f"  GET  {url}{handler.config.functions_list_path}")
        print(f"  POST {url}{handler.config.functions_execute_path}")
        if not args.reload:  # the reloaded process prints them, at each reload
            _print_tools(handler)
    if handler.config.enable_realtime_calls:
        tools = "server-side tools on" if handler.sidebands is not None else "tools relayed"
        print(f"  POST {url}{handler.config.realtime_calls_path}  (WebRTC calls, {tools})")
    if args.demo:
        print(f"Demo page: {url}{DEMO_PATH}")
    sys.stdout.flush()


def _run_processes(
    args: argparse.Namespace,
    handler: NavaiHttpHandler,
    log_config: dict[str, Any],
    *,
    access_log: bool,
    proxy: dict[str, Any],
) -> None:
    """``--workers N`` or ``--reload``: uvicorn starts processes that build their own app."""
    import uvicorn  # noqa: PLC0415

    registry = handler.registry
    reload_dirs = [str(Path.cwd())]
    if registry is not None:
        registry.close()
        # Edits to the functions restart the server, wherever the folders live.
        reload_dirs.append(registry.base_dir)
    # Each worker (or reloaded process) builds its own app from the same environment.
    os.environ[_CHILD] = "reload" if args.reload else "workers"
    if args.reload or not args.tune_gc:
        os.environ[_CHILD_NO_GC] = "1"
    uvicorn.run(
        "navai_adapters.cli:_child_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        reload_dirs=sorted(set(reload_dirs)) if args.reload else None,
        log_config=log_config,
        access_log=access_log,
        root_path=args.root_path,
        **proxy,
    )


_CHILD = "NAVAI_SERVE_CHILD"  # set by `navai serve` for the processes it starts
_CHILD_NO_GC = "NAVAI_SERVE_CHILD_NO_GC"


def _print_tools(handler: NavaiHttpHandler) -> None:
    registry = handler.registry
    if registry is not None:
        names = ", ".join(item.name for item in registry.items) or "(none)"
        print(f"Backend functions ({len(registry.items)}): {names}", flush=True)


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Only errors from ``logger`` (and its children) within the block."""
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _metrics(port: int | None, *, several: bool) -> Any:
    if port is None:
        return None
    if several:
        msg = (
            "--metrics-port serves one process's metrics: it cannot be combined with "
            "--workers or --reload. Run one process per container, or serve the metrics "
            "from your own app (docs/operations.md)."
        )
        raise InvalidOptionError(msg, option="metrics_port", value=port)
    try:
        from navai_adapters.metrics import NavaiMetrics  # noqa: PLC0415
    except ImportError:
        msg = '--metrics-port needs the metrics extra: pip install "navai[metrics]"'
        raise InvalidOptionError(msg, option="metrics_port", value=port) from None
    return NavaiMetrics()


def _serve_metrics(metrics: Any, host: str, port: int) -> bool:
    try:
        metrics.serve(port, host)
    except OSError as error:
        _say(f"navai: cannot serve metrics on {host}:{port}: {error.strerror or error}")
        return False
    print(f"Prometheus metrics on http://{host}:{port}/metrics")
    return True


def _ready_to_serve(args: argparse.Namespace, handler: NavaiHttpHandler, *, strict: bool) -> bool:
    """Start-up checks: ``--strict``, the port, and a warning for an unprotected address."""
    registry = handler.registry
    if strict and registry is not None and (problems := _load_problems(registry.warnings)):
        registry.close()
        for problem in problems:
            _say(f"navai: --strict: {problem}")
        _say("navai: not starting (--strict). Fix the functions folders, or drop --strict.")
        return False
    busy = _check_port(args.host, args.port)
    if busy is not None:
        _say(f"navai: {busy}")
        return False
    config = handler.config
    if not _is_loopback(args.host) and config.authorize is None and config.auth_token is None:
        logging.getLogger("navai").warning(
            "Serving on %s without protection: anyone who can reach it can mint client "
            "secrets billed to your OpenAI key and run your backend functions. Set "
            "NAVAI_AUTH_TOKEN or --authorize module:function, or bind 127.0.0.1.",
            args.host,
        )
    return True


def _proxy_options(trusted: Sequence[object]) -> dict[str, Any]:
    """Proxy settings for uvicorn: believe ``X-Forwarded-For`` from trusted proxies only.

    uvicorn believes it from 127.0.0.1 by default; ``navai serve`` never does unless
    ``NAVAI_TRUSTED_PROXIES`` says so, so that logs and rate limits see the same client.
    """
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(map(str, trusted))}


def _child_app() -> Any:
    """The app factory of the processes ``navai serve --workers N`` or ``--reload`` starts.

    Workers load quietly: the parent already logged the load warnings once, and N
    workers would repeat them N times. A reloaded process reports what it loaded, since
    the code changed.
    """
    from navai_adapters.starlette import create_app  # noqa: PLC0415

    if os.environ.get(_CHILD) == "reload":
        app = create_app()
        _print_tools(app.state.navai.handler)
    else:
        with _quiet(logging.getLogger("navai")):
            app = create_app()
    if not os.environ.get(_CHILD_NO_GC):
        tune_gc()
    return _with_demo(app)


DEMO_PATH = "/navai/demo"


def _demo_page() -> bytes:
    """The WebRTC example page: shipped in the package, or the repository's examples/."""
    shipped = Path(__file__).parent / "_demo" / "index.html"
    source = Path(__file__).parents[1] / "examples" / "webrtc" / "index.html"
    return (shipped if shipped.is_file() else source).read_bytes()


def _with_demo(app: Any) -> Any:
    """``app`` with the demo page at :data:`DEMO_PATH` when ``NAVAI_DEMO`` is true."""
    if not ServeSettings.from_env().demo:
        return app
    from starlette.responses import Response  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    page = _demo_page()

    async def demo(_request: object) -> Response:
        return Response(page, media_type="text/html", headers={"cache-control": "no-store"})

    app.router.routes.insert(0, Route(DEMO_PATH, demo, methods=["GET"]))
    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
