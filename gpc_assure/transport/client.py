"""An httpx client that speaks GP Connect, bounded in time and size, recording every exchange.

Every request gets the four Ssp-* headers, a fresh JWT and content negotiation headers, all of
which a test can override or remove to probe how the provider handles bad requests. The client
never raises for what the target does: a hang, reset, garbage or a huge body becomes an Exchange
with `error` set, which checks turn into failures with a clear reason.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpcore
import httpx

from gpc_assure.errors import ConfigError
from gpc_assure.target import Target
from gpc_assure.transport import interactions, jwt
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"

Observer = Callable[[Exchange], None]
# A header value of None removes that header from the request.
HeaderOverrides = Mapping[str, str | None]
Params = Sequence[tuple[str, str]] | Mapping[str, str] | None


def build_ssl_context(target: Target) -> ssl.SSLContext | None:
    """The TLS context for the target's [tls] section; None means the default (system CAs, no client cert).

    Raises ConfigError when the CA bundle, certificate or key cannot be loaded (wrong password,
    key not matching the certificate, not PEM), so a bad [tls] section is a one-line exit 2.
    """
    tls = target.tls
    if tls is None or not target.provider.base_url.startswith("https://"):
        return None
    try:
        ctx = ssl.create_default_context(cafile=str(tls.ca_bundle) if tls.ca_bundle else None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if tls.client_cert:
            ctx.load_cert_chain(str(tls.client_cert), str(tls.client_key) if tls.client_key else None,
                                password=tls.key_password)
    except (ssl.SSLError, OSError, ValueError) as exc:
        # Never echo the password; the library's reason names what was wrong with the files.
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"tls: cannot load the CA bundle, client certificate or key ({reason})") from None
    return ctx


class _Deadline(threading.local):
    """When the exchange in progress on this thread must be over (monotonic seconds; None: no limit)."""

    at: float | None = None

    def clamp(self, timeout: float | None, expired: type[Exception]) -> float | None:
        """A socket timeout that never reaches past the deadline; raise `expired` once it has passed."""
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise expired("the exchange's deadline (timeouts.request_s) has passed")
        return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    """A socket whose every read and write is cut short at the exchange deadline.

    httpx's read timeout restarts with every byte, so a target dripping its status line or headers
    one byte at a time would otherwise hold an exchange open forever.
    """

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # The handshake is one call whose timeout bounds the whole of it (not each record received).
        limit = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._inner.start_tls(ssl_context, server_hostname, limit), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline):
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._deadline.clamp(timeout, httpcore.ConnectTimeout),
                                         local_address, socket_options)
        return _BoundedStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _BoundedTransport(httpx.HTTPTransport):
    """httpx's own transport over the deadline-enforcing backend.

    httpx has no option for httpcore's network backend, so this builds the connection pool itself
    (HTTPTransport only ever uses `_pool`; httpx is pinned below 0.29 in pyproject.toml).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None, deadline: _Deadline):
        # Not super().__init__(): it would build (and load CA certificates for) a pool replaced here.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, max_connections=100,
                                             max_keepalive_connections=20, keepalive_expiry=5.0,
                                             network_backend=_BoundedBackend(deadline))


class GpcClient:
    """Sends GP Connect requests to one provider on behalf of the configured consumer identity."""

    def __init__(self, target: Target, observers: Iterable[Observer] = (),
                 transport: httpx.BaseTransport | None = None):
        self.target = target
        self.observers: list[Observer] = list(observers)
        t = target.timeouts
        self._deadline = _Deadline()
        self._http = httpx.Client(
            timeout=httpx.Timeout(connect=t.connect_s, read=t.read_s, write=t.read_s, pool=t.connect_s),
            transport=transport or _BoundedTransport(build_ssl_context(target), self._deadline),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building requests -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.target.provider.base_url

    def claims(self, interaction: str, **overrides: Any) -> dict[str, Any]:
        """A conformant JWT claim set for an interaction, with claims replaced (or removed with ...)."""
        i = interactions.get(interaction)
        c = jwt.build_claims(self.target.consumer, audience=self.base_url, scope=i.scope)
        for k, v in overrides.items():
            if v is ...:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def default_headers(self, interaction: str | None, token: str | None = None) -> dict[str, str]:
        headers = {
            "Ssp-TraceID": str(uuid.uuid4()),
            "Ssp-From": self.target.consumer.asid,
            "Ssp-To": self.target.provider.asid,
            "Accept": FHIR_JSON,
        }
        if interaction:
            headers["Ssp-InteractionID"] = interactions.get(interaction).interaction_id
            headers["Authorization"] = "Bearer " + (token or jwt.encode(self.claims(interaction)))
        return headers

    # -- sending -------------------------------------------------------------------------------
    def call(
        self,
        interaction: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Params = None,
        body: Any = None,
        headers: HeaderOverrides | None = None,
        claims: dict[str, Any] | None = None,
        token: str | None = None,
        method: str | None = None,
        path: str | None = None,
        label: str = "",
        chunked: bool = False,
    ) -> Exchange:
        """Perform one interaction. Any part can be overridden to build a deliberately bad request.

        A header given as None is not sent at all, not even httpx's own default (Accept: */*).
        `chunked` sends the body with Transfer-Encoding: chunked instead of Content-Length.
        """
        i = interactions.get(interaction)
        if token is None and claims is not None:
            token = jwt.encode(claims)
        h: dict[str, str] = self.default_headers(interaction, token)
        raw_body = b""
        if body is not None:
            raw_body = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            h["Content-Type"] = FHIR_JSON + ";charset=utf-8"
        dropped: list[str] = []
        for k, v in (headers or {}).items():
            for existing in [e for e in h if e.lower() == k.lower()]:
                del h[existing]
            if v is not None:
                h[k] = v
            else:
                dropped.append(k)
        url_path = path if path is not None else i.url_path(**(path_params or {}))
        return self.send(method or i.method, url_path, params=params, headers=h, body=raw_body,
                         interaction=interaction, label=label, drop=dropped, chunked=chunked)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        interaction: str | None = None,
        label: str = "",
        drop: Iterable[str] = (),
        chunked: bool = False,
    ) -> Exchange:
        """Send a raw request to base_url + path and record it, bounded by the exchange deadline."""
        url = httpx.URL(self.base_url + path)
        if params:
            # Appended, not merged: a parameter already in `path` is kept, and repeats are all sent.
            added = str(httpx.QueryParams(list(params.items()) if isinstance(params, Mapping) else list(params)))
            query = url.query.decode("ascii")
            url = url.copy_with(query=(f"{query}&{added}" if query else added).encode("ascii"))
        # A generator body makes httpx send Transfer-Encoding: chunked (GEN-CT-007 probes).
        content = (iter([body]) if body else iter([])) if chunked else (body or None)
        request = self._http.build_request(method, url, headers=dict(headers or {}), content=content)
        for name in drop:  # httpx adds defaults (e.g. Accept: */*) that a probe may need absent
            if name in request.headers:
                del request.headers[name]
        recorded = RecordedRequest(method, str(request.url), list(request.headers.multi_items()), body)
        exchange = Exchange(interaction, recorded, label=label)
        limits = self.target.timeouts
        started = time.monotonic()
        # Every socket operation of this exchange stops at the deadline (see _BoundedStream).
        self._deadline.at = started + limits.request_s
        progress = ""  # what had arrived when a failure cut the exchange short
        try:
            response = self._http.send(request, stream=True)
            try:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                progress = f" (after HTTP {response.status_code} and its headers)"
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limits.max_body_bytes:
                        truncated = True
                        exchange.error = (f"response body exceeded the {limits.max_body_bytes}-byte limit "
                                          "(timeouts.max_body_bytes); the rest was not read")
                        break
                    chunks.append(chunk)
                    progress = f" (after HTTP {response.status_code}, its headers and {size} bytes of body)"
                exchange.response = RecordedResponse(
                    status=response.status_code,
                    headers=list(response.headers.multi_items()),
                    body=b"".join(chunks),
                    truncated=truncated,
                    http_version=response.http_version,
                )
            finally:
                response.close()
        except httpx.HTTPError as exc:
            if time.monotonic() >= self._deadline.at:
                exchange.error = (f"the exchange did not complete within {limits.request_s:g} s "
                                  f"(timeouts.request_s){progress}")
            else:
                exchange.error = _failure(exc, limits.connect_s, limits.read_s) + progress
        finally:
            self._deadline.at = None
        exchange.elapsed_s = time.monotonic() - started
        for observe in self.observers:
            observe(exchange)
        return exchange


def _failure(exc: httpx.HTTPError, connect_s: float, read_s: float) -> str:
    """Why a transport failure happened, in words a supplier can act on."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {connect_s:g} s (timeouts.connect_s)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"the target sent nothing for {read_s:g} s (timeouts.read_s)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"the target did not take the request within {read_s:g} s (timeouts.read_s)"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {_reason(exc)}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the target's answer was not valid HTTP: {_reason(exc)}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"the connection failed mid-exchange (reset?): {_reason(exc)}"
    if isinstance(exc, httpx.DecodingError):
        return f"the response body could not be decoded: {_reason(exc)}"
    return f"HTTP failure: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
