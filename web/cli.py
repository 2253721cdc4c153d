"""``catalogue serve``: run the web application with uvicorn.

With ``--workers N`` uvicorn starts N processes; each builds its own app (and opens the
store and the search index once, in its lifespan) from the same ``CATALOGUE_*``
environment, so all of them serve the same catalogue.
"""

from __future__ import annotations

import argparse
import os

from catalogue.errors import BadRequest
from catalogue.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the catalogue's web pages and JSON API",
                           description="Runs uvicorn over the store and index of "
                                       "CATALOGUE_DATA_DIR; publications made while it runs "
                                       "show within a second.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the store and index (default 1)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # noqa: PLC0415 - only this command needs it

    from web.resources import forget_shared_pages  # noqa: PLC0415

    if args.workers < 1:
        raise BadRequest("--workers must be at least 1")
    if not 0 < args.port < 65536:
        raise BadRequest("--port must be between 1 and 65535")
    # Workers rebuild the settings from the environment: make sure they see the same ones.
    os.environ.setdefault("CATALOGUE_DATA_DIR", str(settings.data_dir))
    forget_shared_pages(settings)
    try:
        uvicorn.run("web.app:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, access_log=args.access_log,
                    log_level=settings.log_level.lower(), proxy_headers=True,
                    timeout_graceful_shutdown=5)
    finally:
        forget_shared_pages(settings)  # in memory by default: give it back
    return 0
