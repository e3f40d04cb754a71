"""API Gateway v2 (HTTP APIs, custom domain names): the AWS rules moto 5.2.5 lacks and the
moto patches for it. Importing this module adds its checks to `rules.RULES`.

API Gateway v2 is restJson1 under the SigV4 signing name `apigateway` (shared with REST APIs,
v1): `wire` names its operations from the `apigatewayv2` model for paths under `/v2/`. The
parameters are the URI labels (`apiId`, `domainName`) and the body's members in their JSON
names (`routeKey`, `stage`, `apiMappingKey`). Errors: `x-amzn-ErrorType` and `{"message"}`.
"""

from __future__ import annotations

import random
import string
from typing import Any

from rules import RULES, Context, Refusal, Rule

# Route 53 hosted zone ids of API Gateway's regional endpoints (the `execute-api` domain), the
# alias target a record of a regional custom domain name names. AWS General Reference, "Amazon
# API Gateway endpoints and quotas" (https://docs.aws.amazon.com/general/latest/gr/apigateway.html),
# column "Route 53 Hosted Zone ID". Edge-optimized endpoints: Z2FDTNDATAQYW2 in every region.
REGIONAL_HOSTED_ZONE = {
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "ap-south-1": "Z3VO1THU9YC4UR",
    "ap-northeast-3": "Z2YQB5RD63NC85",
    "ap-northeast-2": "Z20JF4UZKIW1U8",
    "ap-southeast-1": "ZL327KTPIQFUL",
    "ap-southeast-2": "Z2RPCDW04V8134",
    "ap-northeast-1": "Z1YSHQZHG15GKL",
    "ca-central-1": "Z19DQILCV0OWEC",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-west-2": "ZJ5UAJN8Y3Z2Q",
    "eu-west-3": "Z3KY65QIEKYHQQ",
    "sa-east-1": "ZCMLWB8V5SYIT",
}
EDGE_HOSTED_ZONE = "Z2FDTNDATAQYW2"


def _backend(ctx: Context) -> Any:
    from moto.apigatewayv2.models import apigatewayv2_backends

    return apigatewayv2_backends[ctx.account][ctx.region]


def delete_api(ctx: Context) -> Refusal | None:
    """AWS refuses to delete an API a custom domain name maps (observed answer, e.g.
    gruntwork-io/cloud-nuke#370: "BadRequestException: Deleting API … failed. Please remove
    all API mappings for the API from your custom domain names."). moto deleted it and left
    the mapping pointing at nothing."""
    api_id = ctx.params.get("apiId", "")
    if any(m.api_id == api_id for m in _backend(ctx).api_mappings.values()):
        return Refusal(
            400,
            "BadRequestException",
            f"Deleting API {api_id} failed. Please remove all API mappings for the API from "
            "your custom domain names.",
        )
    return None


def create_route(ctx: Context) -> Refusal | None:
    """One route per route key in an API (409 ConflictException, CreateRoute's documented
    errors); moto made a second route of the key."""
    api = _backend(ctx).apis.get(ctx.params.get("apiId", ""))
    key = ctx.params.get("routeKey", "")
    if api is not None and any(r.route_key == key for r in api.routes.values()):
        return Refusal(409, "ConflictException", f"Route with key {key} already exists for this API")
    return None


def create_api_mapping(ctx: Context) -> Refusal | None:
    """A mapping names a stage of the API (404 NotFoundException, as GetStage answers an
    unknown stage) and a key not mapped yet on the domain (409 ConflictException); moto
    accepted both, and a second mapping of a key replaced the first (its id is a hash of
    stage, domain and key)."""
    backend = _backend(ctx)
    domain = ctx.params.get("domainName", "")
    api = backend.apis.get(ctx.params.get("apiId", ""))
    stage = ctx.params.get("stage", "")
    if api is not None and stage not in api.stages:
        return Refusal(404, "NotFoundException", "Invalid stage identifier specified")
    key = ctx.params.get("apiMappingKey", "") or ""
    taken = any(
        m.domain_name == domain and (m.api_mapping_key or "") == key
        for m in backend.api_mappings.values()
    )
    if domain in backend.domain_names and taken:
        return Refusal(
            409, "ConflictException", f"ApiMapping key {key or '(none)'} already exists for domain {domain}"
        )
    return None


def _fill_configurations(domain: Any, region: str) -> None:
    for c in domain.domain_name_configurations:
        regional = c.get("endpointType", "REGIONAL") == "REGIONAL"
        c.setdefault("endpointType", "REGIONAL")
        c.setdefault(
            "hostedZoneId", REGIONAL_HOSTED_ZONE.get(region, "") if regional else EDGE_HOSTED_ZONE
        )
        if "apiGatewayDomainName" not in c:
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=10))
            host = f"d-{suffix}.execute-api.{region}.amazonaws.com"
            c["apiGatewayDomainName"] = host if regional else f"{suffix}.cloudfront.net"
        c.setdefault("domainNameStatus", "AVAILABLE")


def domain_name_targets() -> None:
    """AWS answers a custom domain name with its alias target per configuration:
    `ApiGatewayDomainName` (`d-….execute-api.REGION.amazonaws.com`), `HostedZoneId` (the
    region's, table above) and `DomainNameStatus`; moto answered none of them."""
    from moto.apigatewayv2.models import ApiGatewayV2Backend

    create = ApiGatewayV2Backend.create_domain_name

    def create_domain_name(self: Any, *args: Any, **kwargs: Any) -> Any:
        domain = create(self, *args, **kwargs)
        _fill_configurations(domain, self.region_name)
        return domain

    ApiGatewayV2Backend.create_domain_name = create_domain_name  # type: ignore[method-assign]


def delete_domain_name_with_mappings() -> None:
    """DeleteDomainName removes the domain with its API mappings on AWS (chalice deletes
    domains so, aws/chalice#1918); moto raised "dictionary changed size during iteration"
    (500) after deleting the first mapping, leaving the domain half deleted."""
    from moto.apigatewayv2.exceptions import DomainNameNotFound
    from moto.apigatewayv2.models import ApiGatewayV2Backend

    def delete_domain_name(self: Any, domain_name: str) -> None:
        if domain_name not in self.domain_names:
            raise DomainNameNotFound
        for mapping_id in [i for i, m in self.api_mappings.items() if m.domain_name == domain_name]:
            del self.api_mappings[mapping_id]
        del self.domain_names[domain_name]

    ApiGatewayV2Backend.delete_domain_name = delete_domain_name  # type: ignore[method-assign]


def domain_name_tags() -> None:
    """TagResource / UntagResource on a domain name's ARN: moto routed no `/v2/tags/…/domainnames/…`
    path (404) and its domain names answer the tags given at create only. AWS tags domain
    names like APIs (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/tags-resource-arn.html)."""
    from moto.apigatewayv2 import urls
    from moto.apigatewayv2.models import ApiGatewayV2Backend
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    pattern = "{0}/v2/tags/(?P<resource_arn_pt1>[^/]+)/domainnames/(?P<resource_arn_pt2>[^/]+)$"
    urls.url_paths.setdefault(pattern, ApiGatewayV2Response.dispatch)

    def domain_of(backend: Any, arn: str) -> Any:
        name = arn.split("/domainnames/", 1)[1] if "/domainnames/" in arn else None
        return backend.domain_names.get(name) if name else None

    tag = ApiGatewayV2Backend.tag_resource
    untag = ApiGatewayV2Backend.untag_resource

    def tag_resource(self: Any, resource_arn: str, tags: dict[str, str]) -> None:
        domain = domain_of(self, resource_arn)
        if domain is None:
            return tag(self, resource_arn, tags)
        domain.tags = {**(domain.tags or {}), **(tags or {})}

    def untag_resource(self: Any, resource_arn: str, tag_keys: list[str]) -> None:
        domain = domain_of(self, resource_arn)
        if domain is None:
            return untag(self, resource_arn, tag_keys)
        domain.tags = {k: v for k, v in (domain.tags or {}).items() if k not in tag_keys}

    ApiGatewayV2Backend.tag_resource = tag_resource  # type: ignore[method-assign]
    ApiGatewayV2Backend.untag_resource = untag_resource  # type: ignore[method-assign]


def patch_moto() -> None:
    domain_name_targets()
    delete_domain_name_with_mappings()
    domain_name_tags()


RULES.update(
    {
        (r.service, r.operation): r
        for r in [
            Rule("apigateway", "DeleteApi", delete_api),
            Rule("apigateway", "CreateRoute", create_route),
            Rule("apigateway", "CreateApiMapping", create_api_mapping),
        ]
    }
)
