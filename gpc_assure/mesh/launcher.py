"""Runs NHS's mesh-sandbox in its own process, with our mailboxes and a log of every request it gets.

Started by gpc_assure.mesh.sandbox as `python -m gpc_assure.mesh.launcher --port P --data DIR
--capture FILE`, with AUTH_MODE, STORE_MODE and SHARED_KEY in the environment (never on the command
line, where any user could read the key).

Two additions to the unmodified sandbox, both from outside its package:
- mailboxes and workflows come from DIR (mailboxes.jsonl, workflows.jsonl) instead of the files inside
  the installed package: the store's data folder is set just before it loads them. This reaches one
  private attribute, which is why the sandbox version is pinned.
- every request is appended to FILE as a JSON line: method, path, status, the mex-* and content
  headers, and the parts of the Authorization token without its hash. The sandbox itself ignores
  Mex-From and never rejects a reused token; the suite judges those from this log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import warnings
from typing import Any

_KEPT_HEADERS = ("content-type", "content-encoding", "accept")


def _request_record(method: str, path: str, query: str, headers: dict[str, str], status: int) -> dict[str, Any]:
    from gpc_assure.mesh import auth

    token = auth.parse(headers.get("authorization"))
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "method": method,
        "path": path,
        "query": query,
        "status": status,
        "headers": {k: v for k, v in headers.items() if k.startswith("mex-") or k in _KEPT_HEADERS},
        "auth": token.as_dict() if token else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gpc_assure.mesh.launcher")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="folder holding mailboxes.jsonl and workflows.jsonl")
    parser.add_argument("--capture", required=True, help="JSON-lines file every request is appended to")
    args = parser.parse_args(argv)

    # FastAPI warns about the sandbox's route examples at import; they say nothing about the run.
    warnings.filterwarnings("ignore")
    from mesh_sandbox.store.canned_store import CannedStore

    original_initialise = CannedStore.initialise

    def initialise(self: Any) -> None:
        self._canned_data_dir = args.data
        original_initialise(self)

    CannedStore.initialise = initialise  # type: ignore[method-assign]

    import uvicorn
    from mesh_sandbox.api import app

    lock = threading.Lock()
    capture = open(args.capture, "a", encoding="utf-8", buffering=1)

    @app.middleware("http")
    async def capture_request(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        record = _request_record(request.method, request.url.path, request.url.query, headers,
                                 response.status_code)
        with lock:
            capture.write(json.dumps(record) + "\n")
        return response

    # The sandbox logs two lines per request at INFO; uvicorn's access log already has one.
    import logging
    from importlib.metadata import version

    logging.getLogger("mesh-sandbox").setLevel(logging.WARNING)
    print(f"gpc-assure: mesh-sandbox {version('mesh-sandbox')} on 127.0.0.1:{args.port}, AUTH_MODE=full "
          f"STORE_MODE=memory, mailboxes and workflows from {args.data}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", access_log=True, workers=1)


if __name__ == "__main__":
    main()
