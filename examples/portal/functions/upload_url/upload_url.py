"""Presigned S3 PUT URLs that require the client's Content-MD5.

POST {"name": "report.pdf", "md5": "<base64 of the file's 16-byte MD5>"} (an HTTP API's Lambda
proxy event, payload format 2.0) answers {"url": ..., "method": "PUT", "headers":
{"Content-MD5": ..., "x-amz-meta-md5": ...}, "key": ..., "expires_in": ...}. Both headers carry
the MD5 and both are signed into the URL (SigV4): the upload must send exactly those headers (or
the signature does not match), S3 checks the body against Content-MD5 (BadDigest when the bytes
differ), and x-amz-meta-md5 stays with the object as its `md5` metadata, which verify_upload
checks again before the object reaches documents/. The file is validated from the browser to the
bucket.

Environment: BUCKET (required), PREFIX (default "uploads/"), URL_TTL_SECONDS (default 900).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import uuid

import boto3
from botocore.config import Config

# SigV4 always: for presigned S3 URLs boto3 otherwise picks the legacy SigV2 in the regions that
# still accept it. SigV4 lists the headers the upload must send (X-Amz-SignedHeaders).
_S3 = boto3.client("s3", config=Config(signature_version="s3v4"))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _answer(status: int, body: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body),
    }


def _md5(value: object) -> str | None:
    """The base64 form of a 16-byte MD5, as Content-MD5 carries it; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return value if len(raw) == 16 else None


def handler(event: dict, context: object) -> dict:
    try:
        body = event.get("body") or "{}"
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _answer(400, {"error": "the body is not JSON"})
    if not isinstance(request, dict):
        return _answer(400, {"error": "the body is not a JSON object"})
    name = request.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        return _answer(400, {"error": "`name`: letters, digits, '.', '_', '-' (1 to 200)"})
    md5 = _md5(request.get("md5"))
    if md5 is None:
        return _answer(400, {"error": "`md5`: the base64 of the file's 16-byte MD5 digest"})
    ttl = int(os.environ.get("URL_TTL_SECONDS", "900"))
    key = f"{os.environ.get('PREFIX', 'uploads/')}{uuid.uuid4()}/{name}"
    url = _S3.generate_presigned_url(
        "put_object",
        Params={"Bucket": os.environ["BUCKET"], "Key": key, "ContentMD5": md5, "Metadata": {"md5": md5}},
        ExpiresIn=ttl,
        HttpMethod="PUT",
    )
    return _answer(
        200,
        {
            "url": url,
            "method": "PUT",
            "headers": {"Content-MD5": md5, "x-amz-meta-md5": md5},
            "key": key,
            "expires_in": ttl,
        },
    )
