"""Lambda: the network interfaces AWS puts in a VPC for a function, held after the function is
deleted; a duplicate permission statement id refused; LoggingConfig kept. Each refusal exactly
as AWS answers it (code, HTTP status, message)."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from test_rules import network, refused

ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def package() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return out.getvalue()


def function(aws, name: str = "f", **extra):
    role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=ROLE_POLICY)
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": package()},
        **extra,
    )


def lambda_enis(ec2, name: str):
    return ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"AWS Lambda VPC ENI-{name}-*"]}]
    )["NetworkInterfaces"]


def test_a_vpc_function_holds_its_subnets_and_groups_after_deletion(aws):
    # AWS keeps a VPC function's (Hyperplane) interfaces for up to tens of minutes after the
    # function is deleted; DeleteSubnet / DeleteSecurityGroup meanwhile: 400 DependencyViolation
    # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
    aws.configure(lambda_eni_hold_s=1.0)
    ec2 = aws.client("ec2")
    vpc, subnets = network(ec2, 2)
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    function(aws, VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [sg]})
    enis = lambda_enis(ec2, "f")
    assert sorted(e["SubnetId"] for e in enis) == sorted(subnets)
    assert all(e["RequesterManaged"] and [g["GroupId"] for g in e["Groups"]] == [sg] for e in enis)
    aws.client("lambda").delete_function(FunctionName="f")
    refused(
        lambda: ec2.delete_subnet(SubnetId=subnets[0]),
        "DependencyViolation",
        400,
        f"The subnet '{subnets[0]}' has dependencies and cannot be deleted.",
    )
    refused(lambda: ec2.delete_security_group(GroupId=sg), "DependencyViolation", 400)
    assert len(lambda_enis(ec2, "f")) == 2
    time.sleep(1.1)
    assert lambda_enis(ec2, "f") == []
    for s in subnets:
        ec2.delete_subnet(SubnetId=s)
    ec2.delete_security_group(GroupId=sg)


def test_leaving_a_subnet_holds_its_interface_and_places_new_ones(aws):
    aws.configure(lambda_eni_hold_s=60.0)
    ec2 = aws.client("ec2")
    vpc, subnets = network(ec2, 2)
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    function(aws, VpcConfig={"SubnetIds": subnets[:1], "SecurityGroupIds": [sg]})
    aws.client("lambda").update_function_configuration(
        FunctionName="f", VpcConfig={"SubnetIds": subnets[1:], "SecurityGroupIds": [sg]}
    )
    # The old interface is still held; the new subnet has its own.
    assert sorted(e["SubnetId"] for e in lambda_enis(ec2, "f")) == sorted(subnets)
    refused(lambda: ec2.delete_subnet(SubnetId=subnets[0]), "DependencyViolation", 400)
    aws.configure(lambda_eni_hold_s=0)


def test_a_function_outside_a_vpc_has_no_interfaces(aws):
    function(aws)
    assert aws.client("ec2").describe_network_interfaces()["NetworkInterfaces"] == []


def test_a_duplicate_statement_id_is_refused(aws):
    # https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html: 409
    # ResourceConflictException; moto adds a second statement of that id.
    function(aws)
    lam = aws.client("lambda")
    add = dict(
        FunctionName="f",
        StatementId="api",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
    )
    lam.add_permission(**add)
    refused(
        lambda: lam.add_permission(**add),
        "ResourceConflictException",
        409,
        "The statement id (api) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
    )
    lam.add_permission(**{**add, "StatementId": "s3", "Principal": "s3.amazonaws.com"})
    policy = json.loads(lam.get_policy(FunctionName="f")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["api", "s3"]


@pytest.mark.parametrize("given", [None, "/app/f"])
def test_logging_config_is_kept(aws, given):
    extra = {"LoggingConfig": {"LogGroup": given}} if given else {}
    function(aws, **extra)
    got = aws.client("lambda").get_function_configuration(FunctionName="f")["LoggingConfig"]
    assert got["LogGroup"] == (given or "/aws/lambda/f")
    aws.client("lambda").update_function_configuration(
        FunctionName="f", LoggingConfig={"LogGroup": "/app/other"}
    )
    got = aws.client("lambda").list_functions()["Functions"][0]["LoggingConfig"]
    assert got["LogGroup"] == "/app/other"


def test_a_bucket_notification_needs_the_functions_permission_for_s3(aws):
    # S3 validates each destination when the configuration is put; a function must let
    # s3.amazonaws.com invoke it (for this bucket, if the statement names one). moto 5.2.5
    # took any function ARN.
    fn = function(aws, "scan")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="uploads")
    config = {
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": fn["FunctionArn"], "Events": ["s3:ObjectCreated:*"]}
        ]
    }

    def put():
        return s3.put_bucket_notification_configuration(
            Bucket="uploads", NotificationConfiguration=config
        )

    refused(put, "InvalidArgument", 400, "Unable to validate the following destination configurations")
    lam = aws.client("lambda")
    lam.add_permission(
        FunctionName="scan",
        StatementId="other-bucket",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::someone-elses",
    )
    refused(put, "InvalidArgument", 400, "Unable to validate the following destination configurations")
    lam.add_permission(
        FunctionName="scan",
        StatementId="uploads",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
    )
    put()
    got = s3.get_bucket_notification_configuration(Bucket="uploads")
    assert got["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == fn["FunctionArn"]
    # An empty configuration (no destination) is always taken.
    s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={})


def test_an_object_body_must_match_its_content_md5(aws):
    # S3 answers 400 BadDigest when the body differs from the Content-MD5 sent with it, and
    # InvalidDigest when the header is no MD5; a presigned PUT that signs the MD5 in gets the
    # same check (seed 003's end-to-end MD5 validation). moto 5.2.5 stored any body.
    import base64
    import hashlib
    import urllib.error
    import urllib.request

    s3 = aws.client("s3")
    s3.create_bucket(Bucket="documents")
    body = b"quarterly report\n"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket="documents", Key="ok.txt", Body=body, ContentMD5=md5)
    refused(
        lambda: s3.put_object(Bucket="documents", Key="bad.txt", Body=b"tampered\n", ContentMD5=md5),
        "BadDigest",
        400,
    )
    refused(
        lambda: s3.put_object(Bucket="documents", Key="bad.txt", Body=body, ContentMD5="bm90LWFuLW1kNQ=="),
        "InvalidDigest",
        400,
    )
    # SigV4, as the portal's upload_url signs (Content-MD5 among the signed headers).
    url = aws.client("s3", signature_version="s3v4").generate_presigned_url(
        "put_object", Params={"Bucket": "documents", "Key": "up.txt", "ContentMD5": md5}
    )

    def put(data: bytes) -> int:
        req = urllib.request.Request(
            url, data=data, method="PUT", headers={"Content-MD5": md5, "Content-Type": "text/plain"}
        )
        try:
            with urllib.request.urlopen(req) as answer:
                return answer.status
        except urllib.error.HTTPError as e:
            assert b"BadDigest" in e.read()
            return e.code

    assert put(b"tampered\n") == 400
    assert put(body) == 200
    assert s3.get_object(Bucket="documents", Key="up.txt")["Body"].read() == body
    assert "Contents" not in s3.list_objects_v2(Bucket="documents", Prefix="bad")
