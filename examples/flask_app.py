"""NAVAI's routes inside a Flask app: the WSGI callable answers its own paths and hands
everything else to Flask.

Run it (with `pip install flask navai`):

    NAVAI_FUNCTIONS_FOLDERS=examples/functions flask --app examples.flask_app run

or under gunicorn: `gunicorn examples.flask_app:app`.
"""

from __future__ import annotations

from flask import Flask

from navai_adapters.wsgi import create_app

app = Flask(__name__)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


# NAVAI in front: its three routes, then Flask for every other path.
app.wsgi_app = create_app(fallback=app.wsgi_app)  # type: ignore[method-assign]
