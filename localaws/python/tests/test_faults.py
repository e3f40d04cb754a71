"""Faults look exactly like AWS's on the wire, so an SDK's own error parsing and retry
classification are what a test exercises."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError, HTTPClientError, ReadTimeoutError

SCOPE = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{}/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


def raw(aws, service: str, path: str = "/", data: bytes | None = None, **headers: str):
    """One request the way an SDK sends it; returns (status, headers, body) even for errors."""
    request = urllib.request.Request(
        aws.endpoint + path,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Authorization": SCOPE.format(service), **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def throttle_next(aws, service: str, operation: str) -> None:
    aws.configure(
        faults={"script": [{"service": service, "operation": operation, "fault": "throttle"}]}
    )


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_ec2_throttling_on_the_wire(aws):
    # https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html: 503 with the EC2
    # error document (Response/Errors/Error, RequestID).
    throttle_next(aws, "ec2", "DescribeVpcs")
    status, _, body = raw(aws, "ec2", data=b"Action=DescribeVpcs&Version=2016-11-15", **FORM)
    assert status == 503
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>')
    assert "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>" in body
    assert "<RequestID>" in body


def test_aws_json_throttling_on_the_wire(aws):
    throttle_next(aws, "ecs", "ListClusters")
    status, headers, body = raw(
        aws,
        "ecs",
        data=b"{}",
        **{
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        },
    )
    assert (status, body) == (400, '{"__type": "ThrottlingException", "message": "Rate exceeded"}')
    assert headers["Content-Type"] == "application/x-amz-json-1.1"


def test_aws_query_throttling_on_the_wire(aws):
    throttle_next(aws, "elasticloadbalancing", "DescribeLoadBalancers")
    data = b"Action=DescribeLoadBalancers&Version=2015-12-01"
    status, _, body = raw(aws, "elasticloadbalancing", data=data, **FORM)
    assert status == 400
    assert body.startswith(
        '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
        "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
    )


def test_s3_and_route53_throttling_on_the_wire(aws):
    throttle_next(aws, "s3", "ListBuckets")
    status, _, body = raw(aws, "s3", "/")
    assert status == 503 and "<Error><Code>SlowDown</Code>" in body and "<HostId>" in body
    throttle_next(aws, "route53", "ListHostedZones")
    status, _, body = raw(aws, "route53", "/2013-04-01/hostedzone")
    assert status == 400
    assert body.startswith(
        '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error>'
        "<Type>Sender</Type><Code>Throttling</Code>"
    )


@pytest.mark.parametrize(
    "service,call,code,status",
    [
        ("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded", 503),
        ("ecs", lambda c: c.list_clusters(), "ThrottlingException", 400),
        ("elbv2", lambda c: c.describe_load_balancers(), "Throttling", 400),
        ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
        ("route53", lambda c: c.list_hosted_zones(), "Throttling", 400),
        ("efs", lambda c: c.describe_file_systems(), "ThrottlingException", 429),
    ],
)
def test_throttling_is_parsed_and_retried_by_the_sdk(aws, service, call, code, status):
    aws.configure(faults={"script": [{"fault": "throttle"}]})
    with pytest.raises(ClientError) as info:
        call(aws.client(service))
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    aws.configure(faults={"script": [{"fault": "throttle"}]})
    aws.control("POST", "calls/clear", {})
    call(aws.client(service, attempts=3))
    assert [c["status"] for c in aws.calls()] == [status, 200]


def test_server_errors(aws):
    ec2 = aws.client("ec2")
    for fault, code, status in [
        ("server_error", "InternalError", 500),
        ("unavailable", "Unavailable", 503),
    ]:
        aws.configure(faults={"script": [{"fault": fault}]})
        with pytest.raises(ClientError) as info:
            ec2.describe_vpcs()
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def user_vpcs(ec2) -> int:
    return sum(not v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"])


def test_reset_before_the_request_reaches_moto(aws):
    ec2 = aws.client("ec2")
    aws.configure(faults={"script": [{"operation": "CreateVpc", "fault": "reset_before"}]})
    with pytest.raises(HTTPClientError):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    assert user_vpcs(ec2) == 0


def test_reset_after_moto_processed_the_request(aws):
    # The "created but response lost" case: the client sees a reset, the VPC exists.
    ec2 = aws.client("ec2")
    aws.configure(faults={"script": [{"operation": "CreateVpc", "fault": "reset_after"}]})
    with pytest.raises(HTTPClientError):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    assert user_vpcs(ec2) == 1
    assert aws.calls()[0] == {
        "service": "ec2",
        "operation": "CreateVpc",
        "status": 0,
        "fault": "reset_after",
    }


def test_reset_is_a_tcp_reset_not_a_clean_close(aws):
    aws.configure(faults={"script": [{"fault": "reset_after"}]})
    host, port = aws.endpoint.rsplit("/", 1)[1].split(":")
    body = b"Action=DescribeVpcs&Version=2016-11-15"
    request = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {SCOPE.format('ec2')}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        with pytest.raises(ConnectionResetError):
            while conn.recv(4096):
                pass


def test_slow_response_past_the_client_timeout(aws):
    aws.configure(faults={"script": [{"fault": {"kind": "slow", "seconds": 4}}]})
    ec2 = aws.client("ec2", read_timeout=0.5)
    with pytest.raises(ReadTimeoutError):
        ec2.describe_vpcs()
    # The client gave up on its own timeout while the server still held the answer (not when
    # the answer came): an order of events, not a clock reading, with 3.5 s to spare.
    slow = [{"service": "ec2", "operation": "DescribeVpcs", "fault": "slow"}]
    assert aws.inflight() == {"inflight": 1, "calls": slow}
    assert aws.calls()[0]["fault"] == "slow"
    aws.wait_idle()


def faulted_indices(aws, seed: int) -> list[int]:
    aws.reset()
    aws.configure(faults={"seed": seed, "rates": {"throttle": 0.3}})
    ec2 = aws.client("ec2")
    for _ in range(30):
        try:
            ec2.describe_vpcs()
        except ClientError:
            pass
    return [i for i, call in enumerate(aws.calls()) if call["fault"]]


def test_seeded_faults_are_reproducible(aws):
    first = faulted_indices(aws, seed=42)
    assert first == faulted_indices(aws, seed=42)
    assert 0 < len(first) < 30
    assert first != faulted_indices(aws, seed=43)


def test_scripted_faults_hit_the_nth_matching_calls(aws):
    # e.g. "the 1st and 2nd DeleteSubnet calls fail with DependencyViolation" (rprov's delete
    # retries), other operations untouched.
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    violation = {
        "kind": "error",
        "status": 400,
        "code": "DependencyViolation",
        "message": f"The subnet '{subnet}' has dependencies and cannot be deleted.",
    }
    aws.configure(
        faults={
            "script": [
                {"service": "ec2", "operation": "DeleteSubnet", "calls": [1, 2], "fault": violation}
            ]
        }
    )
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            ec2.delete_subnet(SubnetId=subnet)
        assert info.value.response["Error"]["Code"] == "DependencyViolation"
        ec2.describe_subnets(SubnetIds=[subnet])
    ec2.delete_subnet(SubnetId=subnet)
    faults = [(c["operation"], c["fault"]) for c in aws.calls()][2:]
    assert faults == [
        ("DeleteSubnet", "error"),
        ("DescribeSubnets", None),
        ("DeleteSubnet", "error"),
        ("DescribeSubnets", None),
        ("DeleteSubnet", None),
    ]


def test_random_faults_limited_to_some_operations(aws):
    aws.configure(
        faults={
            "seed": 1,
            "rates": {"throttle": 1.0},
            "only": [{"service": "ec2", "operation": "Describe*"}],
        }
    )
    ec2 = aws.client("ec2")
    ec2.create_vpc(CidrBlock="10.0.0.0/16")
    with pytest.raises(ClientError):
        ec2.describe_vpcs()
    assert [c["fault"] for c in aws.calls()] == [None, "throttle"]


def test_custom_error_in_the_json_protocol(aws):
    fault = {"kind": "error", "status": 400, "code": "ResourceInUseException", "message": "busy"}
    aws.configure(faults={"script": [{"service": "acm", "fault": fault}]})
    with pytest.raises(ClientError) as info:
        aws.client("acm").list_certificates()
    assert info.value.response["Error"] == {"Code": "ResourceInUseException", "Message": "busy"}


def test_late_landing_after_the_client_gave_up(aws):
    # The create was still in flight inside AWS when the connection broke: the client sees a
    # transport error at once, a lookup right after finds nothing, and the VPC appears later.
    # A client must keep looking (until a deadline) rather than create again.
    late = {"kind": "late", "seconds": 3}
    aws.configure(faults={"script": [{"operation": "CreateVpc", "fault": late}]})
    ec2 = aws.client("ec2")
    with pytest.raises(HTTPClientError):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    assert user_vpcs(ec2) == 0
    # The error and the lookup both came before the landing: still in flight after them.
    landing = [{"service": "ec2", "operation": "CreateVpc", "fault": "late"}]
    assert aws.inflight() == {"inflight": 1, "calls": landing}
    aws.wait_idle()
    assert user_vpcs(ec2) == 1
    assert aws.calls()[0] == {
        "service": "ec2",
        "operation": "CreateVpc",
        "status": 0,
        "fault": "late",
    }


def test_late_landing_goes_through_the_replay_tables(aws):
    # The resend meets the token the late landing recorded: the same route table, one table.
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    late = {"kind": "late", "seconds": 0.5}
    aws.configure(faults={"script": [{"operation": "CreateRouteTable", "fault": late}]})
    with pytest.raises(HTTPClientError):
        ec2.create_route_table(VpcId=vpc, ClientToken="rt-1")
    aws.wait_idle()  # landed
    table = ec2.create_route_table(VpcId=vpc, ClientToken="rt-1")["RouteTable"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert [t["RouteTableId"] for t in tables["RouteTables"] if not t["Associations"]] == [
        table["RouteTableId"]
    ]


def test_late_landing_is_dropped_by_a_reset(aws):
    # Tests share one server: what a test left in flight must not land in the next one.
    late = {"kind": "late", "seconds": 0.5}
    aws.configure(faults={"script": [{"operation": "CreateVpc", "fault": late}]})
    ec2 = aws.client("ec2")
    with pytest.raises(HTTPClientError):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    aws.reset()
    aws.wait_idle()  # its time came: dropped, not landed
    assert user_vpcs(ec2) == 0


def test_late_as_a_random_fault(aws):
    aws.configure(
        faults={
            "seed": 7,
            "rates": {"late": 1.0},
            "late_s": 0.3,
            "only": [{"service": "ec2", "operation": "CreateVpc"}],
        }
    )
    ec2 = aws.client("ec2")
    with pytest.raises(HTTPClientError):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    aws.wait_idle()  # landed
    assert user_vpcs(ec2) == 1
    assert aws.calls()[0]["fault"] == "late"
