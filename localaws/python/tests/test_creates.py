"""Creates as AWS answers them when they are sent again: after a lost response (the create
was done, the client saw a TCP reset) and on purpose. Idempotent ones return the resource
that exists, others refuse the name or token in use, and creates with neither make a second
resource (rprov finds the first by its ownership tags)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, HTTPClientError
from test_rules import network, refused

ELB = "elasticloadbalancing"


def lose_next(aws, service: str, operation: str) -> None:
    """The next `operation` is done by moto and its answer lost (TCP reset)."""
    aws.configure(
        faults={"script": [{"service": service, "operation": operation, "fault": "reset_after"}]}
    )


def lost_then_sent_again(aws, service: str, operation: str, create: Callable[[], Any]) -> Any:
    lose_next(aws, service, operation)
    with pytest.raises(HTTPClientError):
        create()
    return create()


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


# --- ELBv2: idempotent by name / port ------------------------------------------------------


def test_create_load_balancer_with_the_same_settings_returns_it(aws):
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
    # "If you attempt to create multiple load balancers with the same settings, each call
    # succeeds." moto makes a second load balancer with the same name.
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    _, subnets = network(ec2, subnets=3)

    def create(subnet_ids=subnets[:2], **extra):
        return elbv2.create_load_balancer(Name="alb", Subnets=subnet_ids, **extra)

    first = lost_then_sent_again(aws, ELB, "CreateLoadBalancer", create)["LoadBalancers"][0]
    again = create(list(reversed(subnets[:2])))["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == first["LoadBalancerArn"]
    assert len(elbv2.describe_load_balancers()["LoadBalancers"]) == 1
    message = "A load balancer with the same name 'alb' exists, but with different settings"
    refused(lambda: create(subnets[1:]), "DuplicateLoadBalancerName", 400, message)
    refused(lambda: create(Scheme="internal"), "DuplicateLoadBalancerName", 400, message)
    elbv2.delete_load_balancer(LoadBalancerArn=first["LoadBalancerArn"])
    create(subnets[1:])


def test_create_target_group_with_the_same_settings_returns_it(aws):
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
    # ("If you attempt to create multiple target groups with the same settings, each call
    # succeeds."); moto refuses any second create of the name, the same settings too.
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    vpc, _ = network(ec2, subnets=0)

    def create(port=80):
        return elbv2.create_target_group(Name="tg", Protocol="HTTP", Port=port, VpcId=vpc)

    first = lost_then_sent_again(aws, ELB, "CreateTargetGroup", create)["TargetGroups"][0]
    assert create()["TargetGroups"][0]["TargetGroupArn"] == first["TargetGroupArn"]
    assert len(elbv2.describe_target_groups()["TargetGroups"]) == 1
    message = "A target group with the same name 'tg' exists, but with different settings"
    refused(lambda: create(8080), "DuplicateTargetGroupName", 400, message)
    # Changed since: the original settings no longer match the target group.
    elbv2.modify_target_group(TargetGroupArn=first["TargetGroupArn"], HealthCheckPath="/up")
    refused(create, "DuplicateTargetGroupName", 400, message)


def test_create_listener_with_the_same_settings_returns_it(aws):
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html
    # "If you attempt to create multiple listeners with the same settings, each call
    # succeeds." Another listener on a port in use is DuplicateListener. moto adds a second
    # listener on the same port either way.
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    vpc, subnets = network(ec2, subnets=2)
    lb = elbv2.create_load_balancer(Name="alb", Subnets=subnets)["LoadBalancers"][0]
    lb_arn = lb["LoadBalancerArn"]
    group = elbv2.create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId=vpc)
    forward = [{"Type": "forward", "TargetGroupArn": group["TargetGroups"][0]["TargetGroupArn"]}]
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]

    def create(port=80, actions=forward):
        return elbv2.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port, DefaultActions=actions
        )["Listeners"][0]

    first = lost_then_sent_again(aws, ELB, "CreateListener", create)
    assert create()["ListenerArn"] == first["ListenerArn"]
    refused(
        lambda: create(actions=fixed),
        "DuplicateListener",
        400,
        f"A listener already exists on this port for this load balancer '{lb_arn}'",
    )
    second = create(8080, fixed)
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    assert {ln["ListenerArn"] for ln in listeners} == {first["ListenerArn"], second["ListenerArn"]}


# --- EC2 ClientToken -----------------------------------------------------------------------


def test_create_route_table_replays_the_client_token(aws):
    # https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html; moto ignores
    # the token and makes a second table.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2, subnets=0)
    other, _ = network(ec2, subnets=0)

    def create(vpc_id=vpc, token="rt-1"):
        return ec2.create_route_table(VpcId=vpc_id, ClientToken=token)["RouteTable"]

    first = lost_then_sent_again(aws, "ec2", "CreateRouteTable", create)
    assert create()["RouteTableId"] == first["RouteTableId"]

    def tables(vpc_id):
        found = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        return [t["RouteTableId"] for t in found["RouteTables"] if not t["Associations"]]

    assert tables(vpc) == [first["RouteTableId"]]
    refused(lambda: create(other), "IdempotentParameterMismatch", 400)
    assert create(token="rt-2")["RouteTableId"] != first["RouteTableId"]


def test_create_nat_gateway_after_a_lost_response(aws):
    # The same ClientToken replay: moto alone answers the resend Resource.AlreadyAssociated.
    ec2 = aws.client("ec2")
    _, [subnet] = network(ec2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]

    def create():
        return ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation, ClientToken="n")

    gateway = lost_then_sent_again(aws, "ec2", "CreateNatGateway", create)["NatGateway"]
    gateways = ec2.describe_nat_gateways()["NatGateways"]
    assert [g["NatGatewayId"] for g in gateways] == [gateway["NatGatewayId"]]


# --- Refused names and tokens --------------------------------------------------------------


def test_create_file_system_with_a_creation_token_in_use(aws):
    # https://docs.aws.amazon.com/efs/latest/ug/API_CreateFileSystem.html: FileSystemAlreadyExists
    # (409) "with the ID of the existing file system"; moto leaves the id out. Text as AWS
    # sends it (hashicorp/nomad#7352).
    efs = aws.client("efs")
    error = lost_then_sent_again(
        aws,
        "elasticfilesystem",
        "CreateFileSystem",
        lambda: error_of(lambda: efs.create_file_system(CreationToken="data")),
    )
    [fs] = efs.describe_file_systems()["FileSystems"]
    assert error["Error"] == {
        "Code": "FileSystemAlreadyExists",
        "Message": f"File system '{fs['FileSystemId']}' already exists with creation token 'data'",
    }
    assert error["FileSystemId"] == fs["FileSystemId"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_create_access_point_with_a_client_token_in_use(aws):
    # https://docs.aws.amazon.com/efs/latest/ug/API_CreateAccessPoint.html: a token in use is
    # AccessPointAlreadyExists (409) naming the access point, for any file system of the
    # region (aws/aws-cli#6198, kubernetes-sigs/aws-efs-csi-driver#1620). moto ignores the
    # token and makes a second access point.
    efs = aws.client("efs")
    fs = efs.create_file_system(CreationToken="data")["FileSystemId"]
    other = efs.create_file_system(CreationToken="logs")["FileSystemId"]

    def create(file_system=fs):
        return efs.create_access_point(FileSystemId=file_system, ClientToken="ap-1")

    error = lost_then_sent_again(
        aws, "elasticfilesystem", "CreateAccessPoint", lambda: error_of(create)
    )
    [ap] = efs.describe_access_points(FileSystemId=fs)["AccessPoints"]
    assert error["Error"]["Code"] == "AccessPointAlreadyExists"
    assert error["AccessPointId"] == ap["AccessPointId"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    refused(lambda: create(other), "AccessPointAlreadyExists", 409)
    efs.create_access_point(FileSystemId=fs, ClientToken="ap-2")
    assert len(efs.describe_access_points(FileSystemId=fs)["AccessPoints"]) == 2


def test_create_security_group_with_a_name_in_use(aws):
    # InvalidGroup.Duplicate: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # Text as AWS sends it, naming the VPC (hashicorp/terraform#15428); moto leaves it out.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2, subnets=0)
    error = lost_then_sent_again(
        aws,
        "ec2",
        "CreateSecurityGroup",
        lambda: error_of(
            lambda: ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)
        ),
    )
    assert error["Error"] == {
        "Code": "InvalidGroup.Duplicate",
        "Message": f"The security group 'web' already exists for VPC '{vpc}'",
    }
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])
    assert len(groups["SecurityGroups"]) == 1


# --- What moto already answers as AWS does ---------------------------------------------------

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def mount_target(aws):
    ec2, efs = aws.client("ec2"), aws.client("efs")
    vpc, [subnet] = network(ec2)
    fs = efs.create_file_system(CreationToken="data")["FileSystemId"]
    return (
        lambda: efs.create_mount_target(FileSystemId=fs, SubnetId=subnet),
        lambda: len(efs.describe_mount_targets(FileSystemId=fs)["MountTargets"]),
    )


def subnet(aws):
    ec2 = aws.client("ec2")
    vpc_id, _ = network(ec2, subnets=0)
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    return (
        lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24"),
        lambda: len(ec2.describe_subnets(Filters=in_vpc)["Subnets"]),
    )


def route(aws):
    ec2 = aws.client("ec2")
    vpc_id, _ = network(ec2, subnets=0)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]

    def routes():
        found = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return len([r for r in found if r.get("DestinationCidrBlock") == "0.0.0.0/0"])

    return (
        lambda: ec2.create_route(
            RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
        ),
        routes,
    )


def log_group(aws):
    logs = aws.client("logs")
    return (
        lambda: logs.create_log_group(logGroupName="app"),
        lambda: len(logs.describe_log_groups()["logGroups"]),
    )


def role(aws):
    iam = aws.client("iam")
    return (
        lambda: iam.create_role(RoleName="task", AssumeRolePolicyDocument=TRUST),
        lambda: len([r for r in iam.list_roles()["Roles"] if r["RoleName"] == "task"]),
    )


def parameter(aws):
    ssm = aws.client("ssm")
    return (
        lambda: ssm.put_parameter(Name="/app/url", Value="https://x", Type="String"),
        lambda: len(ssm.describe_parameters()["Parameters"]),
    )


def hosted_zone(aws):
    r53 = aws.client("route53")
    return (
        lambda: r53.create_hosted_zone(Name="example.com", CallerReference="ref-1"),
        lambda: len(r53.list_hosted_zones()["HostedZones"]),
    )


@pytest.mark.parametrize(
    "setup,service,operation,code,status",
    [
        # https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html (one mount
        # target per Availability Zone; "mount target already exists in this AZ")
        (mount_target, "elasticfilesystem", "CreateMountTarget", "MountTargetConflict", 409),
        # No token, but a subnet's CIDR cannot overlap another in the VPC ("The CIDR '...'
        # conflicts with another subnet", kubernetes/kops#2376)
        (subnet, "ec2", "CreateSubnet", "InvalidSubnet.Conflict", 400),
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
        # (RouteAlreadyExists: a route for the destination is in the table)
        (route, "ec2", "CreateRoute", "RouteAlreadyExists", 400),
        # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
        (log_group, "logs", "CreateLogGroup", "ResourceAlreadyExistsException", 400),
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
        (role, "iam", "CreateRole", "EntityAlreadyExists", 409),
        # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
        # (without Overwrite)
        (parameter, "ssm", "PutParameter", "ParameterAlreadyExists", 400),
        # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html
        (hosted_zone, "route53", "CreateHostedZone", "HostedZoneAlreadyExists", 409),
    ],
)
def test_create_sent_again_meets_the_name_in_use(aws, setup, service, operation, code, status):
    create, count = setup(aws)
    error = lost_then_sent_again(aws, service, operation, lambda: error_of(create))
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert count() == 1


def cluster(aws):
    ecs = aws.client("ecs")
    return (
        lambda: ecs.create_cluster(clusterName="main")["cluster"]["clusterArn"],
        lambda: len(ecs.list_clusters()["clusterArns"]),
    )


def certificate(aws):
    acm = aws.client("acm")

    def request():
        return acm.request_certificate(DomainName="a.example.com", IdempotencyToken="t")

    return (
        lambda: request()["CertificateArn"],
        lambda: len(acm.list_certificates()["CertificateSummaryList"]),
    )


def service(aws):
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="main")
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
    )
    def create():
        return ecs.create_service(
            cluster="main", serviceName="web", taskDefinition="app", desiredCount=0, clientToken="c"
        )

    return (
        lambda: create()["service"]["serviceArn"],
        lambda: len(ecs.list_services(cluster="main")["serviceArns"]),
    )


@pytest.mark.parametrize(
    "setup,service_name,operation",
    [
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html:
        # a cluster name in use answers with that cluster (moto does too).
        (cluster, "ecs", "CreateCluster"),
        # https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
        (certificate, "acm", "RequestCertificate"),
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
        (service, "ecs", "CreateService"),
    ],
)
def test_create_sent_again_returns_the_first(aws, setup, service_name, operation):
    create, count = setup(aws)
    lose_next(aws, service_name, operation)
    with pytest.raises(HTTPClientError):
        create()
    first = create()
    assert create() == first
    assert count() == 1


# --- Upserts -----------------------------------------------------------------------------


def alarm(aws):
    cw = aws.client("cloudwatch")
    return (
        lambda: cw.put_metric_alarm(
            AlarmName="unhealthy",
            Namespace="AWS/ApplicationELB",
            MetricName="UnHealthyHostCount",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0.0,
            ComparisonOperator="GreaterThanThreshold",
        ),
        lambda: len(cw.describe_alarms()["MetricAlarms"]),
    )


def role_policy(aws):
    iam = aws.client("iam")
    iam.create_role(RoleName="task", AssumeRolePolicyDocument=TRUST)
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    )
    return (
        lambda: iam.put_role_policy(RoleName="task", PolicyName="read", PolicyDocument=document),
        lambda: len(iam.list_role_policies(RoleName="task")["PolicyNames"]),
    )


def retention(aws):
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="app")
    return (
        lambda: logs.put_retention_policy(logGroupName="app", retentionInDays=7),
        lambda: len([g for g in logs.describe_log_groups()["logGroups"] if "retentionInDays" in g]),
    )


@pytest.mark.parametrize(
    "setup,service_name,operation",
    [
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
        # ("Creates or updates an alarm")
        (alarm, "monitoring", "PutMetricAlarm"),
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html ("Adds or
        # updates an inline policy document")
        (role_policy, "iam", "PutRolePolicy"),
        # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
        (retention, "logs", "PutRetentionPolicy"),
    ],
)
def test_upsert_sent_again_changes_nothing(aws, setup, service_name, operation):
    put, count = setup(aws)
    lose_next(aws, service_name, operation)
    with pytest.raises(HTTPClientError):
        put()
    put()
    assert count() == 1


# --- No token, no unique name --------------------------------------------------------------


def vpc(aws):
    ec2 = aws.client("ec2")
    return (
        lambda: ec2.create_vpc(CidrBlock="10.0.0.0/16"),
        lambda: sum(not v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]),
    )


def internet_gateway(aws):
    ec2 = aws.client("ec2")
    return (
        ec2.create_internet_gateway,
        lambda: len(ec2.describe_internet_gateways()["InternetGateways"]),
    )


def address(aws):
    ec2 = aws.client("ec2")
    return (
        lambda: ec2.allocate_address(Domain="vpc"),
        lambda: len(ec2.describe_addresses()["Addresses"]),
    )


def task_definition(aws):
    ecs = aws.client("ecs")
    return (
        lambda: ecs.register_task_definition(
            family="app", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
        ),
        lambda: len(ecs.list_task_definitions(familyPrefix="app")["taskDefinitionArns"]),
    )


@pytest.mark.parametrize(
    "setup,service_name,operation",
    [
        # None of these takes an idempotency token or a unique name (API references of
        # CreateVpc, CreateInternetGateway, AllocateAddress, RegisterTaskDefinition; VPC
        # CIDRs may overlap): a create sent again makes a second resource on AWS too.
        (vpc, "ec2", "CreateVpc"),
        (internet_gateway, "ec2", "CreateInternetGateway"),
        (address, "ec2", "AllocateAddress"),
        (task_definition, "ecs", "RegisterTaskDefinition"),
    ],
)
def test_create_without_a_token_sent_again_makes_a_second(aws, setup, service_name, operation):
    create, count = setup(aws)
    lose_next(aws, service_name, operation)
    with pytest.raises(HTTPClientError):
        create()
    assert count() == 1
    create()
    assert count() == 2
