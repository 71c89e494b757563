"""Benchmark: mesh-sandbox start-up, and Send Document round trips through it.

    python benchmarks/mesh_roundtrip.py [--starts 3] [--messages 20] [--version v2|v1.3]

Measures (wall clock, this machine):
- start-up: spawning NHS's mesh-sandbox (our launcher, our mailboxes, HMAC auth on) until /health answers;
- round trip: the suite posts a valid Send Document message to the reference receiver through the
  sandbox, and waits for the ITK3 infrastructure acknowledgement, then the business acknowledgement,
  polling its own mailboxes every 20 ms (the reference receiver polls its inbox every 20 ms too, so
  the figures include up to two poll intervals of waiting by design).
A measurement, not a timed test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gpc_assure.messaging import itk3
from gpc_assure.messaging.cases import baseline, patient_details
from gpc_assure.messaging.harness import SuitePeer
from gpc_assure.messaging.spec import spec_for
from gpc_assure.reference.messaging.network import BuiltInNetwork
from gpc_assure.reference.server import target_mapping
from gpc_assure.target import parse_target


def _ms(values: list[float]) -> str:
    values = sorted(v * 1000 for v in values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return (f"median {statistics.median(values):7.1f} ms   min {values[0]:7.1f} ms   p95 {p95:7.1f} ms   "
            f"(n={len(values)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="sandbox start-ups to time")
    parser.add_argument("--messages", type=int, default=20, help="round trips to time")
    parser.add_argument("--version", choices=("v2", "v1.3"), default="v2")
    args = parser.parse_args(argv)
    spec = spec_for(args.version)
    work = Path(tempfile.mkdtemp(prefix="gpc-mesh-bench-"))

    startups = []
    for n in range(args.starts):
        net = BuiltInNetwork(spec, work / f"start-{n}", roles=())
        started = time.monotonic()
        net.start()
        startups.append(time.monotonic() - started)
        net.stop()
    print(f"mesh-sandbox start-up (spawn -> /health 200, incl. mailbox set-up): {_ms(startups)}")

    net = BuiltInNetwork(spec, work / "roundtrip", roles=("receiver",))
    net.start()
    try:
        pack = net.pack
        target = parse_target(target_mapping(pack, "http://127.0.0.1:9"))
        setup = net.setup(target)
        peer = SuitePeer(setup, lambda ex: None)
        patient = patient_details(target.test_data.patients["registered_verified"])
        infra, business, sends = [], [], []
        for _ in range(args.messages):
            outgoing = baseline(setup, patient)
            t0 = time.monotonic()
            sent = peer.send_message(setup.sut_receiver_mailbox, outgoing)
            sends.append(time.monotonic() - t0)
            t_inf = t_bus = None
            while time.monotonic() - t0 < setup.ack_wait_s and t_bus is None:
                for a in peer.collect():
                    if a.seq <= sent.seq_before or a.response is None:
                        continue
                    if a.response.itk_code == itk3.INF_SUCCESS and t_inf is None:
                        t_inf = time.monotonic() - t0
                    elif a.response.business:
                        t_bus = time.monotonic() - t0
                time.sleep(setup.poll_interval_s)
            if t_inf is None or t_bus is None:
                print("an acknowledgement did not arrive within the bound", file=sys.stderr)
                return 1
            infra.append(t_inf)
            business.append(t_bus)
        peer.close()
    finally:
        net.stop()
    print(f"send (POST outbox, 202)                                          : {_ms(sends)}")
    print(f"send -> infrastructure ack (20013) collected                     : {_ms(infra)}")
    print(f"send -> business ack (30001) collected                           : {_ms(business)}")
    print(f"spec version {spec.label}; logs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
