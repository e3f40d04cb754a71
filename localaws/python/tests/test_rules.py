"""Each AWS rule moto lacks: refused exactly as AWS refuses it (code, HTTP status, message),
and allowed once the dependency is gone."""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.exceptions import ClientError


def refused(call, code: str, status: int, message: str | None = None) -> str:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    if message is not None:
        assert error["Error"]["Message"] == message
    return error["Error"]["Message"]


def network(ec2, subnets: int = 1):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ids = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{'abc'[i]}"
        )["Subnet"]["SubnetId"]
        for i in range(subnets)
    ]
    return vpc, ids


def nat_gateway(ec2, subnet: str):
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    return nat["NatGatewayId"], allocation


# --- EC2 ---------------------------------------------------------------------------------


def test_delete_subnet_holding_a_nat_gateway(aws):
    # DependencyViolation (400): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # The message is AWS's wording for every VPC resource ("The vpc '...' has dependencies and
    # cannot be deleted.", gruntwork-io/cloud-nuke#345), here for a subnet.
    ec2 = aws.client("ec2")
    _, [subnet] = network(ec2)
    nat, _ = nat_gateway(ec2, subnet)
    refused(
        lambda: ec2.delete_subnet(SubnetId=subnet),
        "DependencyViolation",
        400,
        f"The subnet '{subnet}' has dependencies and cannot be deleted.",
    )
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.delete_subnet(SubnetId=subnet)


def test_delete_subnet_holding_an_eni(aws):
    # An ENI in the subnet (EFS mount targets, ECS tasks, ...) is a dependency too:
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    ec2 = aws.client("ec2")
    _, [subnet] = network(ec2)
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    refused(lambda: ec2.delete_subnet(SubnetId=subnet), "DependencyViolation", 400)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_subnet(SubnetId=subnet)


def test_delete_security_group_referenced_by_another_group(aws):
    # DependencyViolation (400): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # Text as AWS sends it: "resource sg-... has a dependent object"
    # (hashicorp/terraform-provider-aws#1671, gruntwork-io/cloud-nuke#316).
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    target = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    source = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    permission = {
        "IpProtocol": "tcp",
        "FromPort": 5432,
        "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": target}],
    }
    ec2.authorize_security_group_ingress(GroupId=source, IpPermissions=[permission])
    refused(
        lambda: ec2.delete_security_group(GroupId=target),
        "DependencyViolation",
        400,
        f"resource {target} has a dependent object",
    )
    ec2.revoke_security_group_ingress(GroupId=source, IpPermissions=[permission])
    ec2.delete_security_group(GroupId=target)


def test_delete_security_group_used_by_an_eni(aws):
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]
    refused(lambda: ec2.delete_security_group(GroupId=group), "DependencyViolation", 400)
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_security_group(GroupId=group)


def test_release_address_held_by_a_nat_gateway(aws):
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReleaseAddress.html documents
    # InvalidIPAddress.InUse for an associated address; for the EIP of a NAT gateway (even one
    # still `deleting`) AWS answers AuthFailure, because the address sits on the gateway's
    # requester-managed ENI (kubernetes/kops#1604, eformat/sno-for-100#5).
    ec2 = aws.client("ec2")
    _, [subnet] = network(ec2)
    nat, allocation = nat_gateway(ec2, subnet)
    refused(
        lambda: ec2.release_address(AllocationId=allocation),
        "AuthFailure",
        400,
        "You do not have permission to access the specified resource.",
    )
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=allocation)


def test_release_address_associated_in_a_nondefault_vpc(aws):
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReleaseAddress.html
    ec2 = aws.client("ec2")
    _, [subnet] = network(ec2)
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    address = ec2.allocate_address(Domain="vpc")
    association = ec2.associate_address(
        AllocationId=address["AllocationId"], NetworkInterfaceId=eni
    )["AssociationId"]
    refused(
        lambda: ec2.release_address(AllocationId=address["AllocationId"]),
        "InvalidIPAddress.InUse",
        400,
        f"Address {address['PublicIp']} is in use.",
    )
    ec2.disassociate_address(AssociationId=association)
    ec2.release_address(AllocationId=address["AllocationId"])


def test_detach_internet_gateway_with_mapped_public_addresses(aws):
    # DependencyViolation (400): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # Text as AWS sends it (hashicorp/terraform#1303, hashicorp/terraform#497).
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    nat, allocation = nat_gateway(ec2, subnet)
    refused(
        lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc),
        "DependencyViolation",
        400,
        f"Network {vpc} has some mapped public address(es). Please unmap those public "
        "address(es) before detaching the gateway.",
    )
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=allocation)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)


def test_delete_internet_gateway_while_attached(aws):
    # DependencyViolation (400): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # Text as AWS sends it (awslabs/landing-zone-accelerator-on-aws#765, saltstack/salt#60140);
    # moto refuses too, in its own words.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    refused(
        lambda: ec2.delete_internet_gateway(InternetGatewayId=igw),
        "DependencyViolation",
        400,
        f"The internetGateway '{igw}' has dependencies and cannot be deleted.",
    )
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)


def test_delete_vpc_with_attached_gateway_and_security_group(aws):
    # DependencyViolation (400): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVpc.html ("you must
    # terminate or delete all ... associated with the VPC"). moto refuses subnets and extra
    # route tables already; an attached gateway or a non-default group it lets through.
    # Text as AWS sends it (gruntwork-io/cloud-nuke#345).
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2, subnets=0)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    group = ec2.create_security_group(GroupName="x", Description="x", VpcId=vpc)["GroupId"]
    message = f"The vpc '{vpc}' has dependencies and cannot be deleted."
    refused(lambda: ec2.delete_vpc(VpcId=vpc), "DependencyViolation", 400, message)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    refused(lambda: ec2.delete_vpc(VpcId=vpc), "DependencyViolation", 400, message)
    ec2.delete_security_group(GroupId=group)
    ec2.delete_vpc(VpcId=vpc)


# --- ECS, ACM, ELBv2, EFS, Route 53 --------------------------------------------------------


def ecs_service(ecs, name: str = "web", token: str | None = None):
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
    )
    extra = {"clientToken": token} if token else {}
    return ecs.create_service(
        cluster="main", serviceName=name, taskDefinition="app", desiredCount=0, **extra
    )["service"]


def test_delete_cluster_with_active_services(aws):
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html
    # (ClusterContainsServicesException, 400); text as AWS sends it (aws/amazon-ecs-cli#368)
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="main")
    ecs_service(ecs)
    refused(
        lambda: ecs.delete_cluster(cluster="main"),
        "ClusterContainsServicesException",
        400,
        "The Cluster cannot be deleted while Services are active.",
    )
    ecs.delete_service(cluster="main", service="web")
    ecs.delete_cluster(cluster="main")


def test_a_service_reports_its_health_check_grace_period(aws):
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html
    # (healthCheckGracePeriodSeconds: what CreateService/UpdateService set); moto 5.2.5 dropped it
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="main")
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
    )
    created = ecs.create_service(
        cluster="main",
        serviceName="web",
        taskDefinition="app",
        desiredCount=0,
        healthCheckGracePeriodSeconds=30,
    )["service"]
    assert created["healthCheckGracePeriodSeconds"] == 30

    def described():
        service = ecs.describe_services(cluster="main", services=["web"])["services"][0]
        return service.get("healthCheckGracePeriodSeconds")

    assert described() == 30
    ecs.update_service(cluster="main", service=created["serviceArn"], healthCheckGracePeriodSeconds=45)
    assert described() == 45
    ecs.update_service(cluster="main", service="web", desiredCount=0)
    assert described() == 45, "kept when an update does not name it"


def load_balancer(aws):
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    vpc, subnets = network(ec2, subnets=2)
    lb = elbv2.create_load_balancer(Name="alb", Subnets=subnets)["LoadBalancers"][0]
    group = elbv2.create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId=vpc)
    return elbv2, lb["LoadBalancerArn"], group["TargetGroups"][0]["TargetGroupArn"]


def test_only_secure_listeners_report_an_ssl_policy(aws):
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Listener.html
    # (SslPolicy: "[HTTPS or TLS listener] The security policy"); moto 5.2.5 gave an HTTP
    # listener ELBSecurityPolicy-2016-08
    elbv2, lb, group = load_balancer(aws)
    forward = [{"Type": "forward", "TargetGroupArn": group}]
    http = elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=forward)
    assert "SslPolicy" not in http["Listeners"][0]
    acm = aws.client("acm")
    cert = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS")["CertificateArn"]
    https = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions=forward,
    )["Listeners"][0]
    described = {
        listener["Port"]: listener.get("SslPolicy")
        for listener in elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    }
    assert described == {80: None, 443: "ELBSecurityPolicy-TLS13-1-2-2021-06"}
    # A listener turned secure reports the policy it is given.
    elbv2.modify_listener(
        ListenerArn=http["Listeners"][0]["ListenerArn"],
        Protocol="HTTPS",
        Certificates=[{"CertificateArn": cert}],
        SslPolicy="ELBSecurityPolicy-2016-08",
    )
    described = {
        listener["Port"]: listener.get("SslPolicy")
        for listener in elbv2.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    }
    assert described == {80: "ELBSecurityPolicy-2016-08", 443: https["SslPolicy"]}


def test_delete_certificate_used_by_a_listener(aws):
    # https://docs.aws.amazon.com/acm/latest/APIReference/API_DeleteCertificate.html
    # (ResourceInUseException, 400); text as AWS sends it (dfds/infrastructure-modules#5)
    acm = aws.client("acm")
    certificate = acm.request_certificate(DomainName="app.example.com")["CertificateArn"]
    elbv2, lb, group = load_balancer(aws)
    listener = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Listeners"][0]["ListenerArn"]
    refused(
        lambda: acm.delete_certificate(CertificateArn=certificate),
        "ResourceInUseException",
        400,
        f"Certificate {certificate} in account 123456789012 is in use.",
    )
    elbv2.delete_listener(ListenerArn=listener)
    acm.delete_certificate(CertificateArn=certificate)


def test_delete_target_group_used_by_a_listener(aws):
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeleteTargetGroup.html
    # (ResourceInUse, 400); text as AWS sends it (hashicorp/terraform#13076); moto refuses too,
    # with "The target group ..."
    elbv2, lb, group = load_balancer(aws)
    listener = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Listeners"][0]["ListenerArn"]
    refused(
        lambda: elbv2.delete_target_group(TargetGroupArn=group),
        "ResourceInUse",
        400,
        f"Target group '{group}' is currently in use by a listener or a rule",
    )
    elbv2.delete_listener(ListenerArn=listener)
    elbv2.delete_target_group(TargetGroupArn=group)


def test_delete_subnet_and_security_group_used_by_a_load_balancer(aws):
    # An ALB's ENIs sit in its subnets and carry its groups (moto models no ENI for them):
    # DependencyViolation (400), https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    vpc, subnets = network(ec2, subnets=2)
    group = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    lb = elbv2.create_load_balancer(Name="alb", Subnets=subnets, SecurityGroups=[group])
    refused(lambda: ec2.delete_subnet(SubnetId=subnets[0]), "DependencyViolation", 400)
    refused(lambda: ec2.delete_security_group(GroupId=group), "DependencyViolation", 400)
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"])
    ec2.delete_subnet(SubnetId=subnets[0])
    ec2.delete_security_group(GroupId=group)


def test_delete_file_system_with_mount_targets(aws):
    # https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html (409); text as AWS
    # sends it (rebuy-de/aws-nuke#1203)
    ec2, efs = aws.client("ec2"), aws.client("efs")
    _, [subnet] = network(ec2)
    fs = efs.create_file_system(CreationToken="data")["FileSystemId"]
    target = efs.create_mount_target(FileSystemId=fs, SubnetId=subnet)["MountTargetId"]
    refused(
        lambda: efs.delete_file_system(FileSystemId=fs),
        "FileSystemInUse",
        409,
        f"The file system '{fs}' cannot be deleted because it has mount targets. You must "
        "delete the mount targets, and then try again.",
    )
    refused(lambda: ec2.delete_subnet(SubnetId=subnet), "DependencyViolation", 400)
    efs.delete_mount_target(MountTargetId=target)
    efs.delete_file_system(FileSystemId=fs)
    ec2.delete_subnet(SubnetId=subnet)


def record_change(action: str, name: str, value: str = "192.0.2.1"):
    return {
        "Changes": [
            {
                "Action": action,
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": "A",
                    "TTL": 60,
                    "ResourceRecords": [{"Value": value}],
                },
            }
        ]
    }


def test_delete_hosted_zone_with_records(aws):
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_DeleteHostedZone.html; text as
    # AWS sends it (gruntwork-io/cloud-nuke#704)
    r53 = aws.client("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z1")["HostedZone"]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch=record_change("CREATE", "www.example.com")
    )
    refused(
        lambda: r53.delete_hosted_zone(Id=zone),
        "HostedZoneNotEmpty",
        400,
        "The specified hosted zone contains non-required resource record sets and so cannot "
        "be deleted.",
    )
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch=record_change("DELETE", "www.example.com")
    )
    r53.delete_hosted_zone(Id=zone)


def test_create_of_an_existing_record(aws):
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
    # moto only refuses a byte-identical repeat; AWS refuses any CREATE of an existing
    # name/type, and the AWS CLI prints "[Tried to create resource record set ...]".
    r53 = aws.client("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="z2")["HostedZone"]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch=record_change("CREATE", "www.example.com")
    )
    refused(
        lambda: r53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch=record_change("CREATE", "www.example.com", "192.0.2.9")
        ),
        "InvalidChangeBatch",
        400,
        "[Tried to create resource record set [name='www.example.com.', type='A'] but it "
        "already exists]",
    )
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch=record_change("UPSERT", "www.example.com", "192.0.2.9")
    )
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch=record_change("DELETE", "www.example.com", "192.0.2.9")
    )
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch=record_change("CREATE", "www.example.com")
    )


# --- Idempotency replay --------------------------------------------------------------------


def test_create_nat_gateway_replays_the_client_token(aws):
    # https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html: a repeat with the
    # same token returns the original; the same token with other parameters is
    # IdempotentParameterMismatch. moto answers Resource.AlreadyAssociated instead.
    ec2 = aws.client("ec2")
    _, [subnet, other] = network(ec2, subnets=2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    first = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation, ClientToken="t-1")
    again = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation, ClientToken="t-1")
    assert again["NatGateway"]["NatGatewayId"] == first["NatGateway"]["NatGatewayId"]
    assert len(ec2.describe_nat_gateways()["NatGateways"]) == 1
    refused(
        lambda: ec2.create_nat_gateway(SubnetId=other, AllocationId=allocation, ClientToken="t-1"),
        "IdempotentParameterMismatch",
        400,
    )


def test_request_certificate_replays_the_idempotency_token(aws):
    # https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html: same
    # token within one hour -> one certificate.
    acm = aws.client("acm")
    first = acm.request_certificate(DomainName="a.example.com", IdempotencyToken="tok")
    again = acm.request_certificate(DomainName="a.example.com", IdempotencyToken="tok")
    other = acm.request_certificate(DomainName="a.example.com", IdempotencyToken="tok2")
    assert again["CertificateArn"] == first["CertificateArn"]
    assert other["CertificateArn"] != first["CertificateArn"]
    assert len(acm.list_certificates()["CertificateSummaryList"]) == 2


def test_create_hosted_zone_with_a_reused_caller_reference(aws):
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html
    # HostedZoneAlreadyExists, 409; references stay used after the zone is deleted
    # (openshift/installer#8453 for the text, Netflix/denominator#356 for the reuse).
    r53 = aws.client("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="ref-1")["HostedZone"]
    message = "A hosted zone has already been created with the specified caller reference."

    def create():
        return r53.create_hosted_zone(Name="example.org", CallerReference="ref-1")

    refused(create, "HostedZoneAlreadyExists", 409, message)
    r53.delete_hosted_zone(Id=zone["Id"])
    refused(create, "HostedZoneAlreadyExists", 409, message)
    r53.create_hosted_zone(Name="example.org", CallerReference="ref-2")


def test_create_service_with_an_existing_name(aws):
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    # (clientToken); text as AWS sends it (hashicorp/terraform-provider-aws#14489)
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="main")
    first = ecs_service(ecs, token="tok-1")
    again = ecs_service(ecs, token="tok-1")
    assert again["serviceArn"] == first["serviceArn"]
    refused(
        lambda: ecs_service(ecs, token="tok-2"),
        "InvalidParameterException",
        400,
        "Creation of service was not idempotent.",
    )
    refused(lambda: ecs_service(ecs), "InvalidParameterException", 400)
    ecs.delete_service(cluster="main", service="web")
    ecs_service(ecs, token="tok-3")


# --- Lax mode ----------------------------------------------------------------------------------


# --- ECR ---------------------------------------------------------------------------------


def _push_blob(ecr, repo: str, data: bytes) -> str:
    upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=repo, uploadId=upload, partFirstByte=0, partLastByte=len(data) - 1, layerPartBlob=data
    )
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    ecr.complete_layer_upload(repositoryName=repo, uploadId=upload, layerDigests=[digest])
    return digest


def _manifest(config: str, layers: list[str]) -> str:
    def desc(media: str, digest: str) -> dict:
        return {"mediaType": media, "digest": digest, "size": 1}

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": desc("application/vnd.oci.image.config.v1+json", config),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", d) for d in layers],
        }
    )


def test_put_image_digest_is_the_manifests_and_its_blobs_must_be_there(aws):
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html
    # (LayersNotFoundException, ImageDigestDoesNotMatchException); an image's digest is the
    # SHA-256 of its manifest (the OCI image spec), which moto does not compute.
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app")
    config = _push_blob(ecr, "app", b"{}")
    absent = "sha256:" + "0" * 64
    manifest = _manifest(config, [absent])
    message = refused(
        lambda: ecr.put_image(repositoryName="app", imageManifest=manifest), "LayersNotFoundException", 400
    )
    assert absent in message
    layer = _push_blob(ecr, "app", b"layer bytes")
    manifest = _manifest(config, [layer])
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    refused(
        lambda: ecr.put_image(repositoryName="app", imageManifest=manifest, imageDigest="sha256:" + "1" * 64),
        "ImageDigestDoesNotMatchException",
        400,
    )
    got = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")["image"]["imageId"]
    assert got["imageDigest"] == digest
    listed = ecr.describe_images(repositoryName="app")["imageDetails"]
    assert [i["imageDigest"] for i in listed] == [digest]


def test_a_moved_tag_leaves_the_earlier_image_untagged(aws):
    # https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html: pushing a
    # tag that exists moves it; the earlier image stays, untagged (moto deleted it).
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app")
    config = _push_blob(ecr, "app", b"{}")
    first = ecr.put_image(repositoryName="app", imageManifest=_manifest(config, []), imageTag="latest")
    layer = _push_blob(ecr, "app", b"v2")
    second = ecr.put_image(repositoryName="app", imageManifest=_manifest(config, [layer]), imageTag="latest")
    tags = {i["imageDigest"]: i.get("imageTags", []) for i in ecr.describe_images(repositoryName="app")["imageDetails"]}
    assert tags == {first["image"]["imageId"]["imageDigest"]: [], second["image"]["imageId"]["imageDigest"]: ["latest"]}


def test_scan_on_push_turned_off_by_an_empty_configuration(aws):
    # The AWS SDK for Rust leaves out `scanOnPush: false` (a boolean with a default); AWS reads
    # the empty configuration as off:
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanningConfiguration.html
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})
    ecr.put_image_scanning_configuration(repositoryName="app", imageScanningConfiguration={})
    repo = ecr.describe_repositories(repositoryNames=["app"])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is False


def test_complete_layer_upload_checks_the_digest(aws):
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CompleteLayerUpload.html
    # InvalidLayerException when the bytes do not hash to the named digest;
    # LayerAlreadyExistsException for a layer the repository has.
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app")
    upload = ecr.initiate_layer_upload(repositoryName="app")["uploadId"]
    ecr.upload_layer_part(repositoryName="app", uploadId=upload, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
    refused(
        lambda: ecr.complete_layer_upload(repositoryName="app", uploadId=upload, layerDigests=["sha256:" + "2" * 64]),
        "InvalidLayerException",
        400,
    )
    _push_blob(ecr, "app", b"abc")
    with pytest.raises(ClientError) as info:
        _push_blob(ecr, "app", b"abc")
    assert info.value.response["Error"]["Code"] == "LayerAlreadyExistsException"


def test_delete_repository_holding_images(aws):
    # RepositoryNotEmptyException unless `force` (moto enforces it as AWS does):
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DeleteRepository.html
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app")
    config = _push_blob(ecr, "app", b"{}")
    ecr.put_image(repositoryName="app", imageManifest=_manifest(config, []), imageTag="v1")
    refused(lambda: ecr.delete_repository(repositoryName="app"), "RepositoryNotEmptyException", 400)
    ecr.delete_repository(repositoryName="app", force=True)


def test_lax_mode_is_moto_as_is(aws):
    aws.configure(strict=False)
    ec2 = aws.client("ec2")
    _, [subnet] = network(ec2)
    nat_gateway(ec2, subnet)
    ec2.delete_subnet(SubnetId=subnet)
