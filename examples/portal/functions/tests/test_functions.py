"""The portal's functions against a local S3 (moto's server on a free port), uploads over real HTTP.

What moto 5.2.5 does not enforce for a presigned SigV4 PUT: the signature (a forged or expired
one is accepted), the signed headers (a PUT without Content-MD5 or x-amz-meta-md5 is accepted)
and Content-MD5 itself (a body that does not match it is stored: no BadDigest). The tests that
touch those assert what holds either way: such an upload never reaches documents/ (AWS refuses
it at the PUT; here verify_upload rejects it).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, quote_plus, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

FUNCTIONS = Path(__file__).resolve().parent.parent
BUCKET = "portal-documents-test"
MIB = 1024 * 1024


def _load(name: str) -> ModuleType:
    """Imports functions/<name>/<name>.py without writing __pycache__ there: rprov packages every
    file of the directory, so a stray .pyc would change the function's code hash."""
    spec = importlib.util.spec_from_file_location(f"portal_{name}", FUNCTIONS / name / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = before
    return module


@pytest.fixture(scope="session")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def functions(endpoint):
    """The two modules, imported once their module-level clients would reach the local S3 only."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("BUCKET", BUCKET)
        yield _load("upload_url"), _load("verify_upload")


@pytest.fixture()
def s3(functions, endpoint):
    """A test's client, on an emptied local S3 holding only the portal's bucket."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture()
def upload_url(functions):
    return functions[0]


@pytest.fixture()
def verify_upload(functions):
    return functions[1]


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def ask(upload_url: ModuleType, body: object, **event: object) -> tuple[int, dict]:
    """POST /uploads through the function as the HTTP API calls it; (status, JSON body)."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    answer = upload_url.handler({"version": "2.0", "routeKey": "POST /uploads", "body": body, **event}, None)
    assert answer["headers"]["Content-Type"] == "application/json"
    return answer["statusCode"], json.loads(answer["body"])


def put(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """A browser's PUT of the file. The Content-Type is explicit, as a browser sends the file's:
    urllib would default to a form type, whose body moto's server parses away."""
    request = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream", **headers}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def created(*keys: str, bucket: str = BUCKET, event_name: str = "ObjectCreated:Put") -> dict:
    """An S3 notification for those keys, URL-encoded as S3 sends them."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": event_name,
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/")}},
            }
            for key in keys
        ]
    }


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def body(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def logged(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def uploaded(s3, key: str, data: bytes, md5: str | None, **extra) -> None:
    """An object as an upload leaves it: `md5` is its x-amz-meta-md5 (None: none sent)."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, Metadata={} if md5 is None else {"md5": md5}, **extra)


def multipart(s3, key: str, parts: list[bytes], md5: str) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType="application/pdf", Metadata={"md5": md5})
    done = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=part)[
                "ETag"
            ],
        }
        for n, part in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done})


# --- upload_url ----------------------------------------------------------------------------------


def test_upload_url_answers_a_url_that_signs_both_md5_headers(s3, upload_url):
    md5 = b64md5(b"%PDF-1.7 quarterly report")
    status, answer = ask(upload_url, {"name": "report.pdf", "md5": md5})
    assert status == 200
    assert answer["method"] == "PUT"
    assert answer["headers"] == {"Content-MD5": md5, "x-amz-meta-md5": md5}
    assert answer["expires_in"] == 900
    assert re.fullmatch(
        r"uploads/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/report\.pdf", answer["key"]
    )
    url = urlsplit(answer["url"])
    assert url.path == f"/{BUCKET}/{answer['key']}"
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-SignedHeaders"].split(";") == ["content-md5", "host", "x-amz-meta-md5"]


def test_upload_url_reads_a_base64_encoded_body_and_its_environment(s3, upload_url, monkeypatch):
    monkeypatch.setenv("PREFIX", "incoming/")
    monkeypatch.setenv("URL_TTL_SECONDS", "60")
    request = base64.b64encode(json.dumps({"name": "a.txt", "md5": b64md5(b"a")}).encode()).decode()
    status, answer = ask(upload_url, request, isBase64Encoded=True)
    assert status == 200
    assert answer["key"].startswith("incoming/") and answer["key"].endswith("/a.txt")
    assert answer["expires_in"] == 60
    assert "X-Amz-Expires=60" in answer["url"]


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        (None, "`name`"),
        ("", "`name`"),
        ("not json", "not JSON"),
        ([1, 2], "not a JSON object"),
        ({"md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "`name`"),
        ({"name": "../etc/passwd", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "`name`"),
        ({"name": "my report.pdf", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "`name`"),
        ({"name": ".hidden", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "`name`"),
        ({"name": "a" * 201, "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "`name`"),
        ({"name": 7, "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "`name`"),
        ({"name": "a.pdf"}, "`md5`"),
        ({"name": "a.pdf", "md5": "d41d8cd98f00b204e9800998ecf8427e"}, "`md5`"),  # hex, not base64
        ({"name": "a.pdf", "md5": "not base64!"}, "`md5`"),
        ({"name": "a.pdf", "md5": base64.b64encode(bytes(15)).decode()}, "`md5`"),
        ({"name": "a.pdf", "md5": 16}, "`md5`"),
    ],
)
def test_upload_url_refuses_a_bad_request_with_the_reason(s3, upload_url, request_body, error):
    status, answer = ask(upload_url, request_body)
    assert status == 400
    assert error in answer["error"]


# --- the upload itself (presigned PUT over HTTP) -------------------------------------------------


def test_a_put_with_the_signed_headers_and_the_right_body_is_stored(s3, upload_url):
    data = b"%PDF-1.7 the real document"
    _, answer = ask(upload_url, {"name": "report.pdf", "md5": b64md5(data)})
    status, text = put(answer["url"], data, answer["headers"])
    assert status == 200, text
    head = s3.head_object(Bucket=BUCKET, Key=answer["key"])
    assert head["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert head["Metadata"] == {"md5": b64md5(data)}
    assert body(s3, answer["key"]) == data


def test_a_body_that_does_not_match_its_md5_never_reaches_documents(s3, upload_url, verify_upload):
    data = b"%PDF-1.7 the real document"
    _, answer = ask(upload_url, {"name": "report.pdf", "md5": b64md5(data)})
    status, text = put(answer["url"], b"%PDF-1.7 tampered on the way", answer["headers"])
    if status != 200:  # AWS: S3 checks the body against Content-MD5
        assert status == 400 and "BadDigest" in text
        assert keys(s3) == []
        return
    # moto stores it: verify_upload is the check that remains
    [result] = verify_upload.handler(created(answer["key"]), None)["results"]
    assert result["outcome"] == "rejected" and "is not the recorded" in result["reason"]
    assert keys(s3) == ["rejected/" + answer["key"].removeprefix("uploads/")]


@pytest.mark.parametrize("sent", [{}, {"Content-MD5"}, {"x-amz-meta-md5"}])
def test_a_put_without_the_signed_headers_never_reaches_documents(s3, upload_url, verify_upload, sent):
    data = b"%PDF-1.7 the real document"
    _, answer = ask(upload_url, {"name": "report.pdf", "md5": b64md5(data)})
    status, text = put(answer["url"], data, {k: v for k, v in answer["headers"].items() if k in sent})
    if status != 200:  # AWS: a signed header missing is a signature that does not match
        assert status == 403 and "SignatureDoesNotMatch" in text
        assert keys(s3) == []
        return
    # moto does not check signatures; without x-amz-meta-md5 there is no MD5 to check against
    [result] = verify_upload.handler(created(answer["key"]), None)["results"]
    if "x-amz-meta-md5" in sent:
        assert result["outcome"] == "accepted"  # the body is right: only Content-MD5's check was skipped
    else:
        assert result["outcome"] == "rejected" and "no x-amz-meta-md5" in result["reason"]
        assert keys(s3) == ["rejected/" + answer["key"].removeprefix("uploads/")]


# --- verify_upload -------------------------------------------------------------------------------


def test_a_good_upload_moves_to_documents_with_its_metadata(s3, upload_url, verify_upload, capsys):
    data = b"%PDF-1.7 the real document"
    _, answer = ask(upload_url, {"name": "report.pdf", "md5": b64md5(data)})
    assert put(answer["url"], data, {"Content-Type": "application/pdf", **answer["headers"]})[0] == 200
    capsys.readouterr()
    result = verify_upload.handler(created(answer["key"]), None)
    target = "documents/" + answer["key"].removeprefix("uploads/")
    assert result == {"results": [{"key": answer["key"], "outcome": "accepted", "to": target}]}
    assert keys(s3) == [target]
    assert body(s3, target) == data
    head = s3.head_object(Bucket=BUCKET, Key=target)
    assert head["Metadata"] == {"md5": b64md5(data)} and head["ContentType"] == "application/pdf"
    [line] = logged(capsys)
    assert line == {
        "level": "INFO",
        "message": "accepted",
        "bucket": BUCKET,
        "key": answer["key"],
        "to": target,
        "size": len(data),
        "checked_by": "etag",
    }


def test_a_tampered_upload_moves_to_rejected_and_the_reason_is_logged(s3, verify_upload, capsys):
    uploaded(s3, "uploads/u1/report.pdf", b"tampered", b64md5(b"original"))
    result = verify_upload.handler(created("uploads/u1/report.pdf"), None)
    [entry] = result["results"]
    assert entry["outcome"] == "rejected" and entry["to"] == "rejected/u1/report.pdf"
    assert keys(s3) == ["rejected/u1/report.pdf"]
    assert body(s3, "rejected/u1/report.pdf") == b"tampered"
    [line] = logged(capsys)
    assert line["level"] == "WARNING" and line["message"] == "rejected" and line["checked_by"] == "etag"
    tampered, original = hashlib.md5(b"tampered").hexdigest(), hashlib.md5(b"original").hexdigest()
    assert line["reason"] == f"the body's MD5 {tampered} is not the recorded {original}"


@pytest.mark.parametrize(
    ("md5", "reason"),
    [
        (None, "no x-amz-meta-md5 was uploaded with the object"),
        ("d41d8cd98f00b204e9800998ecf8427e", "x-amz-meta-md5 is not the base64 of a 16-byte MD5"),
        ("!!", "x-amz-meta-md5 is not the base64 of a 16-byte MD5"),
    ],
)
def test_an_upload_without_a_usable_md5_moves_to_rejected(s3, verify_upload, capsys, md5, reason):
    uploaded(s3, "uploads/u2/notes.txt", b"notes", md5)
    [entry] = verify_upload.handler(created("uploads/u2/notes.txt"), None)["results"]
    assert entry == {
        "key": "uploads/u2/notes.txt",
        "outcome": "rejected",
        "to": "rejected/u2/notes.txt",
        "reason": reason,
    }
    assert keys(s3) == ["rejected/u2/notes.txt"]
    [line] = logged(capsys)
    assert line["reason"] == reason and line["checked_by"] is None


def test_a_redelivered_event_is_a_no_op(s3, verify_upload, capsys):
    uploaded(s3, "uploads/u3/good.txt", b"good", b64md5(b"good"))
    uploaded(s3, "uploads/u3/bad.txt", b"bad", b64md5(b"other"))
    event = created("uploads/u3/good.txt", "uploads/u3/bad.txt")
    first = verify_upload.handler(event, None)["results"]
    assert [r["outcome"] for r in first] == ["accepted", "rejected"]
    after = {key: s3.head_object(Bucket=BUCKET, Key=key)["LastModified"] for key in keys(s3)}
    capsys.readouterr()
    again = verify_upload.handler(event, None)["results"]
    assert [r["outcome"] for r in again] == ["skipped", "skipped"]
    assert all(r["reason"] == "the object is gone: already moved" for r in again)
    assert {key: s3.head_object(Bucket=BUCKET, Key=key)["LastModified"] for key in keys(s3)} == after
    assert sorted(after) == ["documents/u3/good.txt", "rejected/u3/bad.txt"]
    assert [line["message"] for line in logged(capsys)] == ["skipped", "skipped"]


@pytest.mark.parametrize("name", ["my report.pdf", "a+b=c.txt", "100% sure & done?.txt", "résumé (v2).pdf"])
def test_url_encoded_keys_are_decoded(s3, verify_upload, name):
    key = f"uploads/u4/{name}"
    uploaded(s3, key, b"content", b64md5(b"content"))
    event = created(key)
    assert " " not in event["Records"][0]["s3"]["object"]["key"]  # as S3 sends it: a space is "+"
    [entry] = verify_upload.handler(event, None)["results"]
    assert entry == {"key": key, "outcome": "accepted", "to": f"documents/u4/{name}"}
    assert keys(s3) == [f"documents/u4/{name}"]


def test_a_multipart_upload_is_read_and_hashed(s3, verify_upload, capsys):
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    data = b"".join(parts)
    multipart(s3, "uploads/u5/big.pdf", parts, b64md5(data))
    assert s3.head_object(Bucket=BUCKET, Key="uploads/u5/big.pdf")["ETag"].endswith('-2"')
    [entry] = verify_upload.handler(
        created("uploads/u5/big.pdf", event_name="ObjectCreated:CompleteMultipartUpload"), None
    )["results"]
    assert entry["outcome"] == "accepted"
    assert body(s3, "documents/u5/big.pdf") == data
    assert logged(capsys)[-1]["checked_by"] == "read"


def test_a_tampered_multipart_upload_is_rejected(s3, verify_upload):
    parts = [os.urandom(5 * MIB), b"tail"]
    multipart(s3, "uploads/u6/big.pdf", parts, b64md5(parts[0] + b"other tail"))
    [entry] = verify_upload.handler(created("uploads/u6/big.pdf"), None)["results"]
    assert entry["outcome"] == "rejected"
    assert entry["reason"].startswith(f"the body's MD5 {hashlib.md5(b''.join(parts)).hexdigest()} is not")
    assert keys(s3) == ["rejected/u6/big.pdf"]


def test_an_object_over_the_copy_limit_is_copied_part_by_part(s3, verify_upload, monkeypatch):
    monkeypatch.setattr(verify_upload, "_COPY_LIMIT", 8 * MIB)
    monkeypatch.setattr(verify_upload, "_PART_SIZE", 5 * MIB)
    data = os.urandom(12 * MIB + 7)
    uploaded(
        s3, "uploads/u7/huge.bin", data, b64md5(data), ContentType="application/zip", ContentDisposition="attachment"
    )
    [entry] = verify_upload.handler(created("uploads/u7/huge.bin"), None)["results"]
    assert entry["outcome"] == "accepted"
    assert keys(s3) == ["documents/u7/huge.bin"]
    head = s3.head_object(Bucket=BUCKET, Key="documents/u7/huge.bin")
    assert head["ETag"].endswith('-3"')  # 5 + 5 + 2 MiB
    assert head["Metadata"] == {"md5": b64md5(data)}
    assert (head["ContentType"], head["ContentDisposition"]) == ("application/zip", "attachment")
    assert body(s3, "documents/u7/huge.bin") == data
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_part_by_part_copy_that_fails_is_aborted(s3, verify_upload, monkeypatch):
    monkeypatch.setattr(verify_upload, "_COPY_LIMIT", 8 * MIB)
    monkeypatch.setattr(verify_upload, "_PART_SIZE", 5 * MIB)
    data = os.urandom(12 * MIB)
    uploaded(s3, "uploads/u12/huge.bin", data, b64md5(data))
    copy_part = verify_upload._S3.upload_part_copy

    def fails_at_part_2(**kwargs):
        if kwargs["PartNumber"] == 2:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "We encountered an internal error."}}, "UploadPartCopy"
            )
        return copy_part(**kwargs)

    monkeypatch.setattr(verify_upload._S3, "upload_part_copy", fails_at_part_2)
    with pytest.raises(RuntimeError, match="1 of 1 records failed"):
        verify_upload.handler(created("uploads/u12/huge.bin"), None)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert keys(s3) == ["uploads/u12/huge.bin"]


def test_an_sse_kms_object_is_read_since_its_etag_is_no_md5(s3, verify_upload, capsys):
    uploaded(s3, "uploads/u8/secret.txt", b"secret", b64md5(b"secret"), ServerSideEncryption="aws:kms")
    [entry] = verify_upload.handler(created("uploads/u8/secret.txt"), None)["results"]
    assert entry["outcome"] == "accepted"
    assert logged(capsys)[-1]["checked_by"] == "read"


def test_records_it_must_not_touch_are_skipped(s3, verify_upload, monkeypatch):
    uploaded(s3, "documents/u9/done.txt", b"done", b64md5(b"done"))
    uploaded(s3, "uploads/u9/other-bucket.txt", b"x", b64md5(b"x"))
    uploaded(s3, "uploads/u9/removed.txt", b"x", b64md5(b"x"))
    events = [
        created("documents/u9/done.txt"),  # its own copy, were the notification not filtered
        created("uploads/"),
        created("uploads/u9/other-bucket.txt", bucket="another-bucket"),
        created("uploads/u9/removed.txt", event_name="ObjectRemoved:Delete"),
    ]
    before = keys(s3)
    results = [r for e in events for r in verify_upload.handler(e, None)["results"]]
    assert [r["outcome"] for r in results] == ["skipped"] * 4
    assert [r["reason"] for r in results] == [
        "outside uploads/",
        "outside uploads/",
        "not the configured bucket",
        "not an object creation: ObjectRemoved:Delete",
    ]
    assert keys(s3) == before
    assert verify_upload.handler({"Service": "Amazon S3", "Event": "s3:TestEvent"}, None) == {"results": []}


def test_the_bucket_and_prefixes_come_from_the_environment(s3, verify_upload, monkeypatch):
    monkeypatch.delenv("BUCKET")
    monkeypatch.setenv("UPLOADS_PREFIX", "in/")
    monkeypatch.setenv("DOCUMENTS_PREFIX", "ok/")
    monkeypatch.setenv("REJECTED_PREFIX", "quarantine/")
    uploaded(s3, "in/a/good.txt", b"good", b64md5(b"good"))
    uploaded(s3, "in/a/bad.txt", b"bad", None)
    results = verify_upload.handler(created("in/a/good.txt", "in/a/bad.txt"), None)["results"]
    assert [(r["outcome"], r["to"]) for r in results] == [
        ("accepted", "ok/a/good.txt"),
        ("rejected", "quarantine/a/bad.txt"),
    ]
    assert keys(s3) == ["ok/a/good.txt", "quarantine/a/bad.txt"]


def test_an_error_fails_the_invocation_after_the_other_records(s3, verify_upload, monkeypatch, capsys):
    uploaded(s3, "uploads/u10/first.txt", b"first", b64md5(b"first"))
    uploaded(s3, "uploads/u10/second.txt", b"second", b64md5(b"second"))
    copy = verify_upload._S3.copy_object

    def throttled_once(**kwargs):
        if kwargs["Key"] == "documents/u10/first.txt":
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "CopyObject"
            )
        return copy(**kwargs)

    monkeypatch.setattr(verify_upload._S3, "copy_object", throttled_once)
    event = created("uploads/u10/first.txt", "uploads/u10/second.txt")
    with pytest.raises(RuntimeError, match="1 of 2 records failed"):
        verify_upload.handler(event, None)
    assert keys(s3) == ["documents/u10/second.txt", "uploads/u10/first.txt"]
    failed = [line for line in logged(capsys) if line["level"] == "ERROR"]
    assert [(line["key"], "SlowDown" in line["error"]) for line in failed] == [("uploads/u10/first.txt", True)]
    monkeypatch.undo()
    # Lambda's retry: the record that failed is done now, the other is skipped
    results = verify_upload.handler(event, None)["results"]
    assert [r["outcome"] for r in results] == ["accepted", "skipped"]
    assert keys(s3) == ["documents/u10/first.txt", "documents/u10/second.txt"]


def test_an_object_replaced_after_its_check_is_left_to_its_own_event(s3, verify_upload, monkeypatch):
    # SSE-KMS: the body is read (GetObject If-Match on the checked ETag; moto enforces that one,
    # not CopyObject's x-amz-copy-source-if-match)
    uploaded(s3, "uploads/u11/doc.txt", b"first", b64md5(b"first"), ServerSideEncryption="aws:kms")
    head = verify_upload._S3.head_object

    def replaced_meanwhile(**kwargs):
        answer = head(**kwargs)
        uploaded(s3, "uploads/u11/doc.txt", b"second", b64md5(b"second"), ServerSideEncryption="aws:kms")
        return answer

    monkeypatch.setattr(verify_upload._S3, "head_object", replaced_meanwhile)
    [entry] = verify_upload.handler(created("uploads/u11/doc.txt"), None)["results"]
    assert entry["outcome"] == "skipped"
    assert entry["reason"] == "the object was replaced after it was checked: its own event checks it"
    assert keys(s3) == ["uploads/u11/doc.txt"]
    monkeypatch.undo()
    # the replacement's own event
    [entry] = verify_upload.handler(created("uploads/u11/doc.txt"), None)["results"]
    assert entry["outcome"] == "accepted" and body(s3, "documents/u11/doc.txt") == b"second"
