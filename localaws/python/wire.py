"""What a request is on the wire, and how AWS answers errors on the wire.

`identify` turns a WSGI request into (service, operation, region, protocol, params).
`error_body` renders an error exactly in the shape the request's protocol uses on AWS,
so that an SDK's own error parsing and retry classification are what gets exercised.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

# SigV4 signing names whose botocore model is filed under another name.
BOTOCORE_NAME = {
    "elasticfilesystem": "efs",
    "elasticloadbalancing": "elbv2",
    "monitoring": "cloudwatch",
    "tagging": "resourcegroupstaggingapi",
    "states": "stepfunctions",
    "email": "ses",
    "execute-api": "apigateway",
}

# awsQuery error bodies carry the service's XML namespace (botocore metadata `xmlNamespace`).
QUERY_NAMESPACE = {
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "elasticache": "http://elasticache.amazonaws.com/doc/2015-02-02/",
}

REST_XML_NAMESPACE = {
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
    "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/",
}

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")


@dataclass
class Request:
    service: str
    operation: str
    region: str
    access_key: str
    protocol: str  # ec2 | query | json | rest-json | rest-xml | s3
    method: str
    path: str
    query: dict[str, list[str]]
    params: dict[str, Any] = field(default_factory=dict)
    json_content_type: str = "application/x-amz-json-1.1"
    # The request's body as sent (S3 rules check an object body against its Content-MD5).
    body: bytes = b""

    def key(self) -> str:
        return f"{self.service}:{self.operation}"


def identify(environ: dict[str, Any], body: bytes) -> Request:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/") or "/"
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth)
    if not match and "X-Amz-Credential" in query:
        match = _CREDENTIAL.search("Credential=" + query["X-Amz-Credential"][0])
    access_key, region, service = ("", "us-east-1", "")
    if match:
        access_key, region, service = match.group(1), match.group(3), match.group(4).lower()
    content_type = environ.get("CONTENT_TYPE", "") or ""
    target = environ.get("HTTP_X_AMZ_TARGET")

    def request(protocol: str, operation: str, params: dict[str, Any]) -> Request:
        return Request(
            service=service or "unknown",
            operation=operation,
            region=region,
            access_key=access_key,
            protocol=protocol,
            method=method,
            path=path,
            query=query,
            params=params,
            json_content_type=content_type.split(";")[0] or "application/x-amz-json-1.1",
            body=body,
        )

    if target:
        if not service:
            service = target.split(".", 1)[0].split("_", 1)[0].lower()
        return request("json", target.rsplit(".", 1)[-1], _json(body))

    cbor = _CBOR_PATH.match(path)
    if cbor and environ.get("HTTP_SMITHY_PROTOCOL", "").startswith("rpc-v2-cbor"):
        return request("json", cbor.group(2), {})

    form: dict[str, list[str]] = {}
    if content_type.startswith("application/x-www-form-urlencoded") and body:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    merged = {**query, **form}
    if "Action" in merged:
        params = {k: v[0] for k, v in merged.items()}
        return request("ec2" if service == "ec2" else "query", params["Action"], params)

    return _rest(request, service, environ, method, path, query, body)


def _rest(request, service, environ, method, path, query, body) -> Request:
    # API Gateway's two APIs share the signing name `apigateway`; v2's paths start with /v2/.
    v2 = service == "apigateway" and path.startswith("/v2/")
    model = rest_model("apigatewayv2" if v2 else service)
    headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    bucket_host = _virtual_host_bucket(service, environ.get("HTTP_HOST", ""))
    match_path = f"/{bucket_host}{path}" if bucket_host else path
    protocol = "s3" if service == "s3" else (model.protocol if model else "rest-json")
    operation, labels = ("", {})
    if "x-id" in query:
        operation = query["x-id"][0]
        if model:
            labels = model.labels(operation, match_path)
    elif model:
        operation, labels = model.match(method, match_path, query, headers)
    if not operation:
        operation = f"{method} {path}"
    params: dict[str, Any] = dict(labels)
    if protocol == "rest-json":
        payload = _json(body)
        params.update(payload if isinstance(payload, dict) else {})
    elif body and protocol in ("rest-xml", "s3"):
        params["__xml__"] = _xml(body)
    return request(protocol, operation, params)


def _virtual_host_bucket(service: str, host: str) -> str | None:
    if service != "s3":
        return None
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if re.fullmatch(r"[\d.]+", name) or "." not in name:
        return None
    for suffix in (".localhost", ".s3.amazonaws.com"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    if ".s3." in name:
        return name.split(".s3.", 1)[0]
    return None


def _json(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        return {}


def _xml(body: bytes) -> ElementTree.Element | None:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


class RestModel:
    """Matches method + path + query + headers to an operation of a REST service, from the
    botocore model: the operation whose URI template matches and whose required query and
    header members are all present, the most specific one winning (PutObject vs CopyObject
    vs UploadPart all share `PUT /{Bucket}/{Key+}`)."""

    def __init__(self, model: dict[str, Any]):
        self.protocol = model["metadata"]["protocol"]
        self.ops: list[tuple[str, str, re.Pattern[str], dict[str, str | None], list[str], int]] = []
        self.templates: dict[str, re.Pattern[str]] = {}
        shapes = model["shapes"]
        for name, op in model["operations"].items():
            uri = op["http"]["requestUri"]
            path_part, _, query_part = uri.partition("?")
            literal_query: dict[str, str | None] = {}
            for item in filter(None, query_part.split("&")):
                key, eq, value = item.partition("=")
                literal_query[key] = value if eq else None
            required_headers: list[str] = []
            input_shape = shapes.get(op.get("input", {}).get("shape", ""), {})
            for member_name in input_shape.get("required", []):
                member = input_shape.get("members", {}).get(member_name, {})
                if member.get("location") == "querystring":
                    literal_query.setdefault(member["locationName"], None)
                elif member.get("location") == "header":
                    required_headers.append(member["locationName"].lower())
            pattern = _template_regex(path_part)
            self.templates[name] = pattern
            literal_chars = len(re.sub(r"\{[^}]*\}", "", path_part))
            self.ops.append(
                (
                    name,
                    op["http"]["method"],
                    pattern,
                    literal_query,
                    required_headers,
                    literal_chars,
                )
            )

    def match(self, method, path, query, headers) -> tuple[str, dict[str, str]]:
        best: tuple[tuple[int, int], str, dict[str, str]] | None = None
        for name, op_method, pattern, literal_query, required_headers, literal_chars in self.ops:
            if op_method != method:
                continue
            found = pattern.match(path)
            if not found:
                continue
            if any(
                key not in query or (value is not None and query[key][0] != value)
                for key, value in literal_query.items()
            ):
                continue
            if any(header not in headers for header in required_headers):
                continue
            score = (len(literal_query) + len(required_headers), literal_chars)
            if best is None or score > best[0]:
                best = (score, name, {k: unquote(v) for k, v in found.groupdict().items()})
        return (best[1], best[2]) if best else ("", {})

    def labels(self, operation: str, path: str) -> dict[str, str]:
        pattern = self.templates.get(operation)
        found = pattern.match(path) if pattern else None
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else {}


def _template_regex(path: str) -> re.Pattern[str]:
    out = ""
    for piece in re.split(r"(\{[^}]+\})", path.rstrip("/") or "/"):
        if piece.startswith("{"):
            name = piece[1:-1]
            group = re.sub(r"\W", "_", name.rstrip("+"))
            out += f"(?P<{group}>.+)" if name.endswith("+") else f"(?P<{group}>[^/]+)"
        else:
            out += re.escape(piece)
    return re.compile("^" + (out if out != "/" else "") + "/?$")


_models: dict[str, RestModel | None] = {}


def rest_model(service: str) -> RestModel | None:
    if service not in _models:
        _models[service] = _load_model(BOTOCORE_NAME.get(service, service))
    return _models[service]


def _load_model(name: str) -> RestModel | None:
    try:
        from botocore.loaders import Loader

        model = Loader().load_service_model(name, "service-2")
    except Exception:
        return None
    if model["metadata"]["protocol"] not in ("rest-json", "rest-xml"):
        return None
    return RestModel(model)


# ---------------------------------------------------------------------------------------
# Errors as AWS puts them on the wire, per protocol.
# EC2:      https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
# awsQuery: https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#operation-error-serialization
# awsJson:  https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization
# restXml:  https://smithy.io/2.0/aws/protocols/aws-restxml-protocol.html#error-response-serialization
# S3:       https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
# ---------------------------------------------------------------------------------------


def request_id() -> str:
    return str(uuid.uuid4())


def error_body(
    req: Request, status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """`fields`: members of the error shape besides code and message (EFS's FileSystemId,
    AccessPointId), sent in the JSON protocols."""
    rid = request_id()
    fault = "Receiver" if status >= 500 else "Sender"
    xml_ct = ("Content-Type", "text/xml;charset=UTF-8")
    if req.protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}"
            f"</Message></Error></Errors><RequestID>{rid}</RequestID></Response>"
        )
        return status, [xml_ct], body.encode()
    if req.protocol == "s3":
        host_id = uuid.uuid4().hex
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{rid}</RequestId><HostId>{host_id}</HostId></Error>"
        )
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid)]
        return status, headers, body.encode()
    if req.protocol in ("query", "rest-xml"):
        namespace = (QUERY_NAMESPACE if req.protocol == "query" else REST_XML_NAMESPACE).get(
            req.service
        )
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{rid}</RequestId>"
            "</ErrorResponse>"
        )
        return status, [xml_ct, ("x-amzn-RequestId", rid)], body.encode()
    if req.protocol == "json":
        payload = {"__type": code, "message": message, **(fields or {})}
        headers = [("Content-Type", req.json_content_type), ("x-amzn-RequestId", rid)]
        return status, headers, json.dumps(payload).encode()
    # restJson1: the code travels in X-Amzn-ErrorType; EFS's error shapes name their members
    # ErrorCode and Message (https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html).
    payload = (
        {"ErrorCode": code, "Message": message}
        if req.service == "elasticfilesystem"
        else {"message": message}
    )
    payload.update(fields or {})
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", rid),
    ]
    return status, headers, json.dumps(payload).encode()


def throttle(req: Request) -> tuple[int, str, str]:
    """AWS's throttling answer for the request's service and protocol (status, code, message)."""
    if req.protocol == "ec2":
        # https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
        return 503, "RequestLimitExceeded", "Request limit exceeded."
    if req.protocol == "s3":
        # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (SlowDown, 503)
        return 503, "SlowDown", "Please reduce your request rate."
    if req.protocol in ("query", "rest-xml"):
        # ELBv2, IAM, CloudWatch, Route 53: Throttling, 400 ("Rate exceeded" as Route 53 puts it,
        # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html)
        return 400, "Throttling", "Rate exceeded"
    if req.protocol == "json":
        return 400, "ThrottlingException", "Rate exceeded"
    return 429, "ThrottlingException", "Rate exceeded"


def server_error(req: Request, status: int) -> tuple[int, str, str]:
    if status == 503:
        if req.protocol == "ec2":
            return 503, "Unavailable", "The server is overloaded and can't handle the request."
        if req.protocol == "s3":
            return 503, "ServiceUnavailable", "Service is unable to handle request."
        return 503, "ServiceUnavailable", "Service is unavailable. Please try again later."
    if req.protocol in ("ec2", "s3"):
        return 500, "InternalError", "An internal error has occurred."
    return 500, "InternalFailure", "The request processing has failed because of an unknown error."
