"""Checks each upload's MD5 and moves it to documents/ or rejected/.

Triggered by S3 `s3:ObjectCreated:*` notifications for keys under uploads/. The MD5 the client
declared is the object's `x-amz-meta-md5` metadata (base64, as Content-MD5 carries it), which
upload_url signs into the presigned URL next to Content-MD5. The body's MD5 is the ETag when
that is one (a single-part upload, unencrypted or SSE-S3); otherwise (a multipart ETag
`<hex>-<parts>`, SSE-KMS, SSE-C) the object is read and hashed.

  the MD5s agree     -> copied to DOCUMENTS_PREFIX + the rest of the key, then deleted
  they differ, or no usable x-amz-meta-md5 -> moved to REJECTED_PREFIX likewise, the reason logged

S3 delivers events at least once: a key that is gone (already moved) is skipped without error,
and so is an object replaced since it was checked (its own event checks the new one). Every
outcome is one JSON log line. An error (throttling, access) fails the invocation once the other
records are handled, so Lambda retries it; the records already moved are then skipped.

Environment: BUCKET (default: each record's bucket; records of another bucket are skipped),
UPLOADS_PREFIX (default "uploads/"; keys outside it are skipped), DOCUMENTS_PREFIX (default
"documents/"), REJECTED_PREFIX (default "rejected/").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

_S3 = boto3.client("s3")
# CopyObject copies at most 5 GiB; a larger object is copied part by part (UploadPartCopy), in
# parts of 1 GiB (at most 10,000 parts: objects up to S3's 5 TiB limit).
_COPY_LIMIT = 5 * 1024**3
_PART_SIZE = 1024**3
_READ_CHUNK = 1024 * 1024
_GONE = {"404", "NoSuchKey", "NotFound"}
_CHANGED = {"412", "PreconditionFailed"}
_HEADERS_KEPT = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType")


class _Skip(Exception):
    """The record needs no work: why."""


def _log(level: str, message: str, **fields: object) -> None:
    print(json.dumps({"level": level, "message": message, **fields}), flush=True)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _recorded_md5(head: dict) -> tuple[str | None, str | None]:
    """(hex MD5 the client declared, None) or (None, why there is none)."""
    value = head.get("Metadata", {}).get("md5")
    if value is None:
        return None, "no x-amz-meta-md5 was uploaded with the object"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        return None, "x-amz-meta-md5 is not the base64 of a 16-byte MD5"
    return raw.hex(), None


def _body_md5(bucket: str, key: str, head: dict) -> tuple[str, str]:
    """(hex MD5 of the object's body, how it was found: "etag" or "read")."""
    etag = head["ETag"].strip('"').lower()
    plain = head.get("ServerSideEncryption", "AES256") == "AES256" and "SSECustomerAlgorithm" not in head
    if "-" not in etag and plain:
        return etag, "etag"
    digest = hashlib.md5(usedforsecurity=False)
    body = _S3.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])["Body"]
    for chunk in body.iter_chunks(_READ_CHUNK):
        digest.update(chunk)
    return digest.hexdigest(), "read"


def _copy(bucket: str, key: str, target: str, head: dict) -> None:
    """Copies the object that `head` describes (not a newer one: If-Match on its ETag)."""
    source = {"Bucket": bucket, "Key": key}
    size = head["ContentLength"]
    if size <= _COPY_LIMIT:
        _S3.copy_object(
            Bucket=bucket,
            Key=target,
            CopySource=source,
            CopySourceIfMatch=head["ETag"],
            MetadataDirective="COPY",
        )
        return
    kept = {name: head[name] for name in _HEADERS_KEPT if name in head}
    upload = _S3.create_multipart_upload(Bucket=bucket, Key=target, Metadata=head.get("Metadata", {}), **kept)
    try:
        parts = []
        for number, start in enumerate(range(0, size, _PART_SIZE), start=1):
            end = min(start + _PART_SIZE, size) - 1
            part = _S3.upload_part_copy(
                Bucket=bucket,
                Key=target,
                UploadId=upload["UploadId"],
                PartNumber=number,
                CopySource=source,
                CopySourceIfMatch=head["ETag"],
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": part["CopyPartResult"]["ETag"]})
        _S3.complete_multipart_upload(
            Bucket=bucket, Key=target, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
    except Exception:
        _S3.abort_multipart_upload(Bucket=bucket, Key=target, UploadId=upload["UploadId"])
        raise


def _verify(bucket: str, key: str, rest: str) -> dict:
    try:
        head = _S3.head_object(Bucket=bucket, Key=key)
        expected, reason = _recorded_md5(head)
        checked_by = None
        if expected is not None:
            actual, checked_by = _body_md5(bucket, key, head)
            if actual != expected:
                reason = f"the body's MD5 {actual} is not the recorded {expected}"
        if reason is None:
            target = os.environ.get("DOCUMENTS_PREFIX", "documents/") + rest
        else:
            target = os.environ.get("REJECTED_PREFIX", "rejected/") + rest
        _copy(bucket, key, target, head)
        # An object PUT again since the copy goes too: upload_url's URL takes only the same bytes
        # again (their MD5 is signed), and a versioned bucket keeps the version.
        _S3.delete_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _code(error) in _GONE:
            raise _Skip("the object is gone: already moved") from None
        if _code(error) in _CHANGED:
            raise _Skip("the object was replaced after it was checked: its own event checks it") from None
        raise
    fields = {"bucket": bucket, "key": key, "to": target, "size": head["ContentLength"], "checked_by": checked_by}
    if reason is None:
        _log("INFO", "accepted", **fields)
        return {"key": key, "outcome": "accepted", "to": target}
    _log("WARNING", "rejected", **fields, reason=reason)
    return {"key": key, "outcome": "rejected", "to": target, "reason": reason}


def _key(record: dict) -> str:
    """The record's object key, decoded (event keys are URL-encoded, a space as `+`)."""
    return unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))


def _handle(record: dict) -> dict:
    bucket, key = record["s3"]["bucket"]["name"], _key(record)
    uploads = os.environ.get("UPLOADS_PREFIX", "uploads/")
    try:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            raise _Skip(f"not an object creation: {record.get('eventName')}")
        if bucket != (os.environ.get("BUCKET") or bucket):
            raise _Skip("not the configured bucket")
        if not key.startswith(uploads) or key == uploads:
            raise _Skip(f"outside {uploads}")
        return _verify(bucket, key, key[len(uploads) :])
    except _Skip as skip:
        _log("INFO", "skipped", bucket=bucket, key=key, reason=str(skip))
        return {"key": key, "outcome": "skipped", "reason": str(skip)}


def handler(event: dict, context: object) -> dict:
    records = event.get("Records") or []
    results, failed = [], 0
    for record in records:
        try:
            results.append(_handle(record))
        except Exception as error:  # noqa: BLE001 -- the other records are still handled; the invocation fails below
            failed += 1
            _log("ERROR", "failed", key=_key(record), error=repr(error))
    if failed:
        raise RuntimeError(f"{failed} of {len(records)} records failed (logged); the event is retried")
    return {"results": results}
