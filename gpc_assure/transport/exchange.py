"""One request and what came back: the unit every check reads and every evidence file records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


@dataclass
class RecordedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool = False  # the body exceeded the size cap and the rest was not read
    http_version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name.lower()]
    return ", ".join(values) if values else None


class BodyNotJson(ValueError):
    """The response body is not a JSON document."""


@dataclass
class Exchange:
    """A request, and its response or the transport failure that stopped it."""

    interaction: str | None
    request: RecordedRequest
    response: RecordedResponse | None = None
    error: str | None = None  # why there is no (complete) response: timeout, reset, garbage, too big
    elapsed_s: float = 0.0
    label: str = ""  # what the test was doing, e.g. "find patient (registered_verified)"
    evidence_file: str | None = None  # set once written to the evidence pack
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return self.response.status if self.response else None

    @cached_property
    def json(self) -> Any:
        """The parsed body. Raises BodyNotJson with a readable reason."""
        if self.response is None:
            raise BodyNotJson(f"no response: {self.error}")
        if self.response.truncated:
            raise BodyNotJson("the response body was larger than the configured limit and was not read")
        if not self.response.body:
            raise BodyNotJson("the response body is empty")
        try:
            return json.loads(self.response.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise BodyNotJson("the response body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise BodyNotJson(f"the response body is not JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:  # a hostile body such as '[[[[...' nested beyond what the parser allows
            raise BodyNotJson("the response body is JSON nested too deeply to read") from None

    def describe(self) -> str:
        what = (self.response and f"HTTP {self.response.status}") or f"no response ({self.error})"
        return f"{self.request.method} {self.request.url} -> {what}"
