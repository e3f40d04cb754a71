"""Counting, the control API, latency, eventual states, and the launcher's lifecycle."""

from __future__ import annotations

import socket
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from conftest import Launcher, wait_until

SCOPE = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ec2/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


def test_counting_matches_the_calls_made(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.describe_vpcs(VpcIds=[vpc])
    ec2.describe_vpcs()
    with pytest.raises(ClientError):
        ec2.delete_subnet(SubnetId="subnet-00000000000000000")
    assert aws.calls() == [
        {"service": "ec2", "operation": "CreateVpc", "status": 200, "fault": None},
        {"service": "ec2", "operation": "DescribeVpcs", "status": 200, "fault": None},
        {"service": "ec2", "operation": "DescribeVpcs", "status": 200, "fault": None},
        {"service": "ec2", "operation": "DeleteSubnet", "status": 400, "fault": None},
    ]
    aws.control("POST", "calls/clear", {})
    assert aws.calls() == []


def test_rest_operations_are_named_as_in_the_api(aws):
    s3, r53, efs = aws.client("s3"), aws.client("route53"), aws.client("efs")
    s3.create_bucket(Bucket="state")
    s3.put_bucket_versioning(Bucket="state", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="state", Key="stacks/net.json", Body=b"{}")
    s3.copy_object(Bucket="state", Key="copy.json", CopySource="state/stacks/net.json")
    s3.head_object(Bucket="state", Key="stacks/net.json")
    s3.get_object(Bucket="state", Key="stacks/net.json")
    s3.list_objects_v2(Bucket="state")
    s3.list_object_versions(Bucket="state")
    s3.get_bucket_versioning(Bucket="state")
    s3.delete_object(Bucket="state", Key="copy.json")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="c")["HostedZone"]["Id"]
    r53.list_hosted_zones_by_name(DNSName="example.com")
    r53.get_hosted_zone(Id=zone)
    r53.list_resource_record_sets(HostedZoneId=zone)
    r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone.split("/")[-1])
    r53.delete_hosted_zone(Id=zone)
    fs = efs.create_file_system(CreationToken="t")["FileSystemId"]
    efs.describe_file_systems(FileSystemId=fs)
    efs.describe_mount_targets(FileSystemId=fs)
    efs.delete_file_system(FileSystemId=fs)
    assert [op for _, op in aws.ops()] == [
        "CreateBucket",
        "PutBucketVersioning",
        "PutObject",
        "CopyObject",
        "HeadObject",
        "GetObject",
        "ListObjectsV2",
        "ListObjectVersions",
        "GetBucketVersioning",
        "DeleteObject",
        "CreateHostedZone",
        "ListHostedZonesByName",
        "GetHostedZone",
        "ListResourceRecordSets",
        "ListTagsForResource",
        "DeleteHostedZone",
        "CreateFileSystem",
        "DescribeFileSystems",
        "DescribeMountTargets",
        "DeleteFileSystem",
    ]
    assert {service for service, _ in aws.ops()} == {"s3", "route53", "elasticfilesystem"}


def test_json_and_query_operations(aws):
    aws.client("ecs").list_clusters()
    aws.client("logs").describe_log_groups()
    aws.client("elbv2").describe_load_balancers()
    aws.client("iam").list_roles()
    assert aws.ops() == [
        ("ecs", "ListClusters"),
        ("logs", "DescribeLogGroups"),
        ("elasticloadbalancing", "DescribeLoadBalancers"),
        ("iam", "ListRoles"),
    ]


def test_reset_clears_moto_and_the_counters(aws):
    ec2 = aws.client("ec2")
    ec2.create_vpc(CidrBlock="10.0.0.0/16")
    aws.reset()
    assert aws.calls() == []
    assert all(v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"])


def test_bad_configuration_is_refused(aws):
    for patch in [
        {"latency": 5},
        {"faults": {"rates": {"explode": 0.5}}},
        {"eventual": {"vpc": 2}},
    ]:
        with pytest.raises(urllib.error.HTTPError) as info:
            aws.configure(**patch)
        assert info.value.code == 400


def test_latency_fixed_and_per_operation(aws):
    # Lower bounds are exact (the server sleeps at least that long). Each upper bound is the next
    # delay up, at least 0.9 s above the call's own: what a loaded 2-core machine may add to a
    # call (client, moto, scheduling) without blurring one delay into the next.
    aws.configure(latency_ms=100, op_latency_ms={"ec2:CreateVpc": 3000, "ec2:Describe*": 1000})
    ec2 = aws.client("ec2")
    ec2.describe_availability_zones()  # first call of a backend loads it; keep it out of the timing

    def timed(call) -> float:
        started = time.monotonic()
        call()
        return time.monotonic() - started

    assert timed(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/16")) >= 3.0
    assert 1.0 <= timed(ec2.describe_vpcs) < 3.0
    assert 0.1 <= timed(ec2.create_internet_gateway) < 1.0
    assert aws.configure()["op_latency_ms"] == {"ec2:CreateVpc": 3000.0, "ec2:Describe*": 1000.0}


IDLE = {"inflight": 0, "calls": []}


def test_a_call_held_by_latency_is_in_flight_until_answered(aws):
    aws.configure(op_latency_ms={"ec2:CreateVpc": 2000})
    ec2 = aws.client("ec2")
    assert aws.inflight() == IDLE, "control calls are not counted"
    with ThreadPoolExecutor(1) as pool:
        created = pool.submit(ec2.create_vpc, CidrBlock="10.0.0.0/16")
        held = wait_until(aws.inflight, lambda now: now["calls"], 30, "CreateVpc never arrived")
        assert held == {
            "inflight": 1,
            "calls": [{"service": "ec2", "operation": "CreateVpc", "fault": None}],
        }
        created.result(timeout=60)
    # No waiting: the call stops counting before its answer is written.
    assert aws.inflight() == IDLE


def test_a_call_is_in_flight_from_the_moment_it_is_sent(aws):
    # Counted before the server has read a byte of it (its connection waits in the kernel's
    # accept queue), so a test that kills a client can wait for what it had sent without
    # guessing how long the server takes to pick it up.
    aws.configure(latency_ms=1000)
    host, port = aws.endpoint.rsplit("/", 1)[1].split(":")
    body = b"Action=DescribeVpcs&Version=2016-11-15"
    request = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {SCOPE}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        assert aws.inflight()["inflight"] == 1, "a connection made"
        conn.sendall(request)
        assert aws.inflight()["inflight"] == 1, "a request sent"
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert aws.inflight() == IDLE
    assert aws.ops() == [("ec2", "DescribeVpcs")]


def test_a_connection_that_sends_nothing_stops_counting_when_closed(aws):
    host, port = aws.endpoint.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30):
        assert aws.inflight()["inflight"] == 1
    aws.wait_idle()
    assert aws.calls() == []


def nat_states(ec2, nat: str) -> str:
    return ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]


def test_nat_gateway_pending_then_available(aws):
    aws.configure(eventual={"nat_gateway": 2})
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    assert [nat_states(ec2, nat["NatGatewayId"]) for _ in range(3)] == [
        "pending",
        "pending",
        "available",
    ]


def test_nat_gateway_deleting_holds_its_subnet_and_address(aws):
    # While a NAT gateway is `deleting` its ENI still sits in the subnet and its EIP is still
    # associated: rprov must wait for `deleted` before releasing the EIP.
    aws.configure(eventual={"nat_gateway_deleting": 2})
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"][
        "NatGatewayId"
    ]
    ec2.delete_nat_gateway(NatGatewayId=nat)
    assert nat_states(ec2, nat) == "deleting"
    with pytest.raises(ClientError) as info:
        ec2.release_address(AllocationId=allocation)
    assert info.value.response["Error"]["Code"] == "AuthFailure"
    with pytest.raises(ClientError):
        ec2.delete_subnet(SubnetId=subnet)
    assert nat_states(ec2, nat) == "deleting"
    assert nat_states(ec2, nat) == "deleted"
    ec2.release_address(AllocationId=allocation)
    ec2.delete_subnet(SubnetId=subnet)
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []


def test_load_balancer_certificate_and_efs_eventual_states(aws):
    aws.configure(
        eventual={"load_balancer": 1, "certificate": 1, "mount_target": 1, "file_system": 1}
    )
    ec2, elbv2, acm, efs = (aws.client(s) for s in ("ec2", "elbv2", "acm", "efs"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(Name="alb", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    states = [
        elbv2.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["State"]["Code"]
        for _ in range(2)
    ]
    assert states == ["provisioning", "active"]

    arn = acm.request_certificate(DomainName="a.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    first = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert first["Status"] == "PENDING_VALIDATION"
    assert {o["ValidationStatus"] for o in first["DomainValidationOptions"]} == {
        "PENDING_VALIDATION"
    }
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"

    fs = efs.create_file_system(CreationToken="t")["FileSystemId"]
    target = efs.create_mount_target(FileSystemId=fs, SubnetId=subnets[0])["MountTargetId"]

    def target_state() -> str:
        return efs.describe_mount_targets(MountTargetId=target)["MountTargets"][0]["LifeCycleState"]

    def fs_state() -> str:
        return efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"]

    assert [target_state(), target_state()] == ["creating", "available"]
    assert [fs_state(), fs_state()] == ["creating", "available"]


def test_launcher_exits_when_its_parent_closes_stdin():
    launcher = Launcher("--lax")
    assert launcher.endpoint.startswith("http://127.0.0.1:")
    assert launcher.process.stdin is not None
    launcher.process.stdin.close()
    assert launcher.process.wait(timeout=10) == 0
