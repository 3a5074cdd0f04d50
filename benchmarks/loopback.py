"""Loopback TCP on this host: round-trip time of a 64-byte message and one stream's throughput.

    python benchmarks/loopback.py

The figures behind the defaults of ``network.loopback_latency_ms`` and
``network.loopback_mbps`` (docs/hosts.md): nodes of one machine talk over loopback. Both ends
are Python, so the round trip includes the interpreter's per-call cost (an upper bound for
FISCO's C++ gateway); the throughput is one stream of 1 MiB ``sendall`` calls for 2 s.
Three runs, median.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

ROUND_TRIPS = 20_000
STREAM_SECONDS = 2.0
CHUNK = 1 << 20


def _serve(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mode = conn.recv(1)
    if mode == b"p":  # echo
        while data := conn.recv(64):
            conn.sendall(data)
    else:  # sink, then say how much arrived
        buffer, total = bytearray(CHUNK), 0
        while count := conn.recv_into(buffer):
            total += count
        conn.sendall(str(total).encode())
    conn.close()


def _connect(mode: bytes) -> tuple[socket.socket, threading.Thread]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    server = threading.Thread(target=_serve, args=(listener,))
    server.start()
    conn = socket.create_connection(listener.getsockname())
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(mode)
    return conn, server


def round_trip_us() -> float:
    """Median round trip of a 64-byte message, µs."""
    conn, server = _connect(b"p")
    message, times = b"x" * 64, []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        conn.sendall(message)
        got = 0
        while got < len(message):
            got += len(conn.recv(64))
        times.append(time.perf_counter() - started)
    conn.close()
    server.join()
    return statistics.median(times) * 1e6


def stream_gbit_s() -> float:
    """One TCP stream's throughput, Gbit/s."""
    conn, server = _connect(b"t")
    data, sent = b"\0" * CHUNK, 0
    started = time.perf_counter()
    while time.perf_counter() - started < STREAM_SECONDS:
        conn.sendall(data)
        sent += len(data)
    conn.shutdown(socket.SHUT_WR)
    conn.recv(64)  # the sink's count: everything has arrived
    elapsed = time.perf_counter() - started
    conn.close()
    server.join()
    return sent * 8 / elapsed / 1e9


def main() -> None:
    trips, rates = [], []
    for run in range(3):
        trips.append(round_trip_us())
        rates.append(stream_gbit_s())
        print(f"run {run + 1}: round trip {trips[-1]:.1f} µs, {rates[-1]:.2f} Gbit/s")
    trip = statistics.median(trips)
    print(f"median: round trip {trip:.1f} µs (one way ~{trip / 2:.1f} µs), "
          f"{statistics.median(rates):.2f} Gbit/s")


if __name__ == "__main__":
    main()
