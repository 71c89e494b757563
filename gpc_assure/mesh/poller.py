"""A MESH inbox polled in the background: how the reference sender and receiver notice what arrives."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gpc_assure.mesh.client import MeshClient, MeshError


class InboxPoller:
    """Lists `client`'s inbox every `interval_s` in a daemon thread and hands each message ID to `handle`.

    The loop outlives any one bad message or MESH error (logged to `log`), so one broken message cannot
    silence a reference peer for the rest of a run. Empty polls are not recorded as evidence.
    """

    def __init__(self, client: MeshClient, handle: Callable[[str], None], interval_s: float, name: str,
                 log: logging.Logger):
        self.client, self.handle, self.interval_s, self.log = client, handle, interval_s, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for message_id in self.client.inbox(record_empty=False):
                    self.handle(message_id)
            except MeshError as exc:
                self.log.warning("%s: %s", self._thread.name, exc)
            except Exception:
                self.log.exception("%s failed on a message", self._thread.name)
            self._stop.wait(self.interval_s)
