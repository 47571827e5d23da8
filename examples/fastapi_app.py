"""NAVAI's routes inside a FastAPI app, next to the app's own routes.

Run it (with `pip install fastapi "navai[server]"`):

    NAVAI_FUNCTIONS_FOLDERS=examples/functions uvicorn examples.fastapi_app:app

The routes are added with `add_navai_routes`; entering `navai.lifespan()` from the app's
lifespan closes NAVAI's pooled HTTP client at shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from navai_adapters.starlette import NavaiStarlette, add_navai_routes
from navai_core.exceptions import AuthorizationError

navai: NavaiStarlette | None = None


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    assert navai is not None
    async with navai.lifespan():
        yield


def require_session(request) -> bool:
    """Only signed-in users may mint secrets or run functions (a stand-in check)."""
    if request.headers.get("authorization") != "Bearer demo-session":
        raise AuthorizationError("Sign in first: send 'Authorization: Bearer demo-session'.")
    return True


app = FastAPI(title="My voice app", lifespan=lifespan)
navai = add_navai_routes(app, authorize=require_session)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
