"""Per-call cost of the strict middleware against bare moto server, same machine, same client.

    .venv/bin/python localaws/python/measure_overhead.py [CALLS]

Starts bare `moto.server` and the launcher (strict, then lax) on free ports, sends CALLS
sequential requests of a few kinds to each, prints the mean milliseconds per call.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{}/aws4_request, "
    "SignedHeaders=host, Signature=00"
)
FORM = "application/x-www-form-urlencoded; charset=utf-8"

# (label, service, method, path, body, extra headers)
REQUESTS = [
    (
        "ec2 DescribeVpcs",
        "ec2",
        "POST",
        "/",
        b"Action=DescribeVpcs&Version=2016-11-15",
        {"Content-Type": FORM},
    ),
    (
        "ec2 DeleteSubnet (rule)",
        "ec2",
        "POST",
        "/",
        b"Action=DeleteSubnet&SubnetId=subnet-0&Version=2016-11-15",
        {"Content-Type": FORM},
    ),
    (
        "ecs ListClusters",
        "ecs",
        "POST",
        "/",
        b"{}",
        {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        },
    ),
    ("s3 HeadBucket", "s3", "HEAD", "/bench", None, {}),
    ("route53 ListHostedZones", "route53", "GET", "/2013-04-01/hostedzone", None, {}),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str) -> tuple[subprocess.Popen, int]:
    if kind == "moto":
        port = free_port()
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return process, port
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")
    cmd = [sys.executable, os.path.join(HERE, "strict_moto.py"), "--port", "0", f"--{kind}"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = process.stdout.readline().decode()  # type: ignore[union-attr]
    return process, int(line.rsplit(":", 1)[1])


def send(port: int, service, method, path, body, headers) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        method, path, body=body, headers={"Authorization": AUTH.format(service), **headers}
    )
    conn.getresponse().read()
    conn.close()


def measure(port: int, calls: int) -> dict[str, float]:
    send(port, "s3", "PUT", "/bench", b"", {})
    results = {}
    for label, *request in REQUESTS:
        for _ in range(20):
            send(port, *request)
        started = time.perf_counter()
        for _ in range(calls):
            send(port, *request)
        results[label] = (time.perf_counter() - started) * 1000 / calls
    return results


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    table = {}
    for kind in ("moto", "strict", "lax"):
        process, port = start(kind)
        try:
            table[kind] = measure(port, calls)
        finally:
            process.kill()
            process.wait()
    title = f"ms per call ({calls} sequential)"
    print(f"{title:34} {'moto':>7} {'strict':>7} {'lax':>7} {'overhead':>9}")
    for label, *_ in REQUESTS:
        moto, strict, lax = (table[k][label] for k in ("moto", "strict", "lax"))
        print(f"{label:34} {moto:7.2f} {strict:7.2f} {lax:7.2f} {strict - moto:+9.2f}")


if __name__ == "__main__":
    main()
