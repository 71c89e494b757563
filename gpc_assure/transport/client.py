"""An httpx client that speaks GP Connect, bounded in time and size, recording every exchange.

Every request gets the four Ssp-* headers, a fresh JWT and content negotiation headers, all of
which a test can override or remove to probe how the provider handles bad requests. The client
never raises for what the target does: a hang, reset, garbage or a huge body becomes an Exchange
with `error` set, which checks turn into failures with a clear reason.
"""

from __future__ import annotations

import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from gpc_assure.target import Target
from gpc_assure.transport import interactions, jwt
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"

Observer = Callable[[Exchange], None]
# A header value of None removes that header from the request.
HeaderOverrides = Mapping[str, str | None]
Params = Sequence[tuple[str, str]] | Mapping[str, str] | None


def build_ssl_context(target: Target) -> ssl.SSLContext | bool:
    tls = target.tls
    if tls is None or not target.provider.base_url.startswith("https://"):
        return True
    ctx = ssl.create_default_context(cafile=str(tls.ca_bundle) if tls.ca_bundle else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.client_cert:
        ctx.load_cert_chain(str(tls.client_cert), str(tls.client_key) if tls.client_key else None,
                            password=tls.key_password)
    return ctx


class GpcClient:
    """Sends GP Connect requests to one provider on behalf of the configured consumer identity."""

    def __init__(self, target: Target, observers: Iterable[Observer] = (),
                 transport: httpx.BaseTransport | None = None):
        self.target = target
        self.observers: list[Observer] = list(observers)
        t = target.timeouts
        self._http = httpx.Client(
            timeout=httpx.Timeout(connect=t.connect_s, read=t.read_s, write=t.read_s, pool=t.connect_s),
            verify=build_ssl_context(target),
            transport=transport,
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
    ) -> Exchange:
        """Perform one interaction. Any part can be overridden to build a deliberately bad request."""
        i = interactions.get(interaction)
        if token is None and claims is not None:
            token = jwt.encode(claims)
        h: dict[str, str] = self.default_headers(interaction, token)
        raw_body = b""
        if body is not None:
            raw_body = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            h["Content-Type"] = FHIR_JSON + ";charset=utf-8"
        for k, v in (headers or {}).items():
            for existing in [e for e in h if e.lower() == k.lower()]:
                del h[existing]
            if v is not None:
                h[k] = v
        url_path = path if path is not None else i.url_path(**(path_params or {}))
        return self.send(method or i.method, url_path, params=params, headers=h, body=raw_body,
                         interaction=interaction, label=label)

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
    ) -> Exchange:
        """Send a raw request to base_url + path and record it, bounded by the exchange deadline."""
        url = httpx.URL(self.base_url + path)
        if params:
            url = url.copy_merge_params(params if isinstance(params, Mapping) else httpx.QueryParams(list(params)))
        request = self._http.build_request(method, url, headers=dict(headers or {}), content=body or None)
        recorded = RecordedRequest(method, str(request.url), list(request.headers.multi_items()), body)
        exchange = Exchange(interaction, recorded, label=label)
        limits = self.target.timeouts
        started = time.monotonic()
        deadline = started + limits.request_s
        try:
            response = self._http.send(request, stream=True)
            try:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limits.max_body_bytes:
                        truncated = True
                        exchange.error = (f"response body exceeded the {limits.max_body_bytes}-byte limit; "
                                          "the rest was not read")
                        break
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("deadline")
                exchange.response = RecordedResponse(
                    status=response.status_code,
                    headers=list(response.headers.multi_items()),
                    body=b"".join(chunks),
                    truncated=truncated,
                    http_version=response.http_version,
                )
            finally:
                response.close()
        except httpx.ConnectTimeout:
            exchange.error = f"could not connect within {limits.connect_s:g} s"
        except httpx.TimeoutException:
            exchange.error = f"the target did not answer within {limits.request_s:g} s (timed out)"
        except httpx.ConnectError as exc:
            exchange.error = f"could not connect: {_reason(exc)}"
        except httpx.RemoteProtocolError as exc:
            exchange.error = f"the target's answer was not valid HTTP: {_reason(exc)}"
        except (httpx.ReadError, httpx.WriteError) as exc:
            exchange.error = f"the connection failed mid-exchange (reset?): {_reason(exc)}"
        except httpx.DecodingError as exc:
            exchange.error = f"the response body could not be decoded: {_reason(exc)}"
        except httpx.HTTPError as exc:
            exchange.error = f"HTTP failure: {_reason(exc)}"
        exchange.elapsed_s = time.monotonic() - started
        for observe in self.observers:
            observe(exchange)
        return exchange


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
