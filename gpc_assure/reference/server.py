"""Run the reference GP system on loopback, in a background thread, and describe it as a Target."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from gpc_assure import __version__
from gpc_assure.errors import TargetUnreachable
from gpc_assure.reference.app import ReferenceProvider
from gpc_assure.reference.data import Pack, load_pack
from gpc_assure.reference.diary import target_section as appointments_target
from gpc_assure.reference.faults import ActiveFaults
from gpc_assure.reference.permissions import PermissionsProvider, choose_version
from gpc_assure.reference.permissions import target_section as permissions_target
from gpc_assure.target import Target, parse_target


def target_mapping(pack: Pack, base: str, permissions: PermissionsProvider | None = None) -> dict[str, Any]:
    """A target file's content pointing at a reference system served at `base` (http://host:port)."""
    org = next(o for o in pack.organisation if o.id == pack.practice.organisation_id)
    def entry(nhs: str) -> dict[str, Any]:
        rec = next((p for p in [*pack.patient, *pack.pds] if p.nhs_number == nhs), None)
        out: dict[str, Any] = {"nhs_number": nhs}
        if rec is not None:
            out.update(family=rec.family, given=list(rec.given), birth_date=rec.birth_date)
            if rec.gender:
                out["gender"] = rec.gender
        return out

    patients = {role: entry(nhs) for role, nhs in pack.roles().items()}
    more_patients = {role: [entry(nhs) for nhs in numbers] for role, numbers in pack.more_patients().items()}
    prac = pack.practitioner[0]
    no_role = next((p for p in pack.practitioner if not p.role_profile_ids), None)
    return {
        "target": {"name": "gpc-assure reference GP system"},
        # Who and what the demo pack is about: the built-in reference, on loopback, by whoever ran it.
        "system": {"supplier": "gpc-assure project", "product": "gpc-assure reference GP system",
                   "version": __version__, "environment": "loopback (built-in reference, synthetic data)",
                   "operator": getpass_user(), "rm213_category": "nme-provider"},
        "provider": {"base_url": f"{base}/{pack.practice.ods_code}/STU3/1/gpconnect",
                     "asid": pack.practice.asid, "ods_code": pack.practice.ods_code},
        "consumer": pack.consumer.model_dump(mode="json"),
        "timeouts": {"connect_s": 5, "read_s": 10, "request_s": 20, "run_s": 1800},
        "test_data": {
            "patients": patients,
            **({"more_patients": more_patients} if more_patients else {}),
            "practitioner_sds_user_id": prac.sds_user_id,
            "practitioner_id": prac.id,
            "organisation_ods_code": org.ods_code,
            "organisation_id": org.id,
            "location_id": pack.location[0].id,
            "practitioner_role_profile_ids": list(prac.role_profile_ids),
            **({"practitioner_without_role_profile_sds_user_id": no_role.sds_user_id} if no_role else {}),
        },
        **({"appointments": appointments_target(pack)} if pack.appointments else {}),
        **({"permissions": permissions_target(permissions, base)} if permissions is not None else {}),
    }


def getpass_user() -> str:
    """Who is running the tool, as the operating system knows them (for the demo pack's identity)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def free_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it every keep-alive request after the first waits ~40 ms
    # (Nagle on the server's split header/body writes meeting the client's delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class BackgroundServer:
    """An ASGI app served by uvicorn on an already bound socket, in a daemon thread (reference, simulator)."""

    def __init__(self, app: Any, sock: socket.socket, name: str):
        self.sock = sock
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name=name,
                                        daemon=True)

    def start(self, timeout: float, failure: str) -> None:
        """Wait until uvicorn listens; `failure` is the one-line error when it does not within `timeout`."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise TargetUnreachable(failure)
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self.sock.close()


class ReferenceServer:
    """The reference provider served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, faults: list[str] | tuple[str, ...] = (), port: int = 0, pack: Pack | None = None,
                 host: str = "127.0.0.1", pfs_version: str | None = None):
        self.pack = pack or load_pack()
        # User Permissions version: as given, else $GPC_ASSURE_PFS_VERSION, else legacy for a legacy-only fault.
        self.provider = ReferenceProvider(self.pack, ActiveFaults(faults),
                                          pfs_version=choose_version(tuple(faults), pfs_version))
        self.sock = free_socket(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self._serving = BackgroundServer(self.provider.app, self.sock, "gpc-reference")

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ReferenceServer:
        self._serving.start(timeout, "the reference GP system did not start")
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def target(self) -> Target:
        return parse_target(target_mapping(self.pack, self.base, self.provider.permissions),
                            source="reference target")

    def write_target(self, path: Path) -> None:
        import tomli_w

        path.write_text(tomli_w.dumps(target_mapping(self.pack, self.base, self.provider.permissions)), "utf-8")
