"""API Gateway v2 in the strict local AWS: the refusals AWS answers and moto 5.2.5 lacked, the
domain name's alias target, and DeleteDomainName with mappings, which crashed moto."""

from __future__ import annotations

from test_rules import refused


def api_with_stage(gw, stage: str = "$default") -> str:
    api = gw.create_api(Name="portal", ProtocolType="HTTP")["ApiId"]
    gw.create_stage(ApiId=api, StageName=stage, AutoDeploy=True)
    return api


def domain(aws, name: str = "api.example.com") -> str:
    cert = aws.client("acm").request_certificate(DomainName=name, ValidationMethod="DNS")
    aws.client("apigatewayv2").create_domain_name(
        DomainName=name,
        DomainNameConfigurations=[
            {
                "CertificateArn": cert["CertificateArn"],
                "EndpointType": "REGIONAL",
                "SecurityPolicy": "TLS_1_2",
            }
        ],
    )
    return name


def test_operations_are_named_from_the_v2_model(aws):
    gw = aws.client("apigatewayv2")
    api_with_stage(gw)
    gw.get_apis()
    assert ("apigateway", "CreateApi") in aws.ops()
    assert ("apigateway", "CreateStage") in aws.ops()
    assert ("apigateway", "GetApis") in aws.ops()


def test_delete_api_refused_while_a_domain_maps_it(aws):
    gw = aws.client("apigatewayv2")
    api = api_with_stage(gw)
    name = domain(aws)
    mapping = gw.create_api_mapping(DomainName=name, ApiId=api, Stage="$default")["ApiMappingId"]
    refused(
        lambda: gw.delete_api(ApiId=api),
        "BadRequestException",
        400,
        f"Deleting API {api} failed. Please remove all API mappings for the API from your "
        "custom domain names.",
    )
    gw.delete_api_mapping(DomainName=name, ApiMappingId=mapping)
    gw.delete_api(ApiId=api)
    assert gw.get_apis()["Items"] == []


def test_delete_domain_name_takes_its_mappings(aws):
    gw = aws.client("apigatewayv2")
    api = api_with_stage(gw)
    name = domain(aws)
    gw.create_api_mapping(DomainName=name, ApiId=api, Stage="$default")
    gw.create_api_mapping(DomainName=name, ApiId=api, Stage="$default", ApiMappingKey="v1")
    gw.delete_domain_name(DomainName=name)
    assert gw.get_domain_names()["Items"] == []
    # No mapping is left to hold the API.
    assert gw.get_api_mappings(DomainName=name)["Items"] == []
    gw.delete_api(ApiId=api)


def test_domain_name_has_its_alias_target(aws):
    gw = aws.client("apigatewayv2")
    name = domain(aws)
    for d in [gw.get_domain_name(DomainName=name), gw.get_domain_names()["Items"][0]]:
        (config,) = d["DomainNameConfigurations"]
        assert config["HostedZoneId"] == "Z1UJRXOUMOOFQ8"
        assert config["DomainNameStatus"] == "AVAILABLE"
        target = config["ApiGatewayDomainName"]
        assert target.startswith("d-") and target.endswith(".execute-api.us-east-1.amazonaws.com")


def test_create_api_mapping_needs_the_stage_and_a_free_key(aws):
    gw = aws.client("apigatewayv2")
    api = api_with_stage(gw)
    name = domain(aws)
    refused(
        lambda: gw.create_api_mapping(DomainName=name, ApiId=api, Stage="prod"),
        "NotFoundException",
        404,
        "Invalid stage identifier specified",
    )
    gw.create_api_mapping(DomainName=name, ApiId=api, Stage="$default", ApiMappingKey="v1")
    refused(
        lambda: gw.create_api_mapping(
            DomainName=name, ApiId=api, Stage="$default", ApiMappingKey="v1"
        ),
        "ConflictException",
        409,
    )
    assert len(gw.get_api_mappings(DomainName=name)["Items"]) == 1


def test_create_route_refuses_a_key_in_use(aws):
    gw = aws.client("apigatewayv2")
    api = api_with_stage(gw)
    gw.create_route(ApiId=api, RouteKey="GET /items")
    refused(
        lambda: gw.create_route(ApiId=api, RouteKey="GET /items"),
        "ConflictException",
        409,
        "Route with key GET /items already exists for this API",
    )
    gw.create_route(ApiId=api, RouteKey="POST /items")
    assert len(gw.get_routes(ApiId=api)["Items"]) == 2


def test_domain_names_are_tagged_in_place(aws):
    gw = aws.client("apigatewayv2")
    name = domain(aws)
    arn = f"arn:aws:apigateway:us-east-1::/domainnames/{name}"
    gw.tag_resource(ResourceArn=arn, Tags={"team": "docs", "tier": "web"})
    gw.untag_resource(ResourceArn=arn, TagKeys=["tier"])
    assert gw.get_domain_names()["Items"][0]["Tags"] == {"team": "docs"}
