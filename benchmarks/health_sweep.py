"""Sweep of 10,000 SIP endpoints: vcorch's Sweeper next to a bare loop and SIPVicious svmap.

    .venv/bin/python benchmarks/health_sweep.py [--count 10000] [--sweeps 3]

What runs, in one go, against the same targets:

- a local SIP responder in its own process (pinned to the second core when there is one)
  with one UDP socket per port on 127.0.0.1, ``--count`` consecutive ports.  Each port
  answers OPTIONS with a full RFC 3261 response (Via with received/rport, From, To with a
  tag, Call-ID, CSeq) from that port, so every target is a separate endpoint as seen on
  the wire.  A real SIP server cannot stand in here: kamailio forks a set of ``children``
  worker processes per UDP listening socket (10,000 sockets, 10,000 processes or more),
  baresip is one user agent per process.  The tests (tests/monitoring) run the probes
  against real kamailio and baresip.  The responder's own CPU time is reported for each
  phase, so it shows when the responder, not the prober, sets the pace.
- (a) baseline: one asyncio DatagramProtocol socket sends one OPTIONS per target and
  counts answers; no retransmission, no matching, no state.
- (b) vcorch: ``Sweeper.sweep`` over the same targets through ``SipUdpProber``: per-target
  transactions with Timer E retransmission, branch/Call-ID matching, ProbeResult per
  target, hysteresis state and state-change records.  Run ``--sweeps`` times: the first
  sweep takes every endpoint from unknown to up (10,000 changes), later ones are steady.
- (c) ``sipvicious_svmap -p <first>-<last> -t 0 127.0.0.1``: one svmap run covers every
  port of the range (its ``-p`` takes ranges), so it scans exactly the same targets.

The benchmark process is pinned to one core (the goal is "on one core").  Wall time and
CPU seconds (user + system, from getrusage) are reported per phase, with the number of
answers each counted; JSON goes to benchmarks/results/health_sweep.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from vcorch.monitoring.hysteresis import Health
from vcorch.monitoring.probes.sip import SipProbe
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.sweep import Sweeper, SweepTarget

MAX_COUNT = 20_000
PHASE_LIMIT = 60.0  # seconds any one phase may take before it is stopped
RESPONDER_LIFETIME = 300.0
PORT_BASES = (20_000, 21_000, 22_000, 12_000, 13_000, 14_000)  # below the ephemeral range
RESULTS = Path(__file__).resolve().parent / "results" / "health_sweep.json"
GOAL_SECONDS = 1.0


# -- the responder (runs in a child process) ------------------------------------------


def _answer(request: bytes, source: tuple[str, int]) -> bytes | None:
    """A 200 OK to an OPTIONS request, built from the request's own headers."""
    if not request.startswith(b"OPTIONS "):
        return None
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    lines = [b"SIP/2.0 200 OK"]
    first_via = True
    for line in head[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v"):
            if first_via:
                # RFC 3581: fill in rport, and add received, on the topmost Via.
                received = f";received={source[0]}".encode()
                if b";rport" in line:
                    line = line.replace(b";rport", f";rport={source[1]}".encode(), 1)
                line += received
                first_via = False
            lines.append(line)
        elif name in (b"from", b"f", b"call-id", b"i", b"cseq"):
            lines.append(line)
        elif name in (b"to", b"t"):
            lines.append(line if b";tag=" in line else line + b";tag=resp")
    lines.append(b"Server: vcorch-bench-responder")
    lines.append(b"Content-Length: 0")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def run_responder(count: int) -> None:
    """Bind ``count`` consecutive UDP ports, print the first, answer until stdin closes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 64
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    sockets: dict[int, socket.socket] = {}
    base = None
    sock: socket.socket | None
    for candidate in PORT_BASES:
        opened: list[socket.socket] = []
        try:
            for port in range(candidate, candidate + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                opened.append(sock)
                sock.bind(("127.0.0.1", port))
                sock.setblocking(False)
        except OSError:
            for sock in opened:
                sock.close()
            continue
        base = candidate
        sockets = {sock.fileno(): sock for sock in opened}
        break
    if base is None:
        print("no free port range", flush=True)
        sys.exit(3)
    poller = select.epoll()
    for fd in sockets:
        poller.register(fd, select.EPOLLIN)
    poller.register(sys.stdin.fileno(), select.EPOLLIN | select.EPOLLHUP)
    print(f"ready {base}", flush=True)
    stop_at = time.monotonic() + RESPONDER_LIFETIME
    while time.monotonic() < stop_at:
        for fd, _events in poller.poll(1.0, 4096):
            sock = sockets.get(fd)
            if sock is None:
                return  # stdin closed or readable: the parent is done
            while True:
                try:
                    data, source = sock.recvfrom(65_535)
                except BlockingIOError:
                    break
                except OSError:
                    continue
                reply = _answer(data, source)
                if reply is not None:
                    with contextlib.suppress(OSError):
                        sock.sendto(reply, source)


@contextlib.contextmanager
def responder(count: int, core: int) -> Iterator[tuple[int, psutil.Process]]:
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter running this file
        [sys.executable, __file__, "--responder", "--count", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("ready "):
            raise RuntimeError(f"responder did not start: {line!r}")
        handle = psutil.Process(process.pid)
        handle.cpu_affinity([core])
        yield int(line.split()[1]), handle
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# -- measuring ------------------------------------------------------------------------


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class _Counter(asyncio.DatagramProtocol):
    def __init__(self, expected: int, done: asyncio.Future[None]) -> None:
        self.sources: set[int] = set()
        self.last_answer = 0.0
        self._expected = expected
        self._done = done

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if data.startswith(b"SIP/2.0 200"):
            self.sources.add(addr[1])
            self.last_answer = time.perf_counter()
            if len(self.sources) == self._expected and not self._done.done():
                self._done.set_result(None)


async def baseline(ports: list[int]) -> dict[str, Any]:
    """One socket, one OPTIONS per port, count distinct answering ports."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    local_port = sock.getsockname()[1]
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Counter(len(ports), done), sock=sock
    )
    wall, cpu = time.perf_counter(), _cpu_self()
    for n, port in enumerate(ports):
        transport.sendto(
            (
                f"OPTIONS sip:bench@127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bKbase{n};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:bench@127.0.0.1>;tag=b{n}\r\n"
                f"To: <sip:bench@127.0.0.1:{port}>\r\n"
                f"Call-ID: base{n}@bench\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", port),
        )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, 3.0)
    cpu = _cpu_self() - cpu
    transport.close()
    # Without retransmission a lost answer is never coming: the sweep is over at the
    # last answer, so that is the time reported (the wait for stragglers is not).
    return {
        "wall_s": protocol.last_answer - wall,
        "cpu_s": cpu,
        "answered": len(protocol.sources),
        "note": "time to the last answer; CPU includes waiting up to 3 s for lost answers",
    }


async def vcorch_sweeps(ports: list[int], sweeps: int) -> list[dict[str, Any]]:
    """``sweeps`` consecutive sweeps of one Sweeper over every port."""
    targets = [
        SweepTarget(endpoint_id=n, kind="sip", address=f"sip:bench@127.0.0.1:{port}")
        for n, port in enumerate(ports)
    ]
    runs: list[dict[str, Any]] = []
    async with SipUdpProber(bind_host="127.0.0.1") as prober:
        sweeper = Sweeper(probes={"sip": SipProbe(prober)}, sip_udp=prober, timeout=2.0)
        now = datetime.now(UTC)
        for number in range(sweeps):
            before = (prober.stats.sent, prober.stats.retransmitted)
            wall, cpu = time.perf_counter(), _cpu_self()
            report = await sweeper.sweep(targets, now + timedelta(seconds=60 * number))
            wall, cpu = time.perf_counter() - wall, _cpu_self() - cpu
            healthy = sum(1 for _target, result in report.results if result.ok)
            runs.append(
                {
                    "sweep": number + 1,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "answered": report.answered,
                    "healthy": healthy,
                    "state_changes": len(report.changes),
                    "endpoints_up": sum(
                        1 for health in sweeper.states.values() if health.state is Health.UP
                    ),
                    "sent": prober.stats.sent - before[0],
                    "retransmitted": prober.stats.retransmitted - before[1],
                }
            )
    return runs


def svmap(first: int, last: int) -> dict[str, Any]:
    """One svmap run over the whole port range; answers counted from its result table."""
    executable = shutil.which("sipvicious_svmap") or str(
        Path(sys.executable).with_name("sipvicious_svmap")
    )
    if not Path(executable).exists():
        return {"skipped": "sipvicious_svmap not found (pip install sipvicious)"}
    command = [executable, "-p", f"{first}-{last}", "-t", "0", "127.0.0.1"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    completed = subprocess.run(  # noqa: S603 -- fixed argument list, no shell
        command,
        capture_output=True,
        text=True,
        timeout=PHASE_LIMIT,
        check=False,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    answered = len(set(re.findall(r"127\.0\.0\.1:(\d+)", completed.stdout)))
    return {
        "command": " ".join(["sipvicious_svmap", *command[1:]]),
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "answered": answered,
        "exit_code": completed.returncode,
        # svmap sends each request once: an answer its socket buffer dropped stays lost
        # (exit code 30 is its own "sent != received").  The time includes its start-up.
        "note": "no retransmission; wall time includes interpreter start-up",
    }


async def run(count: int, sweeps: int) -> dict[str, Any]:
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[0]})
    load_before = os.getloadavg()
    # svmap, started from here, inherits this pinning: it also runs on one core.
    with responder(count, cores[-1]) as (base, responder_process):
        ports = list(range(base, base + count))
        phases: dict[str, Any] = {}
        cpu = _cpu_of(responder_process)
        phases["baseline"] = await baseline(ports)
        phases["baseline"]["responder_cpu_s"] = _cpu_of(responder_process) - cpu
        cpu = _cpu_of(responder_process)
        phases["vcorch"] = await vcorch_sweeps(ports, sweeps)
        phases["vcorch_responder_cpu_s"] = _cpu_of(responder_process) - cpu
        cpu = _cpu_of(responder_process)
        phases["svmap"] = svmap(ports[0], ports[-1])
        phases["svmap"]["responder_cpu_s"] = _cpu_of(responder_process) - cpu
    load_after = os.getloadavg()
    worst = max(run["wall_s"] for run in phases["vcorch"])
    every_answer = all(run["answered"] == count for run in phases["vcorch"])
    return {
        "benchmark": "health_sweep",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "benchmark_pinned_to_cpu": cores[0],
            "responder_cpu": cores[-1],
            # Other work on the machine shows here; wall times suffer from it, CPU less.
            "load_average_1min_before_after": [load_before[0], load_after[0]],
        },
        "targets": count,
        "port_range": [ports[0], ports[-1]],
        **phases,
        "goal": {
            "sweep_under_s": GOAL_SECONDS,
            "worst_sweep_s": worst,
            "median_sweep_s": statistics.median(run["wall_s"] for run in phases["vcorch"]),
            "median_sweep_cpu_s": statistics.median(run["cpu_s"] for run in phases["vcorch"]),
            "every_answer_counted": every_answer,
            "met": worst < GOAL_SECONDS and every_answer,
        },
    }


def _line(name: str, phase: dict[str, Any], extra: str = "") -> str:
    return (
        f"{name:<11}: {phase['wall_s']:.3f} s wall, {phase['cpu_s']:.3f} s CPU, "
        f"{phase['answered']} answers{extra}"
    )


def _summarise(report: dict[str, Any]) -> None:
    first, last = report["port_range"]
    print(f"targets: {report['targets']} (127.0.0.1 ports {first}-{last})")
    print(_line("baseline", report["baseline"]))
    for sweep in report["vcorch"]:
        extra = (
            f", {sweep['state_changes']} state changes, {sweep['retransmitted']} retransmissions"
        )
        print(_line(f"vcorch #{sweep['sweep']}", sweep, extra))
    if "wall_s" in report["svmap"]:
        print(_line("svmap -t 0", report["svmap"]))
    else:
        print(f"svmap: {report['svmap']['skipped']}")
    verdict = "met" if report["goal"]["met"] else "NOT met"
    print(f"goal (< {GOAL_SECONDS:g} s per sweep, every answer counted): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--responder", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.count <= MAX_COUNT or not 1 <= args.sweeps <= 10:
        parser.error(f"--count must be 1..{MAX_COUNT} and --sweeps 1..10")
    if args.responder:
        run_responder(args.count)
        return
    report = asyncio.run(asyncio.wait_for(run(args.count, args.sweeps), PHASE_LIMIT * 3))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _summarise(report)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
