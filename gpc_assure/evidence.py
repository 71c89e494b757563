"""Evidence files: every exchange written as one redacted JSON file in the evidence pack."""

from __future__ import annotations

import itertools
import json
import re
import threading
from pathlib import Path
from typing import Any

from gpc_assure.errors import EvidenceWriteError
from gpc_assure.redaction import redact_headers, redact_mapping, redact_text
from gpc_assure.transport.exchange import Exchange

# Bodies longer than this are cut in the evidence file (the size is still recorded).
MAX_EVIDENCE_BODY = 256 * 1024


def body_for_evidence(raw: bytes, content_type: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"size": len(raw)}
    if not raw:
        return out
    text = raw[:MAX_EVIDENCE_BODY].decode("utf-8", errors="replace")
    if len(raw) > MAX_EVIDENCE_BODY:
        out["cut_at"] = MAX_EVIDENCE_BODY
    if (content_type and "json" in content_type.lower()) or text.lstrip().startswith(("{", "[")):
        try:
            out["json"] = redact_mapping(json.loads(raw))
            return out
        except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or hostile nesting: keep as text
            pass
    out["text"] = redact_text(text)
    return out


def exchange_record(ex: Exchange, test_id: str | None = None) -> dict[str, Any]:
    req = ex.request
    record: dict[str, Any] = {
        "test": test_id,
        "label": redact_text(ex.label),
        "interaction": ex.interaction,
        "elapsed_s": round(ex.elapsed_s, 4),
        "request": {
            "method": req.method,
            "url": redact_text(req.url),
            "headers": redact_headers(req.headers),
            "body": body_for_evidence(req.body, req.header("Content-Type")),
        },
        "response": None,
        "error": redact_text(ex.error) if ex.error else None,
        "notes": [redact_text(n) for n in ex.notes],
    }
    if ex.response is not None:
        r = ex.response
        record["response"] = {
            "status": r.status,
            "http_version": r.http_version,
            "headers": redact_headers(r.headers),
            "body": body_for_evidence(r.body, r.header("Content-Type")),
            "truncated": r.truncated,
        }
    return record


class EvidenceStore:
    """Writes exchange files into <pack>/exchanges/, numbered in the order they happened."""

    def __init__(self, pack_dir: Path):
        self.dir = pack_dir / "exchanges"
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.failed_writes = 0
        self.last_write_error: str | None = None  # why the latest failed write failed, e.g. "No space left"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvidenceWriteError(f"cannot create evidence folder {self.dir}: {exc.strerror}") from None

    def write(self, ex: Exchange, test_id: str | None) -> str | None:
        with self._lock:
            n = next(self._counter)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", ex.interaction or ex.request.method).strip("-").lower()
        name = f"{n:05d}-{slug}.json"
        path = self.dir / name
        try:
            path.write_text(json.dumps(exchange_record(ex, test_id), indent=1, ensure_ascii=False), "utf-8")
        except OSError as exc:
            # A full disk must not lose the run: the test keeps its verdict; the pack notes the gap,
            # and holds no half-written file.
            self.failed_writes += 1
            self.last_write_error = exc.strerror or str(exc)
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
            return None
        ex.evidence_file = f"exchanges/{name}"
        return ex.evidence_file
