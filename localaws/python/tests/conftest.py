"""One strict local AWS per test session (a launcher on a free port); every test starts from
a reset server with the default configuration."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config

LAUNCHER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "strict_moto.py"
)
DEFAULT_CONFIG = {
    "strict": True,
    "latency_ms": 0,
    "op_latency_ms": {},
    "eventual": {
        "nat_gateway": 0,
        "nat_gateway_deleting": 0,
        "load_balancer": 0,
        "certificate": 0,
        "mount_target": 0,
        "file_system": 0,
        "db_cluster": 0,
        "db_instance": 0,
        "db_proxy": 0,
        "replication_group": 0,
        "replication_group_deleting": 0,
    },
    "faults": None,
    "lambda_eni_hold_s": 3.0,
}


class Launcher:
    def __init__(self, *args: str):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [
                sys.executable,
                LAUNCHER,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--watch-stdin",
                *args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.endpoint = self._read_endpoint(timeout=60)

    def _read_endpoint(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline().decode().strip()
                if line.startswith("LISTENING "):
                    return line.split(" ", 1)[1]
            if self.process.poll() is not None:
                break
        self.log.seek(0)
        raise RuntimeError(f"launcher did not start: {self.log.read().decode()[-2000:]}")

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class LocalAws:
    """Test handle: boto3 clients and the control API of one launcher."""

    def __init__(self, launcher: Launcher):
        self.launcher = launcher
        self.endpoint = launcher.endpoint

    def client(self, service: str, attempts: int = 1, **config: Any) -> Any:
        retries = {"total_max_attempts": attempts, "mode": "standard"}
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries=retries, **config),
        )

    def control(self, method: str, route: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.endpoint}/_localaws/{route}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def calls(self) -> list[dict[str, Any]]:
        return self.control("GET", "calls")

    def ops(self) -> list[tuple[str, str]]:
        return [(c["service"], c["operation"]) for c in self.calls()]

    def configure(self, **patch: Any) -> dict[str, Any]:
        return self.control("POST", "config", patch)

    def reset(self) -> None:
        self.control("POST", "reset", {})

    def inflight(self) -> dict[str, Any]:
        return self.control("GET", "inflight")

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every call sent has been answered and every late landing has landed."""
        wait_until(self.inflight, lambda now: now["inflight"] == 0, timeout, "calls in flight")


def wait_until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float, what: str):
    """Polls `read` until `done` holds of its value, which is returned; fails at the deadline."""
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        assert time.monotonic() < deadline, f"{what} after {timeout} s: {value}"
        time.sleep(0.02)
    return value


@pytest.fixture(scope="session")
def launcher():
    process = Launcher()
    yield process
    process.stop()


@pytest.fixture
def aws(launcher):
    local = LocalAws(launcher)
    # What an earlier test left in flight (a slow answer, a late landing) is done first.
    local.wait_idle()
    local.configure(**DEFAULT_CONFIG)
    local.reset()
    return local
