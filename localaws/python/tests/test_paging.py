"""Listings page as AWS pages them, so call counts measured here hold on AWS."""

from __future__ import annotations


def test_get_resources_pages_by_resources_not_by_tags(aws):
    # 40 resources with 5 tags each: 200 tags, one page of ResourcesPerPage=100 on AWS.
    ec2 = aws.client("ec2")
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(4)] + [{"Key": "rprov:stack", "Value": "s"}]
    for _ in range(40):
        ec2.create_vpc(
            CidrBlock="10.0.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
        )
    tagging = aws.client("resourcegroupstaggingapi")
    page = tagging.get_resources(
        TagFilters=[{"Key": "rprov:stack", "Values": ["s"]}], ResourcesPerPage=100
    )
    assert len(page["ResourceTagMappingList"]) == 40
    assert not page.get("PaginationToken")
    # Asked explicitly, pages by tags still work.
    page = tagging.get_resources(TagFilters=[{"Key": "rprov:stack", "Values": ["s"]}], TagsPerPage=100)
    assert len(page["ResourceTagMappingList"]) < 40
    assert page.get("PaginationToken")
