"""Lambda's AWS rules that moto 5.2.5 lacks, and the network interfaces AWS puts in a VPC for a
function. Importing this module adds its checks to `rules.RULES`; the hooks after a successful
call are in `AFTER`.

Lambda is restJson1: `wire.error_body` renders each refusal in its protocol. Codes and HTTP
statuses are those of the botocore model's error shapes.

- A function with `VpcConfig` gets one requester-managed network interface per subnet, with the
  function's security groups and the description AWS gives them ("AWS Lambda VPC ENI-<name>-
  <uuid>"); moto makes none. After DeleteFunction (or an update that leaves a subnet) they stay
  for `HOLD_S` seconds (the `lambda_eni_hold_s` setting), as AWS keeps them for up to tens of
  minutes: DeleteSubnet and DeleteSecurityGroup are refused with DependencyViolation meanwhile
  (the existing rules count every interface in the subnet or group).
- AddPermission with a statement id the function's policy already has: 409
  ResourceConflictException (moto adds a second statement).
- LoggingConfig is kept and reported (moto drops it: every function read back without it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import datatier
from datatier import OWNER, _groups_in_vpc, _subnet
from rules import RULES, Context, Refusal, Rule

# Seconds Lambda's interfaces outlive their function (setting `lambda_eni_hold_s`).
HOLD_S = 3.0
RELEASE_AT = "_localaws_release_at"


def set_hold(seconds: float) -> None:
    global HOLD_S
    HOLD_S = float(seconds)


def _backend(ctx: Context) -> Any:
    from moto.awslambda.models import lambda_backends

    return lambda_backends[ctx.account][ctx.region]


def _function(ctx: Context, name: str) -> Any:
    try:
        return _backend(ctx).get_function(name)
    except Exception:
        return None


def _owner(ctx: Context, name: str) -> tuple[str, str]:
    return ("lambda", name.rsplit(":", 1)[-1] if name.startswith("arn:") else name)


def _enis(ctx: Context, owner: tuple[str, str]) -> list[Any]:
    return [
        e
        for e in ctx.ec2.enis.values()
        if getattr(e, OWNER, None) == owner and getattr(e, RELEASE_AT, None) is None
    ]


def release_due(ec2: Any, now: float | None = None) -> None:
    """Interfaces whose hold has passed are gone."""
    now = time.monotonic() if now is None else now
    for eni_id, eni in list(ec2.enis.items()):
        at = getattr(eni, RELEASE_AT, None)
        if at is not None and at <= now:
            ec2.enis.pop(eni_id, None)


def _hold(enis: list[Any]) -> None:
    at = time.monotonic() + HOLD_S
    for e in enis:
        setattr(e, RELEASE_AT, at)


def _vpc(fn: Any) -> tuple[list[str], list[str]]:
    config = getattr(fn, "_vpc_config", None) or {}
    return list(config.get("SubnetIds") or []), list(config.get("SecurityGroupIds") or [])


def _place(ctx: Context, name: str, subnet_ids: list[str], groups: list[str]) -> None:
    ec2 = ctx.ec2
    for subnet_id in subnet_ids:
        subnet = _subnet(ec2, subnet_id)
        if subnet is None:
            continue
        eni = ec2.create_network_interface(
            subnet,
            None,
            group_ids=_groups_in_vpc(ec2, groups, subnet.vpc_id),
            description=f"AWS Lambda VPC ENI-{name}-{uuid.uuid4()}",
        )
        eni.requester_managed = True
        setattr(eni, OWNER, _owner(ctx, name))


def function_placed(ctx: Context) -> None:
    """After CreateFunction / UpdateFunctionConfiguration: the interfaces match the function's
    subnets and groups; those it no longer uses are held, then released."""
    name = str(ctx.params.get("FunctionName", ""))
    fn = _function(ctx, name)
    if fn is None:
        return
    name = fn.function_name
    subnet_ids, groups = _vpc(fn)
    have = _enis(ctx, _owner(ctx, name))
    keep = [
        e
        for e in have
        if e.subnet.id in subnet_ids and sorted(g.id for g in e.group_set) == sorted(groups)
    ]
    _hold([e for e in have if e not in keep])
    kept = {e.subnet.id for e in keep}
    _place(ctx, name, [s for s in subnet_ids if s not in kept], groups)


def function_deleted(ctx: Context) -> None:
    _hold(_enis(ctx, _owner(ctx, str(ctx.params.get("FunctionName", "")))))


AFTER: dict[tuple[str, str], Callable[[Context], None]] = {
    ("lambda", "CreateFunction"): function_placed,
    ("lambda", "UpdateFunctionConfiguration"): function_placed,
    ("lambda", "DeleteFunction"): function_deleted,
}
# The middleware runs the hooks of `datatier.AFTER` after a successful call.
datatier.AFTER.update(AFTER)


def add_permission(ctx: Context) -> Refusal | None:
    fn = _function(ctx, str(ctx.params.get("FunctionName", "")))
    sid = ctx.params.get("StatementId")
    if fn is None or not sid:
        return None
    if any(s.get("Sid") == sid for s in fn.policy.statements):
        return Refusal(
            409,
            "ResourceConflictException",
            f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement.",
        )
    return None


def _s3_may_invoke(fn: Any, bucket: str) -> bool:
    """Whether the function's resource policy lets S3 invoke it for `bucket`: a statement for
    the service principal, and a source ARN condition (if any) that names the bucket."""
    for st in fn.policy.statements:
        principal = st.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if st.get("Effect", "Allow") != "Allow" or service != "s3.amazonaws.com":
            continue
        arns = [
            v
            for cond in (st.get("Condition") or {}).values()
            for k, v in cond.items()
            if k.lower() == "aws:sourcearn"
        ]
        if all(a in (f"arn:aws:s3:::{bucket}", "arn:aws:s3:::*") for a in arns):
            return True
    return False


def put_bucket_notification(ctx: Context) -> Refusal | None:
    # S3 checks each destination when the configuration is put: it sends a test event, which
    # a function refuses unless its resource policy lets s3.amazonaws.com invoke it (400
    # InvalidArgument "Unable to validate the following destination configurations";
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-enable-disable-notification-intro.html).
    # moto 5.2.5 took any ARN, so a stack missing its permission applied here and failed on AWS.
    root = ctx.params.get("__xml__")
    bucket = str(ctx.params.get("Bucket", ""))
    if root is None:
        return None
    arns = [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "CloudFunction"]
    for arn in arns:
        fn = _function(ctx, arn)
        if fn is None or not _s3_may_invoke(fn, bucket):
            return Refusal(
                400, "InvalidArgument", "Unable to validate the following destination configurations"
            )
    return None


def content_md5(ctx: Context) -> Refusal | None:
    # S3 checks an object's body against the Content-MD5 sent with it (PutObject, UploadPart):
    # 400 BadDigest when they differ, 400 InvalidDigest when the header is no base64 MD5
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). The portal's
    # presigned uploads rely on it. moto 5.2.5 stored any body whatever its Content-MD5.
    given = ctx.environ.get("HTTP_CONTENT_MD5")
    if given is None:
        return None
    encoding = ctx.environ.get("HTTP_CONTENT_ENCODING", "")
    if "aws-chunked" in encoding or ctx.environ.get("HTTP_X_AMZ_CONTENT_SHA256", "").startswith(
        "STREAMING-"
    ):
        return None  # a chunk-encoded body: its framing is not decoded here
    try:
        digest = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        return Refusal(
            400, "InvalidDigest", "The Content-MD5 or checksum value that you specified is not valid."
        )
    if hashlib.md5(ctx.req.body).digest() != digest:
        return Refusal(
            400,
            "BadDigest",
            "The Content-MD5 or checksum value that you specified did not match what the server received.",
        )
    return None


def _releasing_first(op: str) -> Rule:
    """The EC2 rule of `op` (or none), after releasing interfaces whose hold has passed."""
    inner = RULES.get(("ec2", op))

    def check(ctx: Context) -> Refusal | None:
        release_due(ctx.ec2)
        return inner.check(ctx) if inner else None  # type: ignore[return-value]

    return Rule("ec2", op, check)


def moto_logging_config() -> None:
    """moto drops CreateFunction's and UpdateFunctionConfiguration's LoggingConfig and reports
    none; AWS reports `{LogFormat: Text, LogGroup: /aws/lambda/<name>}` by default."""
    from moto.awslambda.models import LambdaFunction

    init = LambdaFunction.__init__
    get_configuration = LambdaFunction.get_configuration
    update_configuration = LambdaFunction.update_configuration

    def __init__(self: Any, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        spec = kw.get("spec", args[0] if args else {}) or {}
        self._localaws_logging = dict(spec.get("LoggingConfig") or {})

    def get_config(self: Any, *args: Any, **kw: Any) -> dict[str, Any]:
        config = get_configuration(self, *args, **kw)
        logging = getattr(self, "_localaws_logging", {}) or {}
        config["LoggingConfig"] = {
            "LogFormat": logging.get("LogFormat", "Text"),
            "LogGroup": logging.get("LogGroup") or f"/aws/lambda/{self.function_name}",
        }
        return config

    def update(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in updates:
            self._localaws_logging = dict(updates["LoggingConfig"] or {})
        return update_configuration(self, updates)

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_config  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update  # type: ignore[method-assign]


def s3_empty_notification_answer() -> None:
    """GetBucketNotificationConfiguration of a bucket without notifications answers an empty
    `NotificationConfiguration` element on AWS
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html).
    moto 5.2.5 answers `<GetBucketNotificationResponse/>`, a root element the Rust SDK refuses
    to read, so no bucket without notifications could be read back."""
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config:
            return original(self)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
        )
        return 200, {"Content-Type": "application/xml"}, body

    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]


def patch_moto() -> None:
    moto_logging_config()
    s3_empty_notification_answer()


RULES.update(
    {
        ("lambda", "AddPermission"): Rule("lambda", "AddPermission", add_permission),
        **{("s3", op): Rule("s3", op, content_md5) for op in ("PutObject", "UploadPart")},
        # The request matches the older PutBucketNotification too (same method and path).
        **{
            ("s3", op): Rule("s3", op, put_bucket_notification)
            for op in ("PutBucketNotificationConfiguration", "PutBucketNotification")
        },
        **{
            ("ec2", op): _releasing_first(op)
            for op in (
                "DeleteSubnet",
                "DeleteSecurityGroup",
                "DeleteVpc",
                "DescribeNetworkInterfaces",
            )
        },
    }
)
