"""gzip for the stylesheet and the script, never for pages.

On a slow mobile network the first question's stylesheet and script are most of its bytes
(about 15 KB of CSS and 4 KB of JS raw, a quarter of that gzipped). Pages are left alone on
purpose: they carry the CSRF token and echo what a visitor typed or put in the address, the mix
the BREACH attack needs to read a secret through compressed sizes over HTTPS. A reverse proxy in
front must follow the same rule.
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..extensions import compress

#: Static assets only: no HTML, JSON or text that could hold a token next to visitor input.
MIMETYPES = ["text/css", "text/javascript", "application/javascript"]


def read_static_file(response: Response) -> Response:
    """Turn a static file's streamed response into bytes before Flask-Compress sees it.

    Flask-Compress's streaming path swaps the response body without closing the open file, and
    skips ETag revalidation; as bytes (the file is small) it takes the whole-body path: gzip,
    Content-Length, ``ETag "…:gzip"`` and 304s. Werkzeug still closes the file with the response.
    """
    if request.endpoint == "static" and response.status_code == 200 and response.mimetype in MIMETYPES:
        response.direct_passthrough = False
        response.make_sequence()
    return response


def init_app(app: Flask) -> None:
    """Compress static CSS and JS with gzip (every browser has it; no extra packages)."""
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    app.config.setdefault("COMPRESS_STREAMS", False)  # see read_static_file
    compress.init_app(app)
    app.after_request(read_static_file)  # registered after, so it runs before Flask-Compress
