"""Eventual state: the first N describes of a resource show the state AWS would show while
the resource is still being created (or deleted); moto makes every transition instant.

Each kind names the describe operation, where the resource id and its state sit in the
response, and which state is rewritten to which. Counting is per resource id and starts at
the first describe that shows the resource in its final state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    service: str
    operation: str
    format: str  # "xml" or "json"
    list_path: tuple[str, ...]  # json: keys leading to the resource (lists are walked)
    id_field: str
    state_path: tuple[str, ...]
    final: str  # the state moto reports
    shown: str  # the state AWS reports for the first N polls
    extra: tuple[tuple[tuple[str, ...], str, str], ...] = ()  # more json fields: path, final, shown


KINDS: dict[str, Kind] = {
    # pending -> available: https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-basics.html
    "nat_gateway": Kind(
        "ec2", "DescribeNatGateways", "xml", (), "natGatewayId", ("state",), "available", "pending"
    ),
    # After DeleteNatGateway: deleting -> deleted (counted from the delete, see `start_deleting`).
    "nat_gateway_deleting": Kind(
        "ec2", "DescribeNatGateways", "xml", (), "natGatewayId", ("state",), "deleted", "deleting"
    ),
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html
    "load_balancer": Kind(
        "elasticloadbalancing",
        "DescribeLoadBalancers",
        "xml",
        (),
        "LoadBalancerArn",
        ("State", "Code"),
        "active",
        "provisioning",
    ),
    # https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html
    "certificate": Kind(
        "acm",
        "DescribeCertificate",
        "json",
        ("Certificate",),
        "CertificateArn",
        ("Status",),
        "ISSUED",
        "PENDING_VALIDATION",
        ((("DomainValidationOptions", "ValidationStatus"), "SUCCESS", "PENDING_VALIDATION"),),
    ),
    # https://docs.aws.amazon.com/efs/latest/ug/API_MountTargetDescription.html
    "mount_target": Kind(
        "elasticfilesystem",
        "DescribeMountTargets",
        "json",
        ("MountTargets",),
        "MountTargetId",
        ("LifeCycleState",),
        "available",
        "creating",
    ),
    "file_system": Kind(
        "elasticfilesystem",
        "DescribeFileSystems",
        "json",
        ("FileSystems",),
        "FileSystemId",
        ("LifeCycleState",),
        "available",
        "creating",
    ),
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html
    # (DB cluster and instance status: creating -> available); moto's describes show available
    # at once.
    "db_cluster": Kind(
        "rds", "DescribeDBClusters", "xml", (), "DBClusterIdentifier", ("Status",), "available",
        "creating",
    ),
    "db_instance": Kind(
        "rds",
        "DescribeDBInstances",
        "xml",
        (),
        "DBInstanceIdentifier",
        ("DBInstanceStatus",),
        "available",
        "creating",
    ),
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBProxy.html (Status)
    "db_proxy": Kind(
        "rds", "DescribeDBProxies", "xml", (), "DBProxyName", ("Status",), "available", "creating"
    ),
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ReplicationGroup.html
    "replication_group": Kind(
        "elasticache",
        "DescribeReplicationGroups",
        "xml",
        (),
        "ReplicationGroupId",
        ("Status",),
        "available",
        "creating",
    ),
    # After DeleteReplicationGroup: `deleting` for N describes, then gone
    # (ReplicationGroupNotFoundFault); counted from the delete, as nat_gateway_deleting.
    # moto shows `deleting` forever; the strict mode removes the group when the window closes.
    "replication_group_deleting": Kind(
        "elasticache",
        "DescribeReplicationGroups",
        "xml",
        (),
        "ReplicationGroupId",
        ("Status",),
        "deleting",
        "deleting",
    ),
}

# Kinds counted from a delete (see `Eventual.start_deleting`), not from the first describe.
DELETING = ("nat_gateway_deleting", "replication_group_deleting")


def check_kinds(polls: dict[str, int]) -> None:
    unknown = set(polls) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown eventual kinds {sorted(unknown)}; known: {sorted(KINDS)}")


class Eventual:
    def __init__(self) -> None:
        self.polls: dict[str, int] = {}  # kind -> N
        self.seen: dict[tuple[str, str], int] = {}
        # (kind, id) -> describes left showing "deleting"; a NAT gateway still holds its ENI and
        # EIP while it is listed here (the strict rules ask `nat_deleting`).
        self.deleting: dict[tuple[str, str], int] = {}

    def clear(self) -> None:
        self.seen.clear()
        self.deleting.clear()

    def start_deleting(self, kind: str, resource_id: str) -> bool:
        """Called after a successful delete (DeleteNatGateway, DeleteReplicationGroup); False
        when there is no deleting window."""
        polls = self.polls.get(kind, 0)
        if polls > 0:
            self.deleting[(kind, resource_id)] = polls
        return polls > 0

    def nat_deleting(self, nat_id: str) -> bool:
        return self.deleting.get(("nat_gateway_deleting", nat_id), 0) > 0

    def rewrite(
        self, service: str, operation: str, body: bytes
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """Returns the body to send and the (kind, id) whose deleting window just closed."""
        closed: list[tuple[str, str]] = []
        for name, kind in KINDS.items():
            if kind.service != service or kind.operation != operation:
                continue
            if name in DELETING:
                if any(k == name for k, _ in self.deleting):
                    body = _rewrite_xml(
                        body, kind, lambda rid, n=name: self._deleting_poll(n, rid, closed)
                    )
                continue
            polls = self.polls.get(name, 0)
            if polls <= 0:
                continue

            def still_pending(resource_id: str, name: str = name, polls: int = polls) -> bool:
                count = self.seen.get((name, resource_id), 0)
                self.seen[(name, resource_id)] = count + 1
                return count < polls

            if kind.format == "xml":
                body = _rewrite_xml(body, kind, still_pending)
            else:
                body = _rewrite_json(body, kind, still_pending)
        return body, closed

    def _deleting_poll(self, kind: str, resource_id: str, closed: list[tuple[str, str]]) -> bool:
        key = (kind, resource_id)
        left = self.deleting.get(key, 0)
        if left <= 0:
            return False
        self.deleting[key] = left - 1
        if left - 1 == 0:
            del self.deleting[key]
            closed.append(key)
        return True


_TAG = re.compile(rb"<(/?)([A-Za-z_][\w.:-]*)[^>]*?(/?)>")


@dataclass
class _Element:
    tag: str
    start: int  # offset of '<'
    content_start: int
    content_end: int = -1
    children: list[_Element] | None = None


def _elements(body: bytes) -> list[_Element]:
    """Every element of an XML document with its byte offsets (enough for moto's responses:
    no CDATA, comments or processing instructions inside the data)."""
    roots: list[_Element] = []
    stack: list[_Element] = []
    for match in _TAG.finditer(body):
        closing, tag, self_closing = match.group(1), match.group(2).decode(), match.group(3)
        if body[match.start() + 1 : match.start() + 2] in (b"?", b"!"):
            continue
        if closing:
            while stack:
                element = stack.pop()
                element.content_end = match.start()
                if element.tag == tag:
                    break
            continue
        element = _Element(tag, match.start(), match.end(), children=[])
        (stack[-1].children if stack else roots).append(element)  # type: ignore[union-attr]
        if self_closing:
            element.content_end = match.end()
        else:
            stack.append(element)
    return roots


def _walk(elements: list[_Element]):
    for element in elements:
        yield element
        yield from _walk(element.children or [])


def _child(element: _Element, tag: str) -> _Element | None:
    for child in element.children or []:
        if child.tag == tag:
            return child
    return None


def _rewrite_xml(body: bytes, kind: Kind, decide) -> bytes:
    edits: list[tuple[int, int, bytes]] = []
    for parent in _walk(_elements(body)):
        id_element = _child(parent, kind.id_field)
        if id_element is None:
            continue
        state = parent
        for step in kind.state_path:
            state = _child(state, step) if state is not None else None
        if state is None:
            continue
        value = body[state.content_start : state.content_end].strip().decode()
        if value != kind.final:
            continue
        resource_id = body[id_element.content_start : id_element.content_end].strip().decode()
        if decide(resource_id):
            edits.append((state.content_start, state.content_end, kind.shown.encode()))
    for start, end, text in sorted(edits, reverse=True):
        body = body[:start] + text + body[end:]
    return body


def _rewrite_json(body: bytes, kind: Kind, decide) -> bytes:
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    changed = False
    for resource in _json_items(doc, kind.list_path):
        if _get(resource, kind.state_path) != kind.final:
            continue
        if not decide(str(resource.get(kind.id_field))):
            continue
        _set(resource, kind.state_path, kind.shown)
        for path, final, shown in kind.extra:
            for holder in _json_items(resource, path[:-1]):
                if holder.get(path[-1]) == final:
                    holder[path[-1]] = shown
        changed = True
    return json.dumps(doc).encode() if changed else body


def _json_items(node: Any, path: tuple[str, ...]):
    if isinstance(node, list):
        for item in node:
            yield from _json_items(item, path)
        return
    if not isinstance(node, dict):
        return
    if not path:
        yield node
        return
    yield from _json_items(node.get(path[0]), path[1:])


def _get(node: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _set(node: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
