"""An OpenAPI description of NAVAI's routes, for FastAPI's ``/docs`` or any other tool.

Pure data built from a handler's configuration (paths, which routes are on, the shared
token) and its registry (the tool names): no FastAPI import. :func:`add_navai_routes`
(:mod:`navai_adapters.starlette`) merges it into a FastAPI app's schema by itself; use
:func:`openapi_document` for a standalone document.

The description is OpenAPI 3.1 (JSON Schema 2020-12), as FastAPI's is. Each tool's own
parameters are listed at ``GET /navai/functions``, not here: their schemas may carry
``$defs`` of their own, and the tool list changes when the registry reloads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from navai_adapters._http import NavaiHttpHandler

__all__ = ["merge_openapi", "navai_openapi", "openapi_document"]

_TAG = "navai"
_REF = "#/components/schemas/"
_BEARER = "NavaiBearerToken"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}

_SCHEMAS: dict[str, Any] = {
    "NavaiError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong (the contract's text)."},
            "details": {"type": "string", "description": "More about it, when there is more."},
            "hint": {"type": "string", "description": "How an operator fixes it."},
        },
    },
    "NavaiClientSecretRequest": {
        "type": "object",
        "description": "Every field is optional; the server's defaults fill the rest.",
        "properties": {
            "model": {**_TEXT, "examples": ["gpt-realtime"]},
            "voice": {**_TEXT, "examples": ["marin"]},
            "instructions": _TEXT,
            "language": {**_TEXT, "examples": ["Spanish"]},
            "voiceAccent": _TEXT,
            "voiceTone": _TEXT,
            "apiKey": {
                **_TEXT,
                "description": "Used only without a server key and when the server allows it.",
            },
        },
    },
    "NavaiClientSecret": {
        "type": "object",
        "required": ["value", "expires_at"],
        "properties": {
            "value": {"type": "string", "description": "The ephemeral key (ek_...)."},
            "expires_at": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
    },
    "NavaiFunction": {
        "type": "object",
        "required": ["name", "description", "source", "parameters"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9_]+$"},
            "description": {"type": "string"},
            "source": {"type": "string", "examples": ["weather.py#get_weather"]},
            "parameters": {"type": "object", "description": "JSON Schema of the arguments."},
        },
    },
    "NavaiFunctionList": {
        "type": "object",
        "required": ["items", "warnings"],
        "properties": {
            "items": {"type": "array", "items": _ref("NavaiFunction")},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    },
    "NavaiExecuteResult": {
        "type": "object",
        "required": ["ok", "function_name"],
        "properties": {
            "ok": {"type": "boolean"},
            "function_name": {"type": "string"},
            "source": {"type": "string"},
            "result": {"description": "The function's return value, as JSON."},
            "error": {"type": "string", "examples": ["Function execution failed."]},
            "details": {"type": "string"},
        },
    },
    "NavaiUnknownFunction": {
        "type": "object",
        "required": ["error", "available_functions"],
        "properties": {
            "error": {"type": "string", "const": "Unknown or disallowed function."},
            "available_functions": {"type": "array", "items": {"type": "string"}},
            "details": {
                "type": "string",
                "examples": ["No function named 'dobule'. Did you mean 'double'?"],
            },
        },
    },
    "NavaiSpeechRequest": {
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "description": "What the voice says."},
            "voiceId": _TEXT,
            "modelId": _TEXT,
            "outputFormat": {**_TEXT, "examples": ["mp3_44100_128"]},
            "optimizeStreamingLatency": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "voiceSettings": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        },
    },
    "NavaiSpeech": {
        "type": "object",
        "required": ["provider", "mimeType", "audioBase64"],
        "properties": {
            "provider": {"type": "string", "examples": ["elevenlabs"]},
            "mimeType": {"type": "string", "examples": ["audio/mpeg"]},
            "audioBase64": {"type": "string", "contentEncoding": "base64"},
        },
    },
    "NavaiHealth": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "const": "ok"}},
    },
}

_REFUSALS = {
    "400": _answer("The body is not a JSON object, or a field has the wrong type.", "NavaiError"),
    "413": _answer("The body is larger than NAVAI_MAX_BODY_BYTES.", "NavaiError"),
    "415": _answer("A body was sent without Content-Type: application/json.", "NavaiError"),
}
_GUARDED = {
    "401": _answer("Not authorized (shared token or authorize hook).", "NavaiError"),
    "403": _answer("Refused by the authorize hook or a policy.", "NavaiError"),
}


def _execute_request(names: list[str] | None) -> dict[str, Any]:
    function_name: dict[str, Any] = {
        "type": "string",
        "description": "The tool's name, as GET listing shows it (trimmed, any case).",
    }
    if names:
        function_name["examples"] = names[:5]
    return {
        "type": "object",
        "required": ["function_name"],
        "properties": {
            "function_name": function_name,
            "payload": {
                "anyOf": [{"type": "object"}, {"type": "null"}],
                "description": "The arguments: keyword names of the function's parameters, "
                "or {args, kwargs}, or {value}, or for a class "
                "{constructorArgs, methodArgs}.",
            },
        },
    }


def _tools_table(handler: NavaiHttpHandler) -> str:
    registry = handler.registry
    if registry is None or not registry.items:
        return "No tools are loaded."
    rows = "\n".join(f"| `{item.name}` | {item.description} |" for item in registry.items)
    return f"| tool | what it does |\n|---|---|\n{rows}"


def navai_openapi(handler: NavaiHttpHandler) -> dict[str, Any]:
    """The ``paths``, ``components`` and ``tags`` describing ``handler``'s routes.

    Args:
        handler: The handler serving the routes (its paths, routes and tools).

    Returns:
        A partial OpenAPI 3.1 document, to merge with :func:`merge_openapi`.
    """
    config = handler.config
    guarded = dict(_GUARDED) if config.auth_token or config.authorize else {}
    security: list[dict[str, list[str]]] | None = [{_BEARER: []}] if config.auth_token else None

    def operation(summary: str, description: str, **rest: Any) -> dict[str, Any]:
        found = {"tags": [_TAG], "summary": summary, "description": description, **rest}
        if security is not None:
            found["security"] = security
        return found

    paths: dict[str, Any] = {
        config.health_path: {
            "get": {
                "tags": [_TAG],
                "summary": "Health",
                "description": "For probes: never guarded, never touches the functions.",
                "operationId": "navai_health",
                "responses": {"200": _answer("The app serves.", "NavaiHealth")},
            }
        },
        config.client_secret_path: {
            "post": operation(
                "Mint a Realtime client secret",
                "Mints an ephemeral OpenAI Realtime key for a browser or app session. "
                "Errors: 401 no key at all (`hint` names OPENAI_API_KEY), 403 request key "
                "refused or model/voice not allowed, OpenAI's 4xx as is, 502 OpenAI "
                "failed or could not be reached, 504 OpenAI timed out.",
                operationId="navai_create_client_secret",
                requestBody={
                    "required": False,
                    "content": {"application/json": {"schema": _ref("NavaiClientSecretRequest")}},
                },
                responses={
                    "200": _answer(
                        "A minted client secret (Cache-Control: no-store).", "NavaiClientSecret"
                    ),
                    **_REFUSALS,
                    **guarded,
                    "401": _answer("No API key, or not authorized.", "NavaiError"),
                    "403": _answer("Request key refused, or a policy refused.", "NavaiError"),
                    "502": _answer("OpenAI failed or could not be reached.", "NavaiError"),
                    "504": _answer("OpenAI did not answer in time.", "NavaiError"),
                },
            )
        },
    }
    if handler.options.speech_enabled:  # off, the route only says how to turn it on
        paths[config.speech_synthesize_path] = {
            "post": operation(
                "Speak a text (hybrid voice)",
                "Synthesizes speech with ElevenLabs for a text-only Realtime session. "
                "`Accept: audio/*` answers the raw audio instead of JSON. Errors: 400 bad "
                "fields, ElevenLabs' 4xx as is, 502 it failed, 504 it timed out.",
                operationId="navai_synthesize_speech",
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NavaiSpeechRequest")}},
                },
                responses={
                    "200": _answer("The audio, base64 in JSON.", "NavaiSpeech"),
                    **_REFUSALS,
                    **guarded,
                    "502": _answer("ElevenLabs failed or could not be reached.", "NavaiError"),
                    "504": _answer("ElevenLabs did not answer in time.", "NavaiError"),
                },
            )
        }
    if handler.registry is not None:
        names = [item.name for item in handler.registry.items]
        paths[config.functions_list_path] = {
            "get": operation(
                "List backend functions",
                "The tools, each with a JSON Schema of its parameters.\n\n" + _tools_table(handler),
                operationId="navai_list_functions",
                responses={"200": _answer("The tools.", "NavaiFunctionList"), **guarded},
            )
        }
        paths[config.functions_execute_path] = {
            "post": operation(
                "Execute a backend function",
                "Runs one tool with validated arguments. `ok: false` with status 200 "
                "means the function raised; 400 invalid arguments; 404 unknown name; "
                "504 the function timed out.\n\n" + _tools_table(handler),
                operationId="navai_execute_function",
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _execute_request(names)}},
                },
                responses={
                    "200": _answer(
                        "The function ran (ok) or raised (ok: false).", "NavaiExecuteResult"
                    ),
                    "400": {
                        "description": "Invalid arguments (ok: false), or a malformed body.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [_ref("NavaiExecuteResult"), _ref("NavaiError")]
                                }
                            }
                        },
                    },
                    "404": _answer("No function of that name.", "NavaiUnknownFunction"),
                    "413": _REFUSALS["413"],
                    "415": _REFUSALS["415"],
                    **guarded,
                    "504": _answer("The function timed out.", "NavaiExecuteResult"),
                },
            )
        }
    components: dict[str, Any] = {"schemas": dict(_SCHEMAS)}
    if security is not None:
        components["securitySchemes"] = {
            _BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "The server's NAVAI_AUTH_TOKEN.",
            }
        }
    tags = [{"name": _TAG, "description": "NAVAI: Realtime client secrets and backend functions."}]
    return {"paths": paths, "components": components, "tags": tags}


def merge_openapi(document: dict[str, Any], navai: dict[str, Any]) -> dict[str, Any]:
    """Add :func:`navai_openapi`'s parts to ``document`` (changed in place and returned)."""
    document.setdefault("paths", {}).update(navai["paths"])
    components = document.setdefault("components", {})
    for section, entries in navai["components"].items():
        components.setdefault(section, {}).update(entries)
    tags = document.setdefault("tags", [])
    known = {tag.get("name") for tag in tags}
    tags.extend(tag for tag in navai["tags"] if tag["name"] not in known)
    return document


def openapi_document(
    handler: NavaiHttpHandler, *, title: str = "NAVAI backend", version: str = "1.0.0"
) -> dict[str, Any]:
    """A complete OpenAPI 3.1 document for ``handler``'s routes alone."""
    document = {"openapi": "3.1.0", "info": {"title": title, "version": version}}
    return merge_openapi(document, navai_openapi(handler))
