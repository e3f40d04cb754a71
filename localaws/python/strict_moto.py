"""Strict local AWS: moto server (in process) behind a WSGI middleware that counts calls,
adds latency, injects faults shaped exactly as AWS sends them, shows eventual states, and
enforces AWS rules that moto lacks.

    python strict_moto.py --host 127.0.0.1 --port 0 [--strict | --lax] [--watch-stdin]

Prints one line `LISTENING http://HOST:PORT` on stdout once it accepts connections.
Control API (same port, never counted): see localaws/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# moto keeps an ACM certificate PENDING_VALIDATION for 60 s of wall time; here it is issued at
# once and the `certificate` eventual kind shows PENDING_VALIDATION for N polls instead, which
# tests can rely on without sleeping.
os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "0")
# AWS accounts have the AWS managed IAM policies (AmazonECSTaskExecutionRolePolicy, ...);
# moto loads them only when asked.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

import apigw  # noqa: E402
import datatier  # noqa: E402
import portalnet  # noqa: E402
import rules  # noqa: E402
import serverless  # noqa: E402
import wire  # noqa: E402
from eventual import Eventual, check_kinds  # noqa: E402
from flights import Flights  # noqa: E402


def _page_get_resources_by_resources() -> None:
    """The Tagging API's GetResources pages by `ResourcesPerPage` (at most 100); it cuts pages by
    tags only when asked with `TagsPerPage`
    (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html).
    moto also cuts every page at 100 tags when TagsPerPage is not given, so a stack of 33
    resources with 5 tags each took two calls here and takes one on AWS. Without TagsPerPage,
    the local AWS now cuts at moto's largest accepted value (500 tags) instead."""
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    get_int = ResourceGroupsTaggingAPIResponse._get_int_param

    def _get_int_param(self: Any, name: str, if_none: Any = None) -> Any:
        if name == "TagsPerPage" and if_none == 100:
            if_none = 500
        return get_int(self, name, if_none)

    ResourceGroupsTaggingAPIResponse._get_int_param = _get_int_param  # type: ignore[method-assign]


_page_get_resources_by_resources()
rules.ecr_digest_of_manifest()
rules.ecr_tag_moves_keep_the_image()
rules.ecr_scan_on_push_off()
datatier.patch_moto()
apigw.patch_moto()
serverless.patch_moto()
portalnet.patch_moto()


def ecs_grace_period() -> None:
    """moto drops CreateService's and UpdateService's healthCheckGracePeriodSeconds and reports
    none; AWS reports what was set. Kept on moto's service, whose serialiser then reports it."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    def keeping(handler: Any) -> Any:
        def handle(self: Any) -> Any:
            result = handler(self)
            grace = self._get_param("healthCheckGracePeriodSeconds")
            if grace is not None:
                name = str(self._get_param("serviceName") or self._get_param("service") or "")
                cluster = str(self._get_param("cluster", "default")).rsplit("/", 1)[-1]
                for svc in self.ecs_backend.services.values():
                    if svc.name == name.rsplit("/", 1)[-1] and svc.cluster_name == cluster:
                        svc.health_check_grace_period_seconds = int(grace)
            return result

        return handle

    EC2ContainerServiceResponse.create_service = keeping(EC2ContainerServiceResponse.create_service)  # type: ignore[method-assign]
    EC2ContainerServiceResponse.update_service = keeping(EC2ContainerServiceResponse.update_service)  # type: ignore[method-assign]


ecs_grace_period()


def listener_ssl_policy() -> None:
    """moto gives every listener an SslPolicy (ELBSecurityPolicy-2016-08 when none is sent) and
    reports it; AWS reports a policy for HTTPS and TLS listeners only."""
    from moto.elbv2.models import FakeListener

    def get(self: Any) -> Any:
        return self._localaws_ssl_policy if self.protocol in ("HTTPS", "TLS") else None

    def put(self: Any, value: Any) -> None:
        self._localaws_ssl_policy = value

    FakeListener.ssl_policy = property(get, put)  # type: ignore[assignment]


listener_ssl_policy()

CONTROL = "/_localaws/"

# Fault kinds drawn by the seeded generator, in this order (cumulative probabilities; new
# kinds go last, so a seed keeps drawing the same faults for the kinds it already used).
RANDOM_KINDS = (
    "throttle",
    "server_error",
    "unavailable",
    "reset_before",
    "reset_after",
    "slow",
    "late",
)
# Kinds that take `seconds`, and the key of their default in the fault plan.
TIMED_KINDS = {"slow": "slow_s", "late": "late_s"}
FAULT_KINDS = set(RANDOM_KINDS) | {"error"}


class ResetConnection(ConnectionError):
    """Raised while serving a call: the handler resets the TCP connection (RST, no answer)."""


class _ResetBody:
    # Raised from iteration, not from the app call: werkzeug's run_wsgi then takes its
    # "connection dropped" path without writing a status line.
    def __iter__(self):
        raise ResetConnection()


@dataclass
class Fault:
    kind: str
    status: int = 0
    code: str = ""
    message: str = ""
    seconds: float = 0.0

    @staticmethod
    def parse(spec: Any, seconds: dict[str, float]) -> Fault:
        if isinstance(spec, str):
            spec = {"kind": spec}
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if kind == "error" and not spec.get("code"):
            raise ValueError("an error fault needs a code")
        return Fault(
            kind=kind,
            status=int(spec.get("status", 400)),
            code=str(spec.get("code", "")),
            message=str(spec.get("message", "")),
            seconds=float(spec.get("seconds", seconds.get(kind, 0.0))),
        )


@dataclass
class Scripted:
    service: str | None
    operation: str | None
    calls: set[int]
    fault: Fault
    seen: int = 0

    def matches(self, req: wire.Request) -> bool:
        return (self.service in (None, req.service)) and (
            self.operation is None or fnmatch.fnmatchcase(req.operation, self.operation)
        )


@dataclass
class FaultPlan:
    spec: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spec = self.spec
        self.seed = spec.get("seed")
        self.seconds = {kind: float(spec.get(key, 5.0)) for kind, key in TIMED_KINDS.items()}
        self.rates = {k: float(v) for k, v in (spec.get("rates") or {}).items()}
        unknown = set(self.rates) - set(RANDOM_KINDS)
        if unknown:
            raise ValueError(f"unknown fault rates {sorted(unknown)}; known: {RANDOM_KINDS}")
        if sum(self.rates.values()) > 1.0:
            raise ValueError("fault probabilities add up to more than 1")
        self.only = [(o.get("service"), o.get("operation")) for o in spec.get("only") or []]
        self.script = []
        for entry in spec.get("script") or []:
            calls = set(entry.get("calls") or range(1, int(entry.get("times", 1)) + 1))
            fault = Fault.parse(entry.get("fault", "throttle"), self.seconds)
            self.script.append(Scripted(entry.get("service"), entry.get("operation"), calls, fault))
        self.rng = random.Random(self.seed)

    def decide(self, req: wire.Request) -> Fault | None:
        chosen = None
        for entry in self.script:
            if entry.matches(req):
                entry.seen += 1
                if chosen is None and entry.seen in entry.calls:
                    chosen = entry.fault
        if chosen is not None or not self.rates:
            return chosen
        if self.only and not any(
            s in (None, req.service) and (o is None or fnmatch.fnmatchcase(req.operation, o))
            for s, o in self.only
        ):
            return None
        draw, total = self.rng.random(), 0.0
        for kind in RANDOM_KINDS:
            total += self.rates.get(kind, 0.0)
            if draw < total:
                return Fault(kind=kind, seconds=self.seconds.get(kind, 0.0))
        return None


class LocalAws:
    """The WSGI app: control API, counting, latency, faults, strict rules, then moto."""

    def __init__(self, moto_app: Any, strict: bool):
        self.moto_app = moto_app
        self.lock = threading.Lock()  # calls, config, fault plan
        # moto is not thread-safe, and a rule check must see the state the delete will act
        # on: checks, moto and the bookkeeping after it run one call at a time. Latency,
        # slow-response sleeps and a late landing's wait happen outside, so concurrent clients
        # still overlap.
        self.moto_lock = threading.RLock()
        self.calls: list[dict[str, Any]] = []
        self.strict = strict
        self.latency_ms = 0.0
        self.op_latency_ms: dict[str, float] = {}
        self.faults = FaultPlan()
        self.eventual = Eventual()
        self.replay = rules.Replay()
        # Bumped by reset: a late landing scheduled before a reset never lands after it.
        self.generation = 0
        self.flights = Flights()

    # -- configuration -------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "strict": self.strict,
            "latency_ms": self.latency_ms,
            "op_latency_ms": self.op_latency_ms,
            "eventual": self.eventual.polls,
            "faults": self.faults.spec,
            "lambda_eni_hold_s": serverless.HOLD_S,
        }

    def configure(self, patch: dict[str, Any]) -> None:
        known = {"strict", "latency_ms", "op_latency_ms", "eventual", "faults", "lambda_eni_hold_s"}
        unknown = set(patch) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
        faults = FaultPlan(patch["faults"] or {}) if "faults" in patch else None
        eventual = {k: int(v) for k, v in (patch.get("eventual") or {}).items()}
        check_kinds(eventual)
        latency = float(patch.get("latency_ms", 0))
        op_latency = {k: float(v) for k, v in (patch.get("op_latency_ms") or {}).items()}
        with self.moto_lock, self.lock:
            if "strict" in patch:
                self.strict = bool(patch["strict"])
            if "latency_ms" in patch:
                self.latency_ms = latency
            if "op_latency_ms" in patch:
                self.op_latency_ms = op_latency
            self.eventual.polls.update(eventual)
            if faults is not None:
                self.faults = faults
            if "lambda_eni_hold_s" in patch:
                serverless.set_hold(float(patch["lambda_eni_hold_s"]))

    def latency_for(self, req: wire.Request) -> float:
        key = req.key()
        if key in self.op_latency_ms:
            return self.op_latency_ms[key]
        for pattern, ms in self.op_latency_ms.items():
            if fnmatch.fnmatchcase(key, pattern):
                return ms
        return self.latency_ms

    def reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        with self.moto_lock, self.lock:
            moto_api_backend.reset()
            self.generation += 1
            self.calls.clear()
            self.replay.clear()
            self.eventual.clear()

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        connection = environ.get("werkzeug.socket")
        if path.startswith(CONTROL):
            self.flights.done(connection)
            return self.control(environ, start_response)
        body = _read_body(environ)
        if path.startswith("/moto-api") or path == "/favicon.ico":
            self.flights.done(connection)
            return self.moto_app(environ, start_response)
        req = wire.identify(environ, body)
        record = {"service": req.service, "operation": req.operation, "status": 0, "fault": None}
        self.flights.identified(connection, record)
        try:
            return self.serve_call(req, environ, body, record, start_response)
        finally:
            # The answer (or the reset, or a late landing's own count) is settled; werkzeug
            # only writes it now, so a client holding its answer never sees its call in flight.
            self.flights.done(connection)

    def serve_call(
        self,
        req: wire.Request,
        environ: dict[str, Any],
        body: bytes,
        record: dict[str, Any],
        start_response: Any,
    ) -> Any:
        with self.lock:
            self.calls.append(record)
            fault = self.faults.decide(req)
            delay = self.latency_for(req)
            strict = self.strict
            generation = self.generation
        if fault is not None:
            record["fault"] = fault.kind
        if delay > 0:
            time.sleep(delay / 1000.0)

        if fault is not None and fault.kind == "reset_before":
            return _ResetBody()
        if fault is not None and fault.kind == "late":
            self.land_later(req, environ, body, fault.seconds, generation, record)
            return _ResetBody()
        if fault is not None and fault.kind in ("throttle", "server_error", "unavailable", "error"):
            status, code, message = _fault_error(req, fault)
            return self.answer(record, start_response, *wire.error_body(req, status, code, message))

        status, headers, payload = self.forward(req, environ, strict)
        if fault is not None and fault.kind == "reset_after":
            return _ResetBody()
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        return self.answer(record, start_response, status, headers, payload)

    def land_later(
        self,
        req: wire.Request,
        environ: dict[str, Any],
        body: bytes,
        seconds: float,
        generation: int,
        record: dict[str, Any],
    ) -> None:
        """The call reaches moto `seconds` from now: it was still in flight inside AWS when the
        client gave up on the connection. Rules, replays and moto then act on it as on any call
        (under the moto lock only while it runs, so other calls proceed meanwhile). It stays in
        flight until then."""
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        environ.pop("werkzeug.socket", None)
        token = self.flights.landing(record)

        def land() -> None:
            try:
                with self.moto_lock:
                    with self.lock:
                        if generation != self.generation:
                            return
                        strict = self.strict
                    try:
                        self.forward(req, environ, strict)
                    except Exception:
                        traceback.print_exc()
            finally:
                self.flights.landed(token)

        timer = threading.Timer(seconds, land)
        timer.daemon = True
        timer.start()

    def answer(self, record, start_response, status, headers, payload):
        record["status"] = status
        start_response(f"{status} {_reason(status)}", headers)
        return [payload]

    def forward(self, req: wire.Request, environ: dict[str, Any], strict: bool):
        with self.moto_lock:
            ctx = None
            key = (req.service, req.operation)
            if strict and (
                key in rules.RULES or key in datatier.AFTER or rules.replays(req) is not None
            ):
                ctx = rules.Context(req, environ, self.eventual.nat_deleting)
                rule = rules.RULES.get(key)
                try:
                    outcome = rule.check(ctx) if rule else None
                    if outcome is None:
                        outcome = self.replay.before(ctx)
                except Exception:
                    # A rule that cannot read moto's state (a moto model change) must not
                    # break the call: say so loudly and let moto answer.
                    traceback.print_exc()
                    print(f"strict rule for {req.key()} failed; forwarding", file=sys.stderr)
                    ctx, outcome = None, None
                if isinstance(outcome, rules.Refusal):
                    return wire.error_body(
                        req, outcome.status, outcome.code, outcome.message, outcome.fields
                    )
                if isinstance(outcome, rules.Replayed):
                    headers = [("Content-Type", outcome.content_type)]
                    return 200, headers, outcome.body

            try:
                status, headers, payload = _call(self.moto_app, environ)
            except Exception:
                # What bare moto server answers when a moto model raises (werkzeug's 500).
                traceback.print_exc()
                payload = b"<h1>Internal Server Error</h1>"
                return 500, [("Content-Type", "text/html; charset=utf-8")], payload

            if 200 <= status < 300:
                if ctx is not None:
                    self.replay.after(ctx, payload, _header(headers, "Content-Type") or "")
                    hook = datatier.AFTER.get(key)
                    if hook is not None:
                        try:
                            hook(ctx)
                        except Exception:
                            traceback.print_exc()
                            print(f"strict hook after {req.key()} failed", file=sys.stderr)
                if req.service == "ec2" and req.operation == "DeleteNatGateway":
                    self.nat_deleted(req, environ, strict)
                if req.service == "elasticache" and req.operation == "DeleteReplicationGroup":
                    self.replication_group_deleted(req, environ, strict)
                if req.service == "ecs" and req.operation in ("CreateService", "UpdateService"):
                    self.settle_services(req, environ)
                new_payload, closed = self.eventual.rewrite(req.service, req.operation, payload)
                if strict:
                    for kind, resource_id in closed:
                        self.finish_deleting(req, environ, kind, resource_id)
                if new_payload is not payload:
                    payload = new_payload
                    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                    headers.append(("Content-Length", str(len(payload))))
            return status, headers, payload

    def settle_services(self, req: wire.Request, environ: dict[str, Any]) -> None:
        # moto runs no tasks: a service's running count stays at MOTO_ECS_SERVICE_RUNNING (0)
        # forever, so "service stable" would never come. Make every service reach its desired
        # count at once, as a healthy deployment on AWS eventually does; the waiting itself is
        # tested with aws-smithy-mocks in rprov.
        from moto.ecs.models import ecs_backends

        account = rules.account_id(environ, req.access_key)
        backend = ecs_backends[account][req.region]
        for svc in backend.services.values():
            svc.running_count = svc.desired_count
            svc.pending_count = 0
            for d in svc.deployments:
                d["runningCount"] = svc.desired_count
                d["pendingCount"] = 0
                d["desiredCount"] = svc.desired_count
                d["rolloutState"] = "COMPLETED"
            # One deployment once settled, as AWS reports after a rollout completes.
            if len(svc.deployments) > 1:
                svc.deployments[:] = svc.deployments[:1]
                svc.deployments[0]["taskDefinition"] = svc.task_definition

    def nat_deleted(self, req: wire.Request, environ: dict[str, Any], strict: bool) -> None:
        nat_id = req.params.get("NatGatewayId", "")
        if not self.eventual.start_deleting("nat_gateway_deleting", nat_id) and strict:
            self.finish_deleting(req, environ, "nat_gateway_deleting", nat_id)

    def replication_group_deleted(
        self, req: wire.Request, environ: dict[str, Any], strict: bool
    ) -> None:
        rg_id = req.params.get("ReplicationGroupId", "")
        if not self.eventual.start_deleting("replication_group_deleting", rg_id) and strict:
            self.finish_deleting(req, environ, "replication_group_deleting", rg_id)

    def finish_deleting(
        self, req: wire.Request, environ: dict[str, Any], kind: str, resource_id: str
    ) -> None:
        """A deleting window closed (or there was none): finish as AWS does."""
        account = rules.account_id(environ, req.access_key)
        if kind == "nat_gateway_deleting":
            rules.finish_nat_deletion(account, req.region, resource_id)
        elif kind == "replication_group_deleting":
            datatier.finish_replication_group_deletion(account, req.region, resource_id)

    # -- control API -------------------------------------------------------------------------

    def control(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        route = environ.get("PATH_INFO", "")[len(CONTROL) :].strip("/")
        body = _read_body(environ)
        try:
            if method == "GET" and route == "calls":
                with self.lock:
                    result: Any = [dict(c) for c in self.calls]
            elif method == "POST" and route == "calls/clear":
                with self.lock:
                    self.calls.clear()
                result = {"ok": True}
            elif method == "GET" and route == "config":
                with self.lock:
                    result = self.config()
            elif method == "POST" and route == "config":
                self.configure(json.loads(body or b"{}"))
                with self.lock:
                    result = self.config()
            elif method == "POST" and route == "reset":
                self.reset()
                result = {"ok": True}
            elif method == "GET" and route == "inflight":
                result = self.flights.snapshot()
            elif method == "GET" and route == "health":
                result = {"ok": True}
            else:
                return _json_response(start_response, 404, {"error": f"no route {method} {route}"})
        except (ValueError, TypeError) as error:
            return _json_response(start_response, 400, {"error": str(error)})
        return _json_response(start_response, 200, result)


def _fault_error(req: wire.Request, fault: Fault) -> tuple[int, str, str]:
    if fault.kind == "throttle":
        return wire.throttle(req)
    if fault.kind == "server_error":
        return wire.server_error(req, 500)
    if fault.kind == "unavailable":
        return wire.server_error(req, 503)
    return fault.status, fault.code, fault.message


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def _call(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        payload = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(captured["status"].split(" ", 1)[0]), list(captured["headers"]), payload


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _json_response(start_response: Any, status: int, value: Any) -> list[bytes]:
    payload = json.dumps(value).encode()
    start_response(
        f"{status} {_reason(status)}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


def serve(host: str, port: int, strict: bool, watch_stdin: bool) -> None:
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import ThreadedWSGIServer

    class Server(ThreadedWSGIServer):
        # A connection is in flight from the accept (before it, the kernel's accept queue
        # counts it) until its handler thread is done with it; see flights.py.
        def get_request(self) -> Any:
            return self.app.flights.accept(super().get_request)

        def shutdown_request(self, request: Any) -> None:
            try:
                super().shutdown_request(request)
            finally:
                self.app.flights.done(request)

    class Handler(MotoRequestHandler):
        def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
            if isinstance(error, ResetConnection):
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN: the
                # client sees "connection reset by peer" and no response at all.
                self.close_connection = True
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = LocalAws(DomainDispatcherApplication(create_backend_app), strict)
    server = Server(host, port, app, handler=Handler)
    app.flights.listener = server.socket
    bound = server.server_address[1]
    os.environ["MOTO_PORT"] = str(bound)
    if watch_stdin:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"LISTENING http://{host}:{bound}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def _exit_on_stdin_eof() -> None:
    # The parent holds our stdin pipe; EOF means it exited (even by SIGKILL), so stop too.
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="strict", action="store_true", default=True)
    mode.add_argument("--lax", dest="strict", action="store_false", help="moto's own behaviour")
    parser.add_argument(
        "--watch-stdin", action="store_true", help="exit when stdin reaches end of file"
    )
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.strict, args.watch_stdin)


if __name__ == "__main__":
    main()
