"""AWS rules moto lacks, checked against moto's own in-process state before a call is
forwarded, and AWS's idempotency-token replay.

`RULES` is the one table: (service, operation) -> the check, with the AWS reference it
reproduces. A check returns a `Refusal` (rendered in the request's protocol by `wire`) or
None to let moto answer. `REPLAYS` are the idempotent creates: `before` may answer in moto's
place (the original response, or AWS's error for a reused token or name), `after` records a
success. Every EC2 call that carries a `ClientToken` is replayed the same way (`replays`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wire import Request, request_id


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    # Members of the error shape besides code and message (EFS names the existing resource).
    fields: dict[str, str] | None = None


@dataclass(frozen=True)
class Replayed:
    body: bytes
    content_type: str


class Context:
    """One call's view of moto's backends (account and region of the caller)."""

    def __init__(self, req: Request, environ: dict[str, Any], nat_deleting: Callable[[str], bool]):
        self.req = req
        self.params = req.params
        self.region = req.region
        self.account = account_id(environ, req.access_key)
        self.nat_deleting = nat_deleting
        self.environ = environ

    @property
    def ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account][self.region]

    @property
    def elbv2(self) -> Any:
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[self.account][self.region]

    @property
    def ecs(self) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[self.account][self.region]

    @property
    def efs(self) -> Any:
        from moto.efs.models import efs_backends

        return efs_backends[self.account][self.region]

    @property
    def ecr(self) -> Any:
        from moto.ecr.models import ecr_backends

        return ecr_backends[self.account][self.region]

    @property
    def route53(self) -> Any:
        from moto.route53.models import route53_backends

        return route53_backends[self.account]["aws"]

    @property
    def rds(self) -> Any:
        from moto.rds.models import rds_backends

        return rds_backends[self.account][self.region]

    @property
    def elasticache(self) -> Any:
        from moto.elasticache.models import elasticache_backends

        return elasticache_backends[self.account][self.region]

    @property
    def iam(self) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account]["aws"]

    @property
    def s3(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account]["aws"]

    @property
    def secretsmanager(self) -> Any:
        from moto.secretsmanager.models import secretsmanager_backends

        return secretsmanager_backends[self.account][self.region]

    def nat_alive(self, nat: Any) -> bool:
        """A NAT gateway holds its subnet, ENI and EIP until it reaches `deleted`."""
        return nat.state != "deleted" or self.nat_deleting(nat.id)


def account_id(environ: dict[str, Any], access_key: str) -> str:
    # The same precedence moto uses (moto/core/responses.py `get_current_account`).
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _ids(items: Any) -> set[str]:
    out = set()
    for item in items or []:
        out.add(item if isinstance(item, str) else getattr(item, "id", None))
    return out


def _dead_nat_enis(ctx: Context) -> set[str]:
    return {nat._eni.id for nat in ctx.ec2.nat_gateways.values() if not ctx.nat_alive(nat)}


def _vpc_of_eni(eni: Any) -> str | None:
    return getattr(eni.subnet, "vpc_id", None) if eni.subnet is not None else None


# ---------------------------------------------------------------------------------------
# EC2. Error codes: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
# ---------------------------------------------------------------------------------------


def delete_subnet(ctx: Context) -> Refusal | None:
    subnet_id = ctx.params.get("SubnetId", "")
    ec2 = ctx.ec2
    if not any(subnet_id in subnets for subnets in ec2.subnets.values()):
        return None
    dead = _dead_nat_enis(ctx)
    busy = (
        any(n.subnet_id == subnet_id and ctx.nat_alive(n) for n in ec2.nat_gateways.values())
        or any(
            e.subnet is not None and e.subnet.id == subnet_id and e.id not in dead
            for e in ec2.enis.values()
        )
        or any(subnet_id in _ids(lb.subnets) for lb in ctx.elbv2.load_balancers.values())
    )
    if busy:
        return Refusal(
            400,
            "DependencyViolation",
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
        )
    return None


def _group_references(rule: Any) -> set[str]:
    refs = set()
    single = getattr(rule, "source_group", None) or {}
    if single.get("GroupId"):
        refs.add(single["GroupId"])
    for pair in getattr(rule, "source_groups", None) or []:
        if pair.get("GroupId"):
            refs.add(pair["GroupId"])
    return refs


def delete_security_group(ctx: Context) -> Refusal | None:
    ec2 = ctx.ec2
    group_id = ctx.params.get("GroupId")
    if not group_id and ctx.params.get("GroupName"):
        group = ec2.get_security_group_by_name_or_id(ctx.params["GroupName"])
        group_id = group.id if group else None
    if not group_id or ec2.get_security_group_from_id(group_id) is None:
        return None
    referenced = any(
        group_id in _group_references(rule)
        for groups in ec2.groups.values()
        for group in groups.values()
        if group.id != group_id
        for rule in list(group.ingress_rules) + list(group.egress_rules)
    )
    dead = _dead_nat_enis(ctx)
    used = any(
        group_id in {g.id for g in eni._group_set} and eni.id not in dead
        for eni in ec2.enis.values()
    ) or any(group_id in _ids(lb.security_groups) for lb in ctx.elbv2.load_balancers.values())
    if referenced or used:
        return Refusal(400, "DependencyViolation", f"resource {group_id} has a dependent object")
    return None


def release_address(ctx: Context) -> Refusal | None:
    ec2 = ctx.ec2
    allocation_id, public_ip = ctx.params.get("AllocationId"), ctx.params.get("PublicIp")
    eip = next(
        (
            a
            for a in ec2.addresses
            if (allocation_id and a.allocation_id == allocation_id)
            or (public_ip and not allocation_id and a.public_ip == public_ip)
        ),
        None,
    )
    if eip is None:
        return None
    for nat in ec2.nat_gateways.values():
        holds = any(a.get("allocationId") == eip.allocation_id for a in nat.address_set)
        if holds and ctx.nat_alive(nat):
            # AWS documents no code for this case; what it answers, while the NAT gateway
            # exists or is still deleting, is AuthFailure: the EIP sits on the NAT gateway's
            # requester-managed ENI (observed: kubernetes/kops#1604, eformat/sno-for-100#5).
            return Refusal(
                400, "AuthFailure", "You do not have permission to access the specified resource."
            )
    if eip.eni is not None:
        vpc = ec2.vpcs.get(_vpc_of_eni(eip.eni) or "")
        if vpc is not None and not vpc.is_default:
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReleaseAddress.html
            # "[Nondefault VPC] You must disassociate the Elastic IP address before you can
            # release it. Otherwise, Amazon EC2 returns an error (InvalidIPAddress.InUse)."
            return Refusal(400, "InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
    return None


def detach_internet_gateway(ctx: Context) -> Refusal | None:
    ec2 = ctx.ec2
    igw = ec2.internet_gateways.get(ctx.params.get("InternetGatewayId", ""))
    vpc_id = ctx.params.get("VpcId", "")
    if igw is None or igw.vpc is None or igw.vpc.id != vpc_id:
        return None
    dead = _dead_nat_enis(ctx)
    mapped = (
        any(
            a.eni is not None and a.eni.id not in dead and _vpc_of_eni(a.eni) == vpc_id
            for a in ec2.addresses
        )
        or any(
            e.public_ip and e.id not in dead and _vpc_of_eni(e) == vpc_id for e in ec2.enis.values()
        )
        or any(
            lb.vpc_id == vpc_id and lb.scheme == "internet-facing"
            for lb in ctx.elbv2.load_balancers.values()
        )
    )
    if mapped:
        return Refusal(
            400,
            "DependencyViolation",
            f"Network {vpc_id} has some mapped public address(es). Please unmap those public "
            "address(es) before detaching the gateway.",
        )
    return None


def delete_internet_gateway(ctx: Context) -> Refusal | None:
    igw_id = ctx.params.get("InternetGatewayId", "")
    igw = ctx.ec2.internet_gateways.get(igw_id)
    if igw is not None and igw.vpc is not None:
        return Refusal(
            400,
            "DependencyViolation",
            f"The internetGateway '{igw_id}' has dependencies and cannot be deleted.",
        )
    return None


def delete_vpc(ctx: Context) -> Refusal | None:
    ec2 = ctx.ec2
    vpc_id = ctx.params.get("VpcId", "")
    if vpc_id not in ec2.vpcs:
        return None
    dead = _dead_nat_enis(ctx)
    busy = (
        any(s.vpc_id == vpc_id for subnets in ec2.subnets.values() for s in subnets.values())
        or any(i.vpc is not None and i.vpc.id == vpc_id for i in ec2.internet_gateways.values())
        or any(g.name != "default" for g in ec2.groups.get(vpc_id, {}).values())
        or any(
            rt.vpc_id == vpc_id and rt.main_association_id is None
            for rt in ec2.route_tables.values()
        )
        or any(n.vpc_id == vpc_id and ctx.nat_alive(n) for n in ec2.nat_gateways.values())
        or any(_vpc_of_eni(e) == vpc_id and e.id not in dead for e in ec2.enis.values())
    )
    if busy:
        return Refusal(
            400,
            "DependencyViolation",
            f"The vpc '{vpc_id}' has dependencies and cannot be deleted.",
        )
    return None


# ---------------------------------------------------------------------------------------
# ECS, ACM, ELBv2, EFS, Route 53
# ---------------------------------------------------------------------------------------


def delete_cluster(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html
    ecs = ctx.ecs
    name = str(ctx.params.get("cluster", "default")).split("/")[-1]
    services = [s for key, s in ecs.services.items() if key.startswith(f"{name}:")]
    if any(s.status in ("ACTIVE", "DRAINING") for s in services):
        return Refusal(
            400,
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        )
    if any(getattr(t, "last_status", "") != "STOPPED" for t in ecs.tasks.get(name, {}).values()):
        return Refusal(
            400,
            "ClusterContainsTasksException",
            "The Cluster cannot be deleted while Tasks are active.",
        )
    if ecs.container_instances.get(name):
        return Refusal(
            400,
            "ClusterContainsContainerInstancesException",
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        )
    return None


def _listener_certificates(listener: Any) -> set[str]:
    arns = set()
    for cert in list(getattr(listener, "certificates", None) or []) + [
        getattr(listener, "certificate", None)
    ]:
        if isinstance(cert, str):
            arns.add(cert)
        elif isinstance(cert, dict) and cert.get("CertificateArn"):
            arns.add(cert["CertificateArn"])
    return arns


def delete_certificate(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/acm/latest/APIReference/API_DeleteCertificate.html
    arn = ctx.params.get("CertificateArn", "")
    for lb in ctx.elbv2.load_balancers.values():
        for listener in lb.listeners.values():
            if arn in _listener_certificates(listener):
                return Refusal(
                    400,
                    "ResourceInUseException",
                    f"Certificate {arn} in account {ctx.account} is in use.",
                )
    return None


def delete_target_group(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeleteTargetGroup.html
    arn = ctx.params.get("TargetGroupArn", "")
    elbv2 = ctx.elbv2
    if arn in elbv2.target_groups and elbv2._any_listener_using(arn):
        return Refusal(
            400,
            "ResourceInUse",
            f"Target group '{arn}' is currently in use by a listener or a rule",
        )
    return None


def delete_file_system(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html (FileSystemInUse, 409)
    fs_id = ctx.params.get("FileSystemId", "")
    fs = ctx.efs.file_systems_by_id.get(fs_id)
    if fs is not None and fs.number_of_mount_targets > 0:
        return Refusal(
            409,
            "FileSystemInUse",
            f"The file system '{fs_id}' cannot be deleted because it has mount targets. You "
            "must delete the mount targets, and then try again.",
        )
    return None


def _zone(ctx: Context) -> Any:
    zone_id = str(ctx.params.get("Id", "")).split("/")[-1]
    return ctx.route53.zones.get(zone_id)


def _record_name(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


def delete_hosted_zone(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_DeleteHostedZone.html
    zone = _zone(ctx)
    if zone is None:
        return None
    apex = _record_name(zone.name)
    for record in zone.rrsets:
        required = record.type in ("SOA", "NS") and _record_name(record.name) == apex
        if not required:
            return Refusal(
                400,
                "HostedZoneNotEmpty",
                "The specified hosted zone contains non-required resource record sets and so "
                "cannot be deleted.",
            )
    return None


def change_resource_record_sets(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
    # AWS lists every failed change in one message, in brackets (as the AWS CLI prints it:
    # "[Tried to create resource record set [name='a.example.com.', type='A'] but it already
    # exists]").
    zone = _zone(ctx)
    root = ctx.params.get("__xml__")
    if zone is None or root is None:
        return None
    existing = {(_record_name(r.name), r.type, r.set_identifier or None) for r in zone.rrsets}
    problems = []
    for change in root.iter("Change"):
        if (change.findtext("Action") or "").upper() != "CREATE":
            continue
        rrset = change.find("ResourceRecordSet")
        if rrset is None:
            continue
        name = _record_name(rrset.findtext("Name") or "")
        rtype = rrset.findtext("Type") or ""
        set_id = rrset.findtext("SetIdentifier") or None
        if (name, rtype, set_id) in existing:
            suffix = f", set-identifier='{set_id}'" if set_id else ""
            problems.append(
                f"Tried to create resource record set [name='{name}', type='{rtype}'{suffix}] "
                "but it already exists"
            )
    if problems:
        return Refusal(400, "InvalidChangeBatch", "[" + ", ".join(problems) + "]")
    return None


# ---------------------------------------------------------------------------------------
# Creates refused because the name or token is taken (what a resent create meets)
# ---------------------------------------------------------------------------------------


def create_security_group(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    # (InvalidGroup.Duplicate). moto refuses too, but AWS's text names the VPC ("The security
    # group 'x' already exists for VPC 'vpc-...'", hashicorp/terraform#15428).
    name, vpc_id = ctx.params.get("GroupName", ""), ctx.params.get("VpcId")
    if not vpc_id:
        return None
    if any(g.name == name for g in ctx.ec2.groups.get(vpc_id, {}).values()):
        return Refusal(
            400,
            "InvalidGroup.Duplicate",
            f"The security group '{name}' already exists for VPC '{vpc_id}'",
        )
    return None


def create_file_system(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/efs/latest/ug/API_CreateFileSystem.html: a CreationToken in
    # use "returns a FileSystemAlreadyExists error with the ID of the existing file system"
    # (409). moto omits the id, which is what lets a client take the file system its lost
    # create made; text as AWS sends it (hashicorp/nomad#7352).
    token = ctx.params.get("CreationToken")
    fs = next(
        (f for f in ctx.efs.file_systems_by_id.values() if token and f.creation_token == token),
        None,
    )
    if fs is None:
        return None
    return Refusal(
        409,
        "FileSystemAlreadyExists",
        f"File system '{fs.file_system_id}' already exists with creation token '{token}'",
        {"FileSystemId": fs.file_system_id},
    )


def create_access_point(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/efs/latest/ug/API_CreateAccessPoint.html: ClientToken
    # "ensure[s] idempotent creation", and a repeat is AccessPointAlreadyExists (409, "already
    # exists, with the creation token you provided"), naming the access point -- not the
    # access point itself (aws/aws-cli#6198, kubernetes-sigs/aws-efs-csi-driver#1620). Tokens
    # are per account and region, not per file system. moto ignores the token and makes a
    # second access point. AWS's message text was not found; this one follows
    # FileSystemAlreadyExists.
    token = ctx.params.get("ClientToken")
    ap = next(
        (a for a in ctx.efs.access_points.values() if token and a.client_token == token), None
    )
    if ap is None:
        return None
    return Refusal(
        409,
        "AccessPointAlreadyExists",
        f"Access point '{ap.access_point_id}' already exists with client token '{token}'",
        {"AccessPointId": ap.access_point_id},
    )


# ---------------------------------------------------------------------------------------
# ECR
# ---------------------------------------------------------------------------------------


def _ecr_repository(ctx: Context) -> Any:
    return ctx.ecr.repositories.get(str(ctx.params.get("repositoryName", "")))


def put_image(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html
    # ECR computes the digest of the manifest bytes it receives; an `imageDigest` that differs is
    # refused, and so is a manifest whose config or layers were never uploaded (moto accepts both
    # and takes any `imageDigest` as given).
    repo = _ecr_repository(ctx)
    if repo is None:
        return None
    manifest = str(ctx.params.get("imageManifest", ""))
    actual = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    given = ctx.params.get("imageDigest")
    if given and given != actual:
        return Refusal(
            400,
            "ImageDigestDoesNotMatchException",
            f"The specified image digest {given} does not match the digest that Amazon ECR calculated for the image: {actual}",
        )
    try:
        doc = json.loads(manifest)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "layers" not in doc:
        return None  # an index (multi-platform): its manifests are images of their own
    blobs = [doc.get("config", {}).get("digest")] + [layer.get("digest") for layer in doc.get("layers", [])]
    missing = [b for b in blobs if b and b not in repo.layers]
    if missing:
        return Refusal(
            400,
            "LayersNotFoundException",
            f"Layers with digests '{missing}' required for pushing image into repository with name "
            f"'{repo.name}' in registry with id '{repo.registry_id}' do not exist",
        )
    return None


def complete_layer_upload(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CompleteLayerUpload.html
    # ECR checks the uploaded bytes against the digest the client names (moto ignores it).
    repo = _ecr_repository(ctx)
    upload = repo.uploads.get(str(ctx.params.get("uploadId", ""))) if repo is not None else None
    if upload is None:
        return None
    named = list(ctx.params.get("layerDigests") or [])
    actual = "sha256:" + hashlib.sha256(bytes(upload.layer_parts)).hexdigest()
    if named and named[0] != actual:
        return Refusal(
            400,
            "InvalidLayerException",
            f"The layer digest calculation performed by Amazon ECR upon receipt of the image layer does "
            f"not match the digest specified: {named[0]} (calculated {actual})",
        )
    if actual in repo.layers:
        del repo.uploads[upload.upload_id]
        return Refusal(
            400,
            "LayerAlreadyExistsException",
            f"The image layer already exists in the associated repository: {actual}",
        )
    return None


def ecr_digest_of_manifest() -> None:
    """ECR's image digest is the SHA-256 of the manifest bytes; moto hashes the layer digests
    joined (or a random number), so a digest computed from the image would never match."""
    from moto.ecr.models import Image

    def _create_digest(self: Any) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode()).hexdigest()

    Image._create_digest = _create_digest  # type: ignore[method-assign]


def ecr_scan_on_push_off() -> None:
    """`scanOnPush` is a boolean with a default: the AWS SDKs leave out `false`, so turning
    scanning off sends `imageScanningConfiguration: {}`, which AWS reads as `scanOnPush: false`.
    moto ignores an empty configuration and keeps scanning on."""
    from moto.ecr.models import Repository

    def _update_image_scanning_configuration(
        self: Any, image_scanning_configuration: dict[str, bool] | None
    ) -> None:
        if image_scanning_configuration is not None:
            on = bool(image_scanning_configuration.get("scanOnPush", False))
            self.image_scanning_configuration = {"scanOnPush": on}

    Repository._update_image_scanning_configuration = _update_image_scanning_configuration  # type: ignore[method-assign]


def ecr_tag_moves_keep_the_image() -> None:
    """PutImage with a tag another image carries (mutable tags) moves the tag: on AWS the other
    image stays, untagged, until a lifecycle rule or a delete removes it. moto deletes it."""
    from moto.ecr.models import ECRBackend

    put_image = ECRBackend.put_image

    def moving_put_image(self: Any, repository_name: str, image_manifest: str, image_tag: str, *args: Any, **kw: Any):
        repo = self.repositories.get(repository_name)
        mutable = repo is not None and repo.image_tag_mutability == "MUTABLE"
        if mutable and image_tag and not getattr(repo, "image_tag_mutability_exclusion_filters", None):
            for image in repo.images:
                if image.image_manifest != image_manifest and image_tag in image.image_tags:
                    image.image_tags.remove(image_tag)
                    image.image_tag = image.image_tags[-1] if image.image_tags else None
        return put_image(self, repository_name, image_manifest, image_tag, *args, **kw)

    ECRBackend.put_image = moving_put_image  # type: ignore[method-assign]


@dataclass(frozen=True)
class Rule:
    service: str
    operation: str
    # None lets moto answer; a Replayed answers in moto's place (an operation moto lacks).
    check: Callable[[Context], Refusal | Replayed | None]


# datatier.py adds the data tier's rules (RDS, ElastiCache, IAM, Secrets Manager) when imported.
RULES: dict[tuple[str, str], Rule] = {
    (r.service, r.operation): r
    for r in [
        Rule("ec2", "DeleteSubnet", delete_subnet),
        Rule("ec2", "DeleteSecurityGroup", delete_security_group),
        Rule("ec2", "ReleaseAddress", release_address),
        Rule("ec2", "DetachInternetGateway", detach_internet_gateway),
        Rule("ec2", "DeleteInternetGateway", delete_internet_gateway),
        Rule("ec2", "DeleteVpc", delete_vpc),
        Rule("ecs", "DeleteCluster", delete_cluster),
        Rule("acm", "DeleteCertificate", delete_certificate),
        Rule("elasticloadbalancing", "DeleteTargetGroup", delete_target_group),
        Rule("elasticfilesystem", "DeleteFileSystem", delete_file_system),
        Rule("route53", "DeleteHostedZone", delete_hosted_zone),
        Rule("route53", "ChangeResourceRecordSets", change_resource_record_sets),
        Rule("ec2", "CreateSecurityGroup", create_security_group),
        Rule("elasticfilesystem", "CreateFileSystem", create_file_system),
        Rule("elasticfilesystem", "CreateAccessPoint", create_access_point),
        Rule("ecr", "PutImage", put_image),
        Rule("ecr", "CompleteLayerUpload", complete_layer_upload),
    ]
}


# ---------------------------------------------------------------------------------------
# Idempotency replay
# ---------------------------------------------------------------------------------------


class Replay:
    """The tables AWS keeps per account and region for idempotency tokens and idempotent
    creates."""

    def __init__(self) -> None:
        self.ec2_tokens: dict[tuple[str, str, str, str], tuple[str, bytes, str]] = {}
        self.cert_tokens: dict[tuple[str, str, str, str], tuple[float, bytes, str]] = {}
        self.caller_references: set[tuple[str, str]] = set()
        self.service_tokens: dict[tuple[str, str, str, str], tuple[str, bytes, str]] = {}
        # ELBv2 resource ARN -> the settings it was created with, and the create's response.
        self.elb_settings: dict[tuple[str, str, str], tuple[str, bytes, str]] = {}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def before(self, ctx: Context) -> Refusal | Replayed | None:
        handlers = replays(ctx.req)
        return handlers[0](self, ctx) if handlers else None

    def after(self, ctx: Context, body: bytes, content_type: str) -> None:
        handlers = replays(ctx.req)
        if handlers:
            handlers[1](self, ctx, body, content_type)


def _signature(params: dict[str, Any], ignore: set[str]) -> str:
    items = sorted((k, str(v)) for k, v in params.items() if k not in ignore)
    return hashlib.sha256(repr(items).encode()).hexdigest()


def _fresh_request_id(body: bytes) -> bytes:
    # EC2 answers carry <requestId>, awsQuery ones <RequestId> (in ResponseMetadata).
    return re.sub(
        rb"<(requestId|RequestId)>[^<]*</(?:requestId|RequestId)>",
        lambda m: b"<%s>%s</%s>" % (m.group(1), request_id().encode(), m.group(1)),
        body,
    )


def _no_replay(replay: Replay, ctx: Context) -> None:
    return None


# EC2: every operation with a ClientToken member (CreateNatGateway, CreateRouteTable,
# CreateNetworkAcl, CreateVpcEndpoint, RunInstances, ... -- about a hundred in the botocore
# model) is idempotent by it; moto ignores the token (CreateNatGateway then fails with
# Resource.AlreadyAssociated, CreateRouteTable makes a second table).
# https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html: a repeat with
# the same client token and parameters returns the original result; the same token with
# other parameters is IdempotentParameterMismatch. Kept per account, region and operation.
_EC2_IGNORED = {"Action", "Version", "ClientToken"}


def _ec2_token_key(ctx: Context) -> tuple[str, str, str, str]:
    return (ctx.account, ctx.region, ctx.req.operation, str(ctx.params["ClientToken"]))


def _ec2_token_before(replay: Replay, ctx: Context) -> Refusal | Replayed | None:
    seen = replay.ec2_tokens.get(_ec2_token_key(ctx))
    if seen is None:
        return None
    signature, body, content_type = seen
    if signature != _signature(ctx.params, _EC2_IGNORED):
        return Refusal(
            400,
            "IdempotentParameterMismatch",
            "The request uses the same client token as a previous, but non-identical request.",
        )
    return Replayed(_fresh_request_id(body), content_type)


def _ec2_token_after(replay: Replay, ctx: Context, body: bytes, content_type: str) -> None:
    signature = _signature(ctx.params, _EC2_IGNORED)
    replay.ec2_tokens[_ec2_token_key(ctx)] = (signature, body, content_type)


EC2_CLIENT_TOKEN = (_ec2_token_before, _ec2_token_after)


# ELBv2 creates are idempotent by name (a listener by load balancer and port): the same
# settings again answer with the resource that exists, other settings are refused.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
# "If you attempt to create multiple load balancers with the same settings, each call
# succeeds." API_CreateTargetGroup.html and API_CreateListener.html say the same of theirs.
# moto makes a second load balancer and a second listener, and refuses a second target group
# even with the same settings.
# "The same settings" is read as every request parameter but the tags (subnets and security
# groups in any order), compared with the create that made the resource. A later
# ModifyListener / ModifyTargetGroup / SetSubnets / SetSecurityGroups / SetIpAddressType
# forgets them, so a create after a change is refused: AWS compares with the resource as it
# is now.
_ELB_SETS = re.compile(r"(Subnets|SecurityGroups)\.member\.\d+")


def _elb_settings(params: dict[str, Any]) -> str:
    items, sets = [], {}
    for key, value in params.items():
        if key in ("Action", "Version") or key.startswith("Tags."):
            continue
        member = _ELB_SETS.fullmatch(key)
        if member:
            sets.setdefault(member.group(1), []).append(str(value))
        else:
            items.append((key, str(value)))
    items += [(key, ",".join(sorted(values))) for key, values in sets.items()]
    return hashlib.sha256(repr(sorted(items)).encode()).hexdigest()


def _load_balancer_named(ctx: Context) -> Any:
    name = ctx.params.get("Name")
    return next((lb for lb in ctx.elbv2.load_balancers.values() if lb.name == name), None)


def _target_group_named(ctx: Context) -> Any:
    name = ctx.params.get("Name")
    return next((tg for tg in ctx.elbv2.target_groups.values() if tg.name == name), None)


def _listener_on_port(ctx: Context) -> Any:
    lb = ctx.elbv2.load_balancers.get(ctx.params.get("LoadBalancerArn", ""))
    port = str(ctx.params.get("Port", ""))
    if lb is None:
        return None
    return next((ln for ln in lb.listeners.values() if str(ln.port) == port), None)


def _duplicate_load_balancer(ctx: Context, lb: Any) -> Refusal:
    # Text as AWS sends it (fortinet/fortigate-terraform-deploy#21).
    return Refusal(
        400,
        "DuplicateLoadBalancerName",
        f"A load balancer with the same name '{lb.name}' exists, but with different settings",
    )


def _duplicate_target_group(ctx: Context, tg: Any) -> Refusal:
    # Text as AWS sends it (terraform-aws-modules/terraform-aws-alb#251).
    return Refusal(
        400,
        "DuplicateTargetGroupName",
        f"A target group with the same name '{tg.name}' exists, but with different settings",
    )


def _duplicate_listener(ctx: Context, listener: Any) -> Refusal:
    # Text as AWS sends it (hashicorp/terraform#26407).
    return Refusal(
        400,
        "DuplicateListener",
        "A listener already exists on this port for this load balancer "
        f"'{listener.load_balancer_arn}'",
    )


def _same_settings(
    find: Callable[[Context], Any], refuse: Callable[[Context, Any], Refusal]
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def before(replay: Replay, ctx: Context) -> Refusal | Replayed | None:
        found = find(ctx)
        if found is None:
            return None
        seen = replay.elb_settings.get((ctx.account, ctx.region, found.arn))
        if seen is not None and seen[0] == _elb_settings(ctx.params):
            return Replayed(_fresh_request_id(seen[1]), seen[2])
        return refuse(ctx, found)

    def after(replay: Replay, ctx: Context, body: bytes, content_type: str) -> None:
        made = find(ctx)
        if made is not None:
            key = (ctx.account, ctx.region, made.arn)
            replay.elb_settings[key] = (_elb_settings(ctx.params), body, content_type)

    return before, after


def _settings_changed(arn_parameter: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def after(replay: Replay, ctx: Context, body: bytes, content_type: str) -> None:
        arn = str(ctx.params.get(arn_parameter, ""))
        replay.elb_settings.pop((ctx.account, ctx.region, arn), None)

    return _no_replay, after


# "If you call RequestCertificate multiple times with the same idempotency token within one
# hour, ACM recognizes that you are requesting only one certificate and will issue only one."
# https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
CERT_TOKEN_SECONDS = 3600


def _cert_key(ctx: Context) -> tuple[str, str, str, str] | None:
    token = ctx.params.get("IdempotencyToken")
    if not token:
        return None
    return (ctx.account, ctx.region, token, str(ctx.params.get("DomainName", "")).lower())


def _cert_before(replay: Replay, ctx: Context) -> Refusal | Replayed | None:
    key = _cert_key(ctx)
    seen = replay.cert_tokens.get(key) if key else None
    if seen is None or time.monotonic() - seen[0] > CERT_TOKEN_SECONDS:
        return None
    return Replayed(seen[1], seen[2])


def _cert_after(replay: Replay, ctx: Context, body: bytes, content_type: str) -> None:
    key = _cert_key(ctx)
    if key:
        replay.cert_tokens[key] = (time.monotonic(), body, content_type)


def _zone_before(replay: Replay, ctx: Context) -> Refusal | Replayed | None:
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html
    # HostedZoneAlreadyExists (409): "a hosted zone has already been created with the specified
    # CallerReference" -- a caller reference can never be reused, not even after the zone is
    # deleted (Netflix/denominator#356).
    root = ctx.params.get("__xml__")
    reference = root.findtext("CallerReference") if root is not None else None
    if not reference:
        return None
    used = (ctx.account, reference) in replay.caller_references or any(
        z.caller_reference == reference for z in ctx.route53.zones.values()
    )
    if used:
        return Refusal(
            409,
            "HostedZoneAlreadyExists",
            "A hosted zone has already been created with the specified caller reference.",
        )
    return None


def _zone_after(replay: Replay, ctx: Context, body: bytes, content_type: str) -> None:
    root = ctx.params.get("__xml__")
    reference = root.findtext("CallerReference") if root is not None else None
    if reference:
        replay.caller_references.add((ctx.account, reference))


def _service_key(ctx: Context) -> tuple[str, str, str, str]:
    cluster = str(ctx.params.get("cluster") or "default").split("/")[-1]
    return (ctx.account, ctx.region, cluster, str(ctx.params.get("serviceName", "")))


def _service_before(replay: Replay, ctx: Context) -> Refusal | Replayed | None:
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    # clientToken: "An identifier that you provide to ensure the idempotency of the request."
    # A second create of an ACTIVE (or DRAINING) service name without the original token is
    # answered "InvalidParameterException: Creation of service was not idempotent."
    key = _service_key(ctx)
    service = ctx.ecs.services.get(f"{key[2]}:{key[3]}")
    if service is None or service.status not in ("ACTIVE", "DRAINING"):
        return None
    seen = replay.service_tokens.get(key)
    token = ctx.params.get("clientToken")
    if seen is not None and token and seen[0] == token:
        return Replayed(seen[1], seen[2])
    return Refusal(400, "InvalidParameterException", "Creation of service was not idempotent.")


def _service_after(replay: Replay, ctx: Context, body: bytes, content_type: str) -> None:
    replay.service_tokens[_service_key(ctx)] = (
        str(ctx.params.get("clientToken") or ""),
        body,
        content_type,
    )


ELB = "elasticloadbalancing"

REPLAYS: dict[tuple[str, str], tuple[Callable[..., Any], Callable[..., Any]]] = {
    ("acm", "RequestCertificate"): (_cert_before, _cert_after),
    ("route53", "CreateHostedZone"): (_zone_before, _zone_after),
    ("ecs", "CreateService"): (_service_before, _service_after),
    (ELB, "CreateLoadBalancer"): _same_settings(_load_balancer_named, _duplicate_load_balancer),
    (ELB, "CreateTargetGroup"): _same_settings(_target_group_named, _duplicate_target_group),
    (ELB, "CreateListener"): _same_settings(_listener_on_port, _duplicate_listener),
    (ELB, "ModifyListener"): _settings_changed("ListenerArn"),
    (ELB, "ModifyTargetGroup"): _settings_changed("TargetGroupArn"),
    (ELB, "SetSubnets"): _settings_changed("LoadBalancerArn"),
    (ELB, "SetSecurityGroups"): _settings_changed("LoadBalancerArn"),
    (ELB, "SetIpAddressType"): _settings_changed("LoadBalancerArn"),
}


def replays(req: Request) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """A call's replay handlers: its REPLAYS entry, or the EC2 ClientToken replay."""
    handlers = REPLAYS.get((req.service, req.operation))
    if handlers is None and req.service == "ec2" and req.params.get("ClientToken"):
        return EC2_CLIENT_TOKEN
    return handlers


def finish_nat_deletion(ctx_account: str, region: str, nat_id: str) -> None:
    """AWS releases a NAT gateway's ENI and EIP association when it reaches `deleted`; moto
    keeps both forever (its DeleteNatGateway only flips the state), which would pin the subnet
    and the EIP for good under the rules above."""
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[ctx_account][region]
    nat = ec2.nat_gateways.get(nat_id)
    if nat is None:
        return
    eni = nat._eni
    for address in list(ec2.addresses):
        if address.eni is not None and address.eni.id == eni.id:
            ec2.disassociate_address(address=address.public_ip)
    ec2.enis.pop(eni.id, None)
