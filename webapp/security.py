"""Safe requests and answers: security and caching headers on every response, links only to
http(s) addresses, requests whose percent-encoding is not UTF-8 refused, and requests that
name this server by a name it does not answer as refused (DNS rebinding: a page elsewhere whose
name is made to lead here would otherwise read and save as if it were this site)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes, urlsplit

from flask import Flask, Response, abort, request

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
# Pages and answers are never stored by a browser or a proxy: they say what someone asked, and
# they change when the index does. The stylesheet is revalidated (Flask sends it with an ETag).
NO_STORE = "no-store"
# The names a server answers as unless told others (`serve --name`, NEWS_SEARCH_SERVER_NAMES,
# comma-separated; "*" for any: behind a proxy that checks them itself).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def server_names(configured: object) -> frozenset[str]:
    """The host names a server answers as, from its SERVER_NAMES setting (a list, or text
    with commas); LOOPBACK_NAMES when it has none."""
    names = configured.split(",") if isinstance(configured, str) else configured
    names = [str(n).strip().lower().strip("[]").rstrip(".") for n in names or ()]
    return frozenset(n for n in names if n) or frozenset(LOOPBACK_NAMES)


def host_name(host: str) -> str:
    """A Host header's name, without its port or an IPv6 address's brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).rstrip(".")


def safe_url(url: str) -> str:
    """url if it is an http(s) address, else "": an archive's `javascript:` link stays text."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url.strip() if scheme in ("http", "https") else ""


def _refuse(what: str, exc: UnicodeDecodeError) -> None:
    abort(400, f"the {what} is not UTF-8 once percent-decoded (byte {exc.object[exc.start]:#x} "
               f"at {exc.start}): encode text as UTF-8 before percent-encoding it")


def check_encoding(environ: dict) -> None:
    """400 when the address or the query string is not UTF-8 once percent-decoded; Werkzeug
    would decode such bytes to U+FFFD and search for that."""
    try:  # WSGI gives the decoded path's bytes as Latin-1 text
        environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        pass  # a server that decoded it already
    except UnicodeDecodeError as exc:
        _refuse("address", exc)
    try:
        raw = environ.get("QUERY_STRING", "").encode("latin-1")
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeEncodeError:
        pass
    except UnicodeDecodeError as exc:
        _refuse("query string", exc)


def register(app: Flask) -> None:
    """Check every request's host name and encoding, add the headers to every response, and the
    safe_url filter to the templates."""
    app.add_template_filter(safe_url)
    names = server_names(app.config.get("SERVER_NAMES"))

    @app.before_request
    def refuse_other_names() -> None:
        name = host_name(request.host)
        if "*" not in names and name not in names:
            abort(400, f"this server answers as {', '.join(sorted(names))}, not as "
                       f"{name[:100]!r}: start it with `news-search serve --name {name[:100]}` "
                       "to answer as that name")

    @app.before_request
    def refuse_broken_encoding() -> None:
        check_encoding(request.environ)

    @app.after_request
    def add_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", NO_STORE)
        return response
