"""The ``navai`` command: serve the backend, and inspect it from a terminal.

``navai serve``      run the HTTP backend (uvicorn, the Starlette adapter)
``navai functions``  list the discovered backend functions and their parameters
``navai call NAME``  run one function locally and print its JSON result
``navai mint``       mint a client secret and print its JSON

With ``--url``, ``functions``, ``call`` and ``mint`` ask a running backend instead
(through :class:`navai_core.NavaiBackendClient`): this package's, or the original's.

Configuration comes from the environment, as the original's does (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``NAVAI_FUNCTIONS_FOLDERS``, ...); flags override it. Exit codes:
0 success, 1 the operation failed, 2 bad flags or configuration.
"""

from __future__ import annotations

import argparse
import copy
import errno
import json
import logging
import logging.config
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from navai_adapters._gc import tune_gc
from navai_core import (
    BackendClientSecret,
    CreateClientSecretRequest,
    NavaiBackendClient,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    RealtimeClientSecret,
    create_realtime_client_secret,
    load_navai_functions,
)
from navai_core._env import env_bool
from navai_core.exceptions import (
    BackendError,
    InvalidOptionError,
    NavaiError,
    UnknownBackendFunctionError,
)

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_FAILED_TO_LOAD = "[navai] Failed to load"


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``navai`` command; returns its exit code."""
    args = _build_parser().parse_args(argv)
    if args.command != "serve":
        # Warnings and a failing function's traceback help at a terminal: show them plainly.
        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    handlers = {"serve": _serve, "functions": _functions, "call": _call, "mint": _mint}
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


def _load(args: argparse.Namespace) -> NavaiFunctionRegistry:
    _apply_function_flags(args)
    return load_navai_functions()


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
        items = [item.to_dict() for item in listed.functions]
        warnings = list(listed.warnings)
    else:
        with _load(args) as registry:
            items = [item.to_dict() for item in registry.items]
            warnings = list(registry.warnings)
    if args.json:
        print(json.dumps({"items": items, "warnings": warnings}, indent=2))
    else:
        rows: list[tuple[str, ...]] = [
            (
                item["name"],
                _describe_parameters(item.get("parameters") or {}),
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
        for warning in warnings:
            _say(f"warning: {warning}")
    failed = any(warning.startswith(_FAILED_TO_LOAD) for warning in warnings)
    return EXIT_FAILED if failed else EXIT_OK


def _local_flags_with_url(args: argparse.Namespace) -> int | None:
    if args.base_dir or args.folders:
        _say("navai: --base-dir and --folders choose local functions; with --url, leave them out.")
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


def _call_failed(error: NavaiError) -> int:
    # The same lines for a local and a remote unknown name: the error, then the names.
    message = error.message
    if isinstance(error, UnknownBackendFunctionError) and error.error:
        message = error.error
    _say(f"navai: {message}")
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
            _say(f"navai: {error.message}")
            return EXIT_FAILED
    print(json.dumps(secret.to_dict(), indent=2))
    return EXIT_OK


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 - only `serve` needs uvicorn

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["navai"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


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
    try:
        access_log = _access_log(args.access_log)
    except InvalidOptionError as error:
        _say(f"navai: {error.message}")
        return EXIT_USAGE
    logging.config.dictConfig(_log_config())
    options = NavaiVoiceBackendOptions.from_env()
    if args.demo:
        os.environ["NAVAI_DEMO"] = "true"  # for workers and reloads, which build their own app
    app = _with_demo(create_app(options))
    handler = app.state.navai.handler
    problem = _check_port(args.host, args.port)
    if problem is not None:
        _say(f"navai: {problem}")
        return EXIT_FAILED
    url = f"http://{args.host}:{args.port}"
    print(f"NAVAI backend on {url}")
    print(f"  POST {url}{handler.config.client_secret_path}")
    if handler.registry is not None:
        print(f"  GET  {url}{handler.config.functions_list_path}")
        print(f"  POST {url}{handler.config.functions_execute_path}")
        names = ", ".join(item.name for item in handler.registry.items) or "(none)"
        print(f"Backend functions ({len(handler.registry.items)}): {names}")
    if handler.config.enable_realtime_calls:
        tools = "server-side tools on" if handler.sidebands is not None else "tools relayed"
        print(f"  POST {url}{handler.config.realtime_calls_path} (WebRTC calls, {tools})")
    if args.demo:
        print(f"Demo page: {url}{DEMO_PATH}")
    sys.stdout.flush()
    proxy = _proxy_options(handler.config.trusted_proxies)
    if args.workers > 1 or args.reload:
        registry = handler.registry
        reload_dirs = [str(Path.cwd())]
        if registry is not None:
            registry.close()
            # Edits to the functions restart the server, wherever the folders live.
            reload_dirs.append(registry.base_dir)
        # Each worker (or reloaded process) builds its own app from the same environment.
        tuned = args.tune_gc and not args.reload
        uvicorn.run(
            "navai_adapters.cli:_tuned_app" if tuned else "navai_adapters.cli:_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            reload=args.reload,
            reload_dirs=sorted(set(reload_dirs)) if args.reload else None,
            log_config=_log_config(),
            access_log=access_log,
            **proxy,
        )
        return EXIT_OK
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=_log_config(),
        access_log=access_log,
        **proxy,
    )
    config.load()  # imports uvicorn's protocol modules first, so that they are frozen too
    if args.tune_gc:
        tune_gc()
    server = uvicorn.Server(config)
    server.run()
    return EXIT_OK if server.started else EXIT_FAILED


def _proxy_options(trusted: Sequence[object]) -> dict[str, Any]:
    """Proxy settings for uvicorn: believe ``X-Forwarded-For`` from trusted proxies only.

    uvicorn believes it from 127.0.0.1 by default; ``navai serve`` never does unless
    ``NAVAI_TRUSTED_PROXIES`` says so, so that logs and rate limits see the same client.
    """
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(map(str, trusted))}


def _tuned_app() -> Any:
    """The app factory each ``navai serve --workers N`` process runs: the app, then GC tuning."""
    app = _app()
    tune_gc()
    return app


def _app() -> Any:
    """The app ``navai serve`` runs in a new process: from the environment, demo if asked."""
    from navai_adapters.starlette import create_app  # noqa: PLC0415

    return _with_demo(create_app())


DEMO_PATH = "/navai/demo"


def _demo_page() -> bytes:
    """The WebRTC example page: shipped in the package, or the repository's examples/."""
    shipped = Path(__file__).parent / "_demo" / "index.html"
    source = Path(__file__).parents[1] / "examples" / "webrtc" / "index.html"
    return (shipped if shipped.is_file() else source).read_bytes()


def _with_demo(app: Any) -> Any:
    """``app`` with the demo page at :data:`DEMO_PATH` when ``NAVAI_DEMO`` is true."""
    if not env_bool(os.environ, "NAVAI_DEMO"):
        return app
    from starlette.responses import Response  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    page = _demo_page()

    async def demo(_request: object) -> Response:
        return Response(page, media_type="text/html", headers={"cache-control": "no-store"})

    app.router.routes.insert(0, Route(DEMO_PATH, demo, methods=["GET"]))
    return app


def _access_log(flag: bool | None) -> bool:
    """``--access-log``/``--no-access-log``, else ``NAVAI_ACCESS_LOG``, else on."""
    if flag is not None:
        return flag
    value = env_bool(os.environ, "NAVAI_ACCESS_LOG")
    return True if value is None else value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
