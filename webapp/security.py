"""Safe output: security headers on every response, and links only to http(s) addresses."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response

# The pages use no script at all: nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def safe_url(url: str) -> str:
    """url if it is an http(s) address, else "": an archive's `javascript:` link stays text."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url.strip() if scheme in ("http", "https") else ""


def register(app: Flask) -> None:
    """Add the headers to every response and the safe_url filter to the templates."""
    app.add_template_filter(safe_url)

    @app.after_request
    def add_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
