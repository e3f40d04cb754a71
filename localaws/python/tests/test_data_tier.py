"""The data tier (RDS, ElastiCache, IAM, S3, Secrets Manager): each refusal exactly as AWS
answers it (code, HTTP status, message), the allowed case after it, the network interfaces AWS
puts in the VPC for DB instances, cache nodes and DB proxies, and the in-progress states.
Where moto already answers as AWS, the test pins moto's answer (README: `moto`)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from test_rules import network, refused

PASSWORD = "not-a-real-password-1"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


def subnet_group(rds, subnets, name: str = "db") -> str:
    rds.create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    return name


def aurora(rds, ident: str = "aurora", group: str = "db", **extra):
    return rds.create_db_cluster(
        DBClusterIdentifier=ident,
        Engine="aurora-postgresql",
        MasterUsername="app",
        MasterUserPassword=PASSWORD,
        DBSubnetGroupName=group,
        **extra,
    )["DBCluster"]


def postgres(rds, ident: str = "pg", group: str = "db", groups=None):
    return rds.create_db_instance(
        DBInstanceIdentifier=ident,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        DBSubnetGroupName=group,
        VpcSecurityGroupIds=groups or [],
    )["DBInstance"]


def proxy(aws, rds, subnets, groups, name: str = "proxy"):
    role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")
    secret = aws.client("secretsmanager").create_secret(Name=f"{name}-secret", SecretString="x")
    return rds.create_db_proxy(
        DBProxyName=name,
        EngineFamily="POSTGRESQL",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": secret["ARN"], "IAMAuth": "DISABLED"}],
        RoleArn=role["Role"]["Arn"],
        VpcSubnetIds=subnets,
        VpcSecurityGroupIds=groups,
    )["DBProxy"]


def enis(ec2) -> list[dict]:
    return ec2.describe_network_interfaces()["NetworkInterfaces"]


# --- RDS ---------------------------------------------------------------------------------


def test_delete_db_subnet_group_used_by_a_cluster_or_an_instance(aws):
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBSubnetGroup.html
    # InvalidDBSubnetGroupStateFault (400); text as AWS sends it (CloudFormation and SDK logs:
    # "Cannot delete the subnet group 'x' because at least one database instance: db is still
    # using it."). moto deleted the group.
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=2)
    subnet_group(rds, subnets, "Aurora-Group")
    subnet_group(rds, subnets, "pg-group")
    aurora(rds, group="aurora-group")
    postgres(rds, group="pg-group")
    refused(
        lambda: rds.delete_db_subnet_group(DBSubnetGroupName="aurora-group"),
        "InvalidDBSubnetGroupStateFault",
        400,
        "Cannot delete the subnet group 'aurora-group' because at least one database cluster: "
        "aurora is still using it.",
    )
    refused(
        lambda: rds.delete_db_subnet_group(DBSubnetGroupName="pg-group"),
        "InvalidDBSubnetGroupStateFault",
        400,
        "Cannot delete the subnet group 'pg-group' because at least one database instance: pg "
        "is still using it.",
    )
    rds.delete_db_cluster(DBClusterIdentifier="aurora", SkipFinalSnapshot=True)
    rds.delete_db_instance(DBInstanceIdentifier="pg", SkipFinalSnapshot=True)
    rds.delete_db_subnet_group(DBSubnetGroupName="aurora-group")
    rds.delete_db_subnet_group(DBSubnetGroupName="pg-group")
    refused(
        lambda: rds.delete_db_subnet_group(DBSubnetGroupName="pg-group"),
        "DBSubnetGroupNotFoundFault",
        404,
    )


def test_create_db_cluster_subnet_group_instance_and_proxy_again(aws):
    # DBClusterAlreadyExistsFault "DB Cluster already exists" and DBSubnetGroupAlreadyExists
    # "The DB subnet group already exists" (400, as AWS sends them, Terraform/Pulumi logs):
    # moto replaced the cluster (then failed on its automated snapshot) and the group.
    # DBInstanceAlreadyExists and DBProxyAlreadyExistsFault: moto's own.
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc, subnets = network(ec2, subnets=2)
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    subnet_group(rds, subnets)
    refused(
        lambda: subnet_group(rds, subnets[:1]),
        "DBSubnetGroupAlreadyExists",
        400,
        "The DB subnet group already exists",
    )
    assert len(rds.describe_db_subnet_groups()["DBSubnetGroups"][0]["Subnets"]) == 2
    aurora(rds)
    refused(
        lambda: rds.create_db_cluster(
            DBClusterIdentifier="Aurora",
            Engine="aurora-postgresql",
            MasterUsername="other",
            MasterUserPassword=PASSWORD,
        ),
        "DBClusterAlreadyExistsFault",
        400,
        "DB Cluster already exists",
    )
    assert rds.describe_db_clusters()["DBClusters"][0]["MasterUsername"] == "app"
    postgres(rds, groups=[group])
    refused(lambda: postgres(rds, groups=[group]), "DBInstanceAlreadyExists", 400)
    proxy(aws, rds, subnets, [group])
    with pytest.raises(ClientError) as info:
        rds.create_db_proxy(
            DBProxyName="proxy",
            EngineFamily="POSTGRESQL",
            Auth=[{"AuthScheme": "SECRETS", "SecretArn": "arn:aws:secretsmanager:x"}],
            RoleArn="arn:aws:iam::123456789012:role/proxy-role",
            VpcSubnetIds=subnets,
        )
    assert info.value.response["Error"]["Code"] == "DBProxyAlreadyExistsFault"
    # Gone, the names are free again.
    rds.delete_db_cluster(DBClusterIdentifier="aurora", SkipFinalSnapshot=True)
    aurora(rds)


def test_delete_db_cluster_needs_a_final_snapshot_choice(aws):
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html: "If
    # SkipFinalSnapshot is disabled, you must specify a value for the FinalDBSnapshotIdentifier
    # parameter"; both together "results in an error". moto accepted both.
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=2)
    subnet_group(rds, subnets)
    aurora(rds)
    refused(
        lambda: rds.delete_db_cluster(DBClusterIdentifier="aurora"),
        "InvalidParameterCombination",
        400,
        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
    )
    refused(
        lambda: rds.delete_db_cluster(
            DBClusterIdentifier="aurora", SkipFinalSnapshot=True, FinalDBSnapshotIdentifier="last"
        ),
        "InvalidParameterCombination",
        400,
        "You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot",
    )
    # moto's own: a member instance, deletion protection.
    rds.create_db_instance(
        DBInstanceIdentifier="member",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier="aurora",
    )
    refused(
        lambda: rds.delete_db_cluster(DBClusterIdentifier="aurora", SkipFinalSnapshot=True),
        "InvalidDBClusterStateFault",
        400,
        "Cluster cannot be deleted, it still contains DB instances in non-deleting state.",
    )
    # An Aurora member has no final snapshot of its own: neither parameter is needed.
    rds.delete_db_instance(DBInstanceIdentifier="member")
    rds.modify_db_cluster(DBClusterIdentifier="aurora", DeletionProtection=True)
    refused(
        lambda: rds.delete_db_cluster(DBClusterIdentifier="aurora", SkipFinalSnapshot=True),
        "InvalidParameterCombination",
        400,
        "Cannot delete protected Cluster, please disable deletion protection and try again.",
    )
    rds.modify_db_cluster(DBClusterIdentifier="aurora", DeletionProtection=False)
    rds.delete_db_cluster(DBClusterIdentifier="aurora", FinalDBSnapshotIdentifier="last")
    assert rds.describe_db_clusters()["DBClusters"] == []
    refused(
        lambda: rds.delete_db_cluster(DBClusterIdentifier="aurora", SkipFinalSnapshot=True),
        "DBClusterNotFoundFault",
        404,
    )


def test_delete_standalone_db_instance_needs_a_final_snapshot_choice(aws):
    # The same rule for DeleteDBInstance; the text is AWS's for it (SDK logs).
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=2)
    subnet_group(rds, subnets)
    postgres(rds)
    refused(
        lambda: rds.delete_db_instance(DBInstanceIdentifier="pg"),
        "InvalidParameterCombination",
        400,
        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
    )
    rds.delete_db_instance(DBInstanceIdentifier="pg", SkipFinalSnapshot=True)


def test_delete_db_proxy_sent_again_is_not_found(aws):
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBProxy.html
    # DBProxyNotFoundFault (404); moto answered 500 (a KeyError).
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=2)
    proxy(aws, rds, subnets, [])
    rds.delete_db_proxy(DBProxyName="proxy")
    refused(
        lambda: rds.delete_db_proxy(DBProxyName="proxy"),
        "DBProxyNotFoundFault",
        404,
        "The specified proxy name proxy doesn't correspond to a proxy owned by your Amazon Web "
        "Services account in the specified Amazon Web Services Region.",
    )


def test_modify_db_subnet_group_keeps_the_group(aws):
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSubnetGroup.html
    # moto 5.2.5 answered with the changed group and dropped it from its store
    # (`subnet_groups.pop`): DescribeDBSubnetGroups no longer listed it. Fixed in both modes.
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=3)
    rds.create_db_subnet_group(
        DBSubnetGroupName="db",
        DBSubnetGroupDescription="db",
        SubnetIds=subnets[:2],
        Tags=[{"Key": "team", "Value": "data"}],
    )
    [before] = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    changed = rds.modify_db_subnet_group(
        DBSubnetGroupName="db", DBSubnetGroupDescription="the data tier", SubnetIds=subnets[1:]
    )["DBSubnetGroup"]
    [listed] = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    assert listed == changed
    assert listed["DBSubnetGroupName"] == "db"
    assert listed["DBSubnetGroupDescription"] == "the data tier"
    assert [s["SubnetIdentifier"] for s in listed["Subnets"]] == subnets[1:]
    assert [s["SubnetAvailabilityZone"]["Name"] for s in listed["Subnets"]] == [
        "us-east-1b",
        "us-east-1c",
    ]
    assert listed["DBSubnetGroupArn"] == before["DBSubnetGroupArn"]
    assert listed["VpcId"] == before["VpcId"]
    tags = rds.list_tags_for_resource(ResourceName=listed["DBSubnetGroupArn"])["TagList"]
    assert tags == [{"Key": "team", "Value": "data"}]
    # Without a description the description stays; the name matches in any case, as on AWS.
    rds.modify_db_subnet_group(DBSubnetGroupName="DB", SubnetIds=subnets[:2])
    [listed] = rds.describe_db_subnet_groups(DBSubnetGroupName="db")["DBSubnetGroups"]
    assert listed["DBSubnetGroupDescription"] == "the data tier"
    assert [s["SubnetIdentifier"] for s in listed["Subnets"]] == subnets[:2]
    # A cluster can use it after the change, and deleting it is refused while it does.
    aurora(rds)
    refused(
        lambda: rds.delete_db_subnet_group(DBSubnetGroupName="db"),
        "InvalidDBSubnetGroupStateFault",
        400,
    )


def test_modify_db_subnet_group_refusals(aws):
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=3)
    _, elsewhere = network(ec2, subnets=2)
    subnet_group(rds, subnets[:2])
    refused(
        lambda: rds.modify_db_subnet_group(DBSubnetGroupName="nope", SubnetIds=subnets),
        "DBSubnetGroupNotFoundFault",
        404,
        "Subnet Group nope not found.",
    )
    unchecked = aws.client("rds", parameter_validation=False)
    refused(
        lambda: unchecked.modify_db_subnet_group(DBSubnetGroupName="db", SubnetIds=[]),
        "InvalidSubnet",
        400,
        "Subnet IDs are required.",
    )
    refused(
        lambda: rds.modify_db_subnet_group(
            DBSubnetGroupName="db", SubnetIds=[subnets[0], "subnet-0123456789abcdef0"]
        ),
        "InvalidParameterValue",
        400,
        f"Some input subnets in :[{subnets[0]}, subnet-0123456789abcdef0] are invalid.",
    )
    refused(
        lambda: rds.modify_db_subnet_group(
            DBSubnetGroupName="db", SubnetIds=[subnets[0], elsewhere[1]]
        ),
        "InvalidSubnet",
        400,
        f"The requested subnet {elsewhere[1]} is invalid, or multiple subnets were requested "
        "that are not all in a common VPC.",
    )
    refused(
        lambda: rds.modify_db_subnet_group(DBSubnetGroupName="db", SubnetIds=elsewhere),
        "InvalidParameterValue",
        400,
        "The new Subnets are not in the same Vpc as the existing subnet group",
    )
    one_zone = ec2.create_subnet(
        VpcId=ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"],
        CidrBlock="10.0.9.0/24",
        AvailabilityZone="us-east-1a",
    )["Subnet"]["SubnetId"]
    refused(
        lambda: rds.modify_db_subnet_group(
            DBSubnetGroupName="db", SubnetIds=[subnets[0], one_zone]
        ),
        "DBSubnetGroupDoesNotCoverEnoughAZs",
        400,
        "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
        "Current AZ coverage: us-east-1a. Add subnets to cover at least 2 AZs.",
    )
    # Refused changes change nothing.
    [listed] = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    assert [s["SubnetIdentifier"] for s in listed["Subnets"]] == subnets[:2]
    # The allowed case after them.
    rds.modify_db_subnet_group(DBSubnetGroupName="db", SubnetIds=[subnets[0], subnets[2]])


def test_modify_db_subnet_group_keeps_it_in_lax_mode_too(aws):
    # A moto bug, not an AWS rule: fixed in both modes, as the other moto patches.
    aws.configure(strict=False)
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=3)
    subnet_group(rds, subnets[:2])
    rds.modify_db_subnet_group(DBSubnetGroupName="db", SubnetIds=subnets[1:])
    [listed] = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    assert [s["SubnetIdentifier"] for s in listed["Subnets"]] == subnets[1:]


def test_modify_db_proxy(aws):
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBProxy.html
    # moto 5.2.5 has no ModifyDBProxy (500): the local AWS changes the proxy and answers with it
    # in DescribeDBProxies' shape; the lists given (Auth, SecurityGroups) replace the old ones.
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc, subnets = network(ec2, subnets=2)
    first = ec2.create_security_group(GroupName="a", Description="a", VpcId=vpc)["GroupId"]
    second = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
    made = proxy(aws, rds, subnets, [first])
    rds.add_tags_to_resource(ResourceName=made["DBProxyArn"], Tags=[{"Key": "k", "Value": "v"}])
    secret = aws.client("secretsmanager").create_secret(Name="other", SecretString="y")["ARN"]
    refused(
        lambda: rds.modify_db_proxy(DBProxyName="nope", IdleClientTimeout=60),
        "DBProxyNotFoundFault",
        404,
        "The specified proxy name nope doesn't correspond to a proxy owned by your Amazon Web "
        "Services account in the specified Amazon Web Services Region.",
    )
    auth = [
        {
            "AuthScheme": "SECRETS",
            "SecretArn": secret,
            "IAMAuth": "REQUIRED",
            "ClientPasswordAuthType": "POSTGRES_SCRAM_SHA_256",
        }
    ]
    changed = rds.modify_db_proxy(
        DBProxyName="proxy",
        Auth=auth,
        RequireTLS=False,
        IdleClientTimeout=900,
        DebugLogging=True,
        RoleArn="arn:aws:iam::123456789012:role/other",
        SecurityGroups=[second],
    )["DBProxy"]
    [listed] = rds.describe_db_proxies(DBProxyName="proxy")["DBProxies"]
    assert changed == listed
    assert listed["Auth"] == auth
    assert listed["RequireTLS"] is False
    assert listed["IdleClientTimeout"] == 900
    assert listed["DebugLogging"] is True
    assert listed["RoleArn"] == "arn:aws:iam::123456789012:role/other"
    assert listed["VpcSecurityGroupIds"] == [second]
    for kept in ("DBProxyArn", "Endpoint", "VpcSubnetIds", "EngineFamily", "VpcId"):
        assert listed[kept] == made[kept], kept
    # Its network interfaces take the new groups: the old one can go, the new one cannot.
    assert all([g["GroupId"] for g in e["Groups"]] == [second] for e in enis(ec2))
    ec2.delete_security_group(GroupId=first)
    refused(lambda: ec2.delete_security_group(GroupId=second), "DependencyViolation", 400)
    # Only what is given changes.
    rds.modify_db_proxy(DBProxyName="proxy", IdleClientTimeout=120)
    [listed] = rds.describe_db_proxies(DBProxyName="proxy")["DBProxies"]
    assert (listed["IdleClientTimeout"], listed["RequireTLS"], listed["Auth"]) == (120, False, auth)
    # A new name: in use refused, else the proxy (ARN, tags, targets, ENIs) goes under it.
    proxy(aws, rds, subnets, [], name="taken")
    refused(
        lambda: rds.modify_db_proxy(DBProxyName="proxy", NewDBProxyName="taken"),
        "DBProxyAlreadyExistsFault",
        400,
    )
    renamed = rds.modify_db_proxy(DBProxyName="proxy", NewDBProxyName="renamed")["DBProxy"]
    assert renamed["DBProxyName"] == "renamed"
    assert renamed["DBProxyArn"] == made["DBProxyArn"]
    refused(lambda: rds.describe_db_proxies(DBProxyName="proxy"), "DBProxyNotFoundFault", 404)
    [group] = rds.describe_db_proxy_target_groups(DBProxyName="renamed")["TargetGroups"]
    assert group["DBProxyName"] == "renamed"
    tags = rds.list_tags_for_resource(ResourceName=made["DBProxyArn"])["TagList"]
    assert {"Key": "k", "Value": "v"} in tags
    names = sorted(e["Description"] for e in enis(ec2))
    assert names == ["Network interface for DBProxy renamed"] * 2 + [
        "Network interface for DBProxy taken"
    ] * 2
    rds.delete_db_proxy(DBProxyName="renamed")
    rds.delete_db_proxy(DBProxyName="taken")
    assert enis(ec2) == []
    ec2.delete_security_group(GroupId=second)


def test_db_instance_and_proxy_enis_hold_subnets_and_security_groups(aws):
    # AWS places a requester-managed ENI in the VPC for each DB instance and for each subnet of
    # a DB proxy, with their security groups; the subnet and the groups cannot be deleted until
    # the owner is gone (DependencyViolation, as for a NAT gateway's ENI). moto makes none.
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc, subnets = network(ec2, subnets=2)
    db_group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    proxy_group = ec2.create_security_group(GroupName="px", Description="px", VpcId=vpc)[
        "GroupId"
    ]
    subnet_group(rds, subnets)
    aurora(rds, VpcSecurityGroupIds=[db_group])
    assert enis(ec2) == []  # a cluster alone has no ENI: its instances do
    rds.create_db_instance(
        DBInstanceIdentifier="writer",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier="aurora",
    )
    proxy(aws, rds, subnets, [proxy_group])
    found = enis(ec2)
    assert len(found) == 3
    assert all(e["RequesterManaged"] for e in found)
    writer = [e for e in found if e["Description"] == "RDSNetworkInterface"]
    assert [g["GroupId"] for g in writer[0]["Groups"]] == [db_group]
    proxies = [e for e in found if e["Description"] == "Network interface for DBProxy proxy"]
    assert sorted(e["SubnetId"] for e in proxies) == sorted(subnets)
    for subnet in subnets:
        refused(
            lambda: ec2.delete_subnet(SubnetId=subnet),
            "DependencyViolation",
            400,
            f"The subnet '{subnet}' has dependencies and cannot be deleted.",
        )
    for group in (db_group, proxy_group):
        refused(
            lambda: ec2.delete_security_group(GroupId=group),
            "DependencyViolation",
            400,
            f"resource {group} has a dependent object",
        )
    rds.delete_db_proxy(DBProxyName="proxy")
    ec2.delete_security_group(GroupId=proxy_group)
    rds.delete_db_instance(DBInstanceIdentifier="writer")
    assert enis(ec2) == []
    rds.delete_db_cluster(DBClusterIdentifier="aurora", SkipFinalSnapshot=True)
    ec2.delete_security_group(GroupId=db_group)
    rds.delete_db_subnet_group(DBSubnetGroupName="db")
    for subnet in subnets:
        ec2.delete_subnet(SubnetId=subnet)


def test_standalone_db_instance_eni_in_its_zone(aws):
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc, subnets = network(ec2, subnets=2)
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    subnet_group(rds, subnets)
    rds.create_db_instance(
        DBInstanceIdentifier="pg",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        DBSubnetGroupName="db",
        VpcSecurityGroupIds=[group],
        AvailabilityZone="us-east-1b",
    )
    [eni] = enis(ec2)
    assert eni["SubnetId"] == subnets[1]
    refused(lambda: ec2.delete_subnet(SubnetId=subnets[1]), "DependencyViolation", 400)
    ec2.delete_subnet(SubnetId=subnets[0])
    rds.delete_db_instance(DBInstanceIdentifier="pg", SkipFinalSnapshot=True)
    assert enis(ec2) == []


def test_rds_creating_states(aws):
    # creating -> available for the first N describes of each (moto: available at once).
    ec2, rds = aws.client("ec2"), aws.client("rds")
    _, subnets = network(ec2, subnets=2)
    subnet_group(rds, subnets)
    aws.configure(eventual={"db_cluster": 2, "db_instance": 1, "db_proxy": 1})
    aurora(rds)
    rds.create_db_instance(
        DBInstanceIdentifier="writer",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier="aurora",
    )
    proxy(aws, rds, subnets, [])

    def cluster():
        return rds.describe_db_clusters(DBClusterIdentifier="aurora")["DBClusters"][0]["Status"]

    def instance():
        return rds.describe_db_instances()["DBInstances"][0]["DBInstanceStatus"]

    def prx():
        return rds.describe_db_proxies()["DBProxies"][0]["Status"]

    assert [cluster(), cluster(), cluster()] == ["creating", "creating", "available"]
    assert [instance(), instance()] == ["creating", "available"]
    assert [prx(), prx()] == ["creating", "available"]


# --- ElastiCache -------------------------------------------------------------------------


def cache_group(cache, subnets, name: str = "cache") -> str:
    cache.create_cache_subnet_group(
        CacheSubnetGroupName=name, CacheSubnetGroupDescription="cache", SubnetIds=subnets
    )
    return name


def redis(cache, rg_id: str = "redis", group: str = "cache", groups=None, clusters: int = 2):
    return cache.create_replication_group(
        ReplicationGroupId=rg_id,
        ReplicationGroupDescription="redis",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=clusters,
        CacheSubnetGroupName=group,
        SecurityGroupIds=groups or [],
    )["ReplicationGroup"]


def test_delete_cache_subnet_group(aws):
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteCacheSubnetGroup.html
    # moto has no DeleteCacheSubnetGroup (500): the local AWS deletes it, refusing
    # CacheSubnetGroupInUse (400) while a replication group or cache cluster uses it.
    ec2, cache = aws.client("ec2"), aws.client("elasticache")
    _, subnets = network(ec2, subnets=2)
    cache_group(cache, subnets)
    redis(cache)
    refused(
        lambda: cache.delete_cache_subnet_group(CacheSubnetGroupName="cache"),
        "CacheSubnetGroupInUse",
        400,
        "Cache subnet group cache is currently in use by a cache cluster.",
    )
    cache.delete_replication_group(ReplicationGroupId="redis")
    cache.delete_cache_subnet_group(CacheSubnetGroupName="cache")
    refused(
        lambda: cache.describe_cache_subnet_groups(CacheSubnetGroupName="cache"),
        "CacheSubnetGroupNotFoundFault",
        400,
    )
    refused(
        lambda: cache.delete_cache_subnet_group(CacheSubnetGroupName="cache"),
        "CacheSubnetGroupNotFoundFault",
        400,
        "CacheSubnetGroup cache not found.",
    )
    # The name is free again.
    cache_group(cache, subnets)


def test_modify_cache_subnet_group(aws):
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyCacheSubnetGroup.html
    # moto 5.2.5 has no ModifyCacheSubnetGroup (500): the local AWS changes the description
    # and/or the subnets (name, ARN and tags kept) and answers as AWS does.
    ec2, cache = aws.client("ec2"), aws.client("elasticache")
    _, subnets = network(ec2, subnets=3)
    _, elsewhere = network(ec2, subnets=1)
    cache.create_cache_subnet_group(
        CacheSubnetGroupName="cache",
        CacheSubnetGroupDescription="cache",
        SubnetIds=subnets[:2],
        Tags=[{"Key": "team", "Value": "data"}],
    )
    [before] = cache.describe_cache_subnet_groups()["CacheSubnetGroups"]
    refused(
        lambda: cache.modify_cache_subnet_group(
            CacheSubnetGroupName="nope", CacheSubnetGroupDescription="x"
        ),
        "CacheSubnetGroupNotFoundFault",
        400,
        "CacheSubnetGroup nope not found.",
    )
    refused(
        lambda: cache.modify_cache_subnet_group(
            CacheSubnetGroupName="cache", SubnetIds=["subnet-0123456789abcdef0", subnets[0]]
        ),
        "InvalidParameterValue",
        400,
        f"Some input subnets in :[subnet-0123456789abcdef0, {subnets[0]}] are invalid.",
    )
    refused(
        lambda: cache.modify_cache_subnet_group(
            CacheSubnetGroupName="cache", SubnetIds=[subnets[0], elsewhere[0]]
        ),
        "InvalidSubnet",
        400,
        f"Subnets {subnets[0]} and {elsewhere[0]} are not in the same VPC.",
    )
    assert cache.describe_cache_subnet_groups()["CacheSubnetGroups"] == [before]

    # The description alone: the subnets stay.
    described = cache.modify_cache_subnet_group(
        CacheSubnetGroupName="cache", CacheSubnetGroupDescription="sessions"
    )["CacheSubnetGroup"]
    assert described == {**before, "CacheSubnetGroupDescription": "sessions"}
    # The subnets alone: the description stays; zones as AWS reports them.
    changed = cache.modify_cache_subnet_group(CacheSubnetGroupName="cache", SubnetIds=subnets[1:])[
        "CacheSubnetGroup"
    ]
    [listed] = cache.describe_cache_subnet_groups(CacheSubnetGroupName="cache")["CacheSubnetGroups"]
    assert listed == changed
    assert listed["CacheSubnetGroupDescription"] == "sessions"
    assert [
        (s["SubnetIdentifier"], s["SubnetAvailabilityZone"]["Name"]) for s in listed["Subnets"]
    ] == [(subnets[1], "us-east-1b"), (subnets[2], "us-east-1c")]
    assert (listed["ARN"], listed["VpcId"]) == (before["ARN"], before["VpcId"])
    tags = cache.list_tags_for_resource(ResourceName=listed["ARN"])["TagList"]
    assert tags == [{"Key": "team", "Value": "data"}]
    # A replication group uses the changed group (its nodes' ENIs in its subnets).
    redis(cache, clusters=1)
    assert [e["SubnetId"] for e in enis(ec2)] == [subnets[1]]
    cache.delete_replication_group(ReplicationGroupId="redis")
    cache.delete_cache_subnet_group(CacheSubnetGroupName="cache")


def test_modify_cache_subnet_group_is_not_moto_in_lax_mode(aws):
    # moto has no ModifyCacheSubnetGroup: lax mode answers as moto (500).
    aws.configure(strict=False)
    ec2, cache = aws.client("ec2"), aws.client("elasticache")
    _, subnets = network(ec2, subnets=1)
    cache_group(cache, subnets)
    with pytest.raises(ClientError) as info:
        cache.modify_cache_subnet_group(
            CacheSubnetGroupName="cache", CacheSubnetGroupDescription="x"
        )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_replication_group_deleting_then_gone(aws):
    # After DeleteReplicationGroup: `deleting` for N describes, then ReplicationGroupNotFoundFault
    # (404). Meanwhile it still uses its subnet group and its nodes' ENIs. moto: deleting forever.
    ec2, cache = aws.client("ec2"), aws.client("elasticache")
    vpc, subnets = network(ec2, subnets=2)
    group = ec2.create_security_group(GroupName="redis", Description="redis", VpcId=vpc)[
        "GroupId"
    ]
    cache_group(cache, subnets)
    created = redis(cache, groups=[group])
    assert created["MemberClusters"] == ["redis-001", "redis-002"]  # moto made one member
    found = enis(ec2)
    assert sorted(e["Description"] for e in found) == [
        "ElastiCache redis-001",
        "ElastiCache redis-002",
    ]
    assert sorted(e["SubnetId"] for e in found) == sorted(subnets)
    assert all([g["GroupId"] for g in e["Groups"]] == [group] for e in found)
    aws.configure(eventual={"replication_group_deleting": 2})
    assert cache.delete_replication_group(ReplicationGroupId="redis")["ReplicationGroup"][
        "Status"
    ] == "deleting"

    def status():
        return cache.describe_replication_groups(ReplicationGroupId="redis")["ReplicationGroups"][
            0
        ]["Status"]

    assert status() == "deleting"
    refused(
        lambda: cache.delete_cache_subnet_group(CacheSubnetGroupName="cache"),
        "CacheSubnetGroupInUse",
        400,
    )
    refused(lambda: ec2.delete_subnet(SubnetId=subnets[0]), "DependencyViolation", 400)
    refused(lambda: ec2.delete_security_group(GroupId=group), "DependencyViolation", 400)
    assert status() == "deleting"
    refused(
        lambda: cache.describe_replication_groups(ReplicationGroupId="redis"),
        "ReplicationGroupNotFoundFault",
        404,
        "Replication group redis not found.",
    )
    assert enis(ec2) == []
    cache.delete_cache_subnet_group(CacheSubnetGroupName="cache")
    ec2.delete_security_group(GroupId=group)
    for subnet in subnets:
        ec2.delete_subnet(SubnetId=subnet)


def test_replication_group_creating_and_created_again(aws):
    # creating -> available for N describes; ReplicationGroupAlreadyExists and
    # CacheSubnetGroupAlreadyExists (400): moto's own.
    ec2, cache = aws.client("ec2"), aws.client("elasticache")
    _, subnets = network(ec2, subnets=2)
    cache_group(cache, subnets)
    refused(
        lambda: cache_group(cache, subnets),
        "CacheSubnetGroupAlreadyExists",
        400,
        "CacheSubnetGroup cache already exists.",
    )
    aws.configure(eventual={"replication_group": 2})
    redis(cache, clusters=1)
    refused(
        lambda: redis(cache),
        "ReplicationGroupAlreadyExists",
        400,
        "Replication group redis already exists.",
    )

    def status():
        return cache.describe_replication_groups()["ReplicationGroups"][0]["Status"]

    assert [status(), status(), status()] == ["creating", "creating", "available"]


# --- IAM ---------------------------------------------------------------------------------


def test_delete_policy_attached_or_with_versions(aws):
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html
    # DeleteConflict (409). moto deleted the policy and left the attachment dangling.
    iam = aws.client("iam")
    arn = iam.create_policy(PolicyName="app", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_user(UserName="ci")
    iam.create_role(RoleName="task", AssumeRolePolicyDocument="{}")
    iam.create_group(GroupName="devs")
    iam.attach_user_policy(UserName="ci", PolicyArn=arn)
    iam.attach_role_policy(RoleName="task", PolicyArn=arn)
    iam.attach_group_policy(GroupName="devs", PolicyArn=arn)
    attached = "Cannot delete a policy attached to entities."
    for detach in (
        lambda: iam.detach_user_policy(UserName="ci", PolicyArn=arn),
        lambda: iam.detach_role_policy(RoleName="task", PolicyArn=arn),
        lambda: iam.detach_group_policy(GroupName="devs", PolicyArn=arn),
    ):
        refused(lambda: iam.delete_policy(PolicyArn=arn), "DeleteConflict", 409, attached)
        detach()
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=True)
    refused(
        lambda: iam.delete_policy(PolicyArn=arn),
        "DeleteConflict",
        409,
        "This policy has more than one version. Before you delete a policy, you must delete the "
        "policy's versions.",
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy(PolicyArn=arn)
    refused(lambda: iam.get_policy(PolicyArn=arn), "NoSuchEntity", 404)


def test_create_policy_version_beyond_five(aws):
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
    # LimitExceeded (409): moto's own.
    iam = aws.client("iam")
    arn = iam.create_policy(PolicyName="app", PolicyDocument=POLICY)["Policy"]["Arn"]
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY)
    refused(
        lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY),
        "LimitExceeded",
        409,
        "A managed policy can have up to 5 versions. Before you create a new version, you must "
        "delete an existing version.",
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY)


def _mfa(iam, user):
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    return lambda: iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)


def _access_key(iam, user):
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    return lambda: iam.delete_access_key(UserName=user, AccessKeyId=key)


def _login_profile(iam, user):
    iam.create_login_profile(UserName=user, Password="Not-a-real-password-1!")
    return lambda: iam.delete_login_profile(UserName=user)


def _inline(iam, user):
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=POLICY)
    return lambda: iam.delete_user_policy(UserName=user, PolicyName="inline")


def _attached(iam, user):
    arn = iam.create_policy(PolicyName=f"{user}-p", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    return lambda: iam.detach_user_policy(UserName=user, PolicyArn=arn)


def _ssh_key(iam, user):
    body = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 test@example"
    key = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)["SSHPublicKey"]
    return lambda: iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"])


def _signing_certificate(iam, user):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    body = cert.public_bytes(serialization.Encoding.PEM).decode()
    made = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    return lambda: iam.delete_signing_certificate(
        UserName=user, CertificateId=made["CertificateId"]
    )


def _group(iam, user):
    iam.create_group(GroupName=f"{user}-g")
    iam.add_user_to_group(UserName=user, GroupName=f"{user}-g")
    return lambda: iam.remove_user_from_group(UserName=user, GroupName=f"{user}-g")


@pytest.mark.parametrize(
    "attach, message",
    [
        (_login_profile, "Cannot delete entity, must delete login profile first."),
        (_access_key, "Cannot delete entity, must delete access keys first."),
        (_signing_certificate, "Cannot delete entity, must delete signing certificates first."),
        (_ssh_key, "Cannot delete entity, must delete SSH public keys first."),
        (_mfa, "Cannot delete entity, must delete MFA device first."),
        (_inline, "Cannot delete entity, must delete policies first."),
        (_attached, "Cannot delete entity, must detach all policies first."),
        (_group, "Cannot delete entity, must remove users from group first."),
    ],
    ids=[
        "login-profile",
        "access-key",
        "signing-certificate",
        "ssh-key",
        "mfa",
        "inline-policy",
        "managed-policy",
        "group",
    ],
)
def test_delete_user_with_something_attached(aws, attach, message):
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html: "you must delete
    # the items attached to the user manually"; DeleteConflict (409) naming what is left, texts
    # as AWS sends them. moto refused only the inline and managed policies.
    iam = aws.client("iam")
    iam.create_user(UserName="ci")
    detach = attach(iam, "ci")
    refused(lambda: iam.delete_user(UserName="ci"), "DeleteConflict", 409, message)
    detach()
    iam.delete_user(UserName="ci")


# --- S3 ----------------------------------------------------------------------------------


def s3_client(aws, region: str = "us-east-1"):
    return boto3.client(
        "s3",
        endpoint_url=aws.endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def test_delete_bucket_not_empty_counts_versions_and_delete_markers(aws):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html "All objects
    # (including all object versions and delete markers) in the bucket must be deleted":
    # BucketNotEmpty (409), moto's own, versions and delete markers included.
    s3 = s3_client(aws)
    message = "The bucket you tried to delete is not empty"
    s3.create_bucket(Bucket="plain-bucket")
    s3.put_object(Bucket="plain-bucket", Key="k", Body=b"x")
    refused(lambda: s3.delete_bucket(Bucket="plain-bucket"), "BucketNotEmpty", 409, message)
    s3.delete_object(Bucket="plain-bucket", Key="k")
    s3.delete_bucket(Bucket="plain-bucket")

    s3.create_bucket(Bucket="versioned-bucket")
    s3.put_bucket_versioning(
        Bucket="versioned-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_object(Bucket="versioned-bucket", Key="k", Body=b"x")
    s3.delete_object(Bucket="versioned-bucket", Key="k")  # a delete marker over the version
    assert s3.list_objects_v2(Bucket="versioned-bucket")["KeyCount"] == 0
    refused(lambda: s3.delete_bucket(Bucket="versioned-bucket"), "BucketNotEmpty", 409, message)
    versions = s3.list_object_versions(Bucket="versioned-bucket")
    version = versions["Versions"][0]["VersionId"]
    s3.delete_object(Bucket="versioned-bucket", Key="k", VersionId=version)
    refused(lambda: s3.delete_bucket(Bucket="versioned-bucket"), "BucketNotEmpty", 409, message)
    marker = versions["DeleteMarkers"][0]["VersionId"]
    s3.delete_object(Bucket="versioned-bucket", Key="k", VersionId=marker)
    s3.delete_bucket(Bucket="versioned-bucket")


def test_create_bucket_you_own(aws):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html: BucketAlreadyOwnedByYou
    # (409), "except in the North Virginia Region. For legacy compatibility, if you re-create an
    # existing bucket that you already own in the North Virginia Region, Amazon S3 returns 200
    # OK". moto's own.
    s3_client(aws).create_bucket(Bucket="east-bucket")
    s3_client(aws).create_bucket(Bucket="east-bucket")
    west = s3_client(aws, "eu-west-1")
    config = {"LocationConstraint": "eu-west-1"}
    west.create_bucket(Bucket="west-bucket", CreateBucketConfiguration=config)
    refused(
        lambda: west.create_bucket(Bucket="west-bucket", CreateBucketConfiguration=config),
        "BucketAlreadyOwnedByYou",
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )


def test_new_bucket_blocks_public_access_and_encrypts(aws):
    # Every new bucket: Block Public Access all on (since April 2023) and SSE-S3 default
    # encryption (since January 2023). moto had neither (NoSuchPublicAccessBlockConfiguration,
    # ServerSideEncryptionConfigurationNotFoundError).
    s3 = s3_client(aws)
    s3.create_bucket(Bucket="new-bucket")
    assert s3.get_public_access_block(Bucket="new-bucket")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket="new-bucket")["ServerSideEncryptionConfiguration"]
    assert rules["Rules"] == [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]
    # Turned off, it stays off.
    s3.delete_public_access_block(Bucket="new-bucket")
    refused(
        lambda: s3.get_public_access_block(Bucket="new-bucket"),
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )


def test_bucket_versioning_answers_a_versioning_configuration(aws):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html: a bucket
    # never versioned returns no state; the root element is `VersioningConfiguration`. moto
    # answered `<GetBucketVersioningResponse>`, which the Rust SDK refuses to read.
    s3 = s3_client(aws)
    s3.create_bucket(Bucket="plain")
    bodies = []
    s3.meta.events.register(
        "after-call.s3.GetBucketVersioning",
        lambda http_response, **_: bodies.append(http_response.content.decode()),
    )
    assert "Status" not in s3.get_bucket_versioning(Bucket="plain")
    assert "<VersioningConfiguration" in bodies[0] and "GetBucketVersioningResponse" not in bodies[0]
    s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="plain")["Status"] == "Enabled"
    assert "<VersioningConfiguration" in bodies[1]


# --- Secrets Manager ---------------------------------------------------------------------


def test_create_secret_scheduled_for_deletion(aws):
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
    # InvalidRequestException (400) "You tried to create a secret with a name that is already
    # scheduled for deletion"; moto answered ResourceExistsException.
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="db", SecretString="one")
    sm.delete_secret(SecretId="db", RecoveryWindowInDays=7)
    refused(
        lambda: sm.create_secret(Name="db", SecretString="two"),
        "InvalidRequestException",
        400,
        "You can't create this secret because a secret with this name is already scheduled for "
        "deletion.",
    )
    sm.restore_secret(SecretId="db")
    refused(
        lambda: sm.create_secret(Name="db", SecretString="two"),
        "ResourceExistsException",
        400,
        "The operation failed because the secret db already exists.",
    )
    sm.delete_secret(SecretId="db", ForceDeleteWithoutRecovery=True)
    sm.create_secret(Name="db", SecretString="two")


def test_create_secret_sent_again_with_its_token(aws):
    # ClientRequestToken: the same value again is ignored, another value fails
    # (ResourceExistsException): moto's own.
    sm = aws.client("secretsmanager")
    token = "0123456789abcdef0123456789abcdef"
    first = sm.create_secret(Name="db", SecretString="one", ClientRequestToken=token)
    again = sm.create_secret(Name="db", SecretString="one", ClientRequestToken=token)
    assert again["VersionId"] == first["VersionId"] == token
    refused(
        lambda: sm.create_secret(Name="db", SecretString="two", ClientRequestToken=token),
        "ResourceExistsException",
        400,
        f"You can't use ClientRequestToken {token} because that value is already in use for a "
        f"version of secret {first['ARN']}.",
    )


def test_delete_secret_recovery_window(aws):
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
    # moto enforces these, with the CLI's "An error occurred ..." prefix and a run of spaces in
    # its messages; these are AWS's.
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="db", SecretString="one")
    window = "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    for days in (6, 31):
        refused(
            lambda: sm.delete_secret(SecretId="db", RecoveryWindowInDays=days),
            "InvalidParameterException",
            400,
            window,
        )
    refused(
        lambda: sm.delete_secret(
            SecretId="db", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True
        ),
        "InvalidParameterException",
        400,
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    )
    sm.delete_secret(SecretId="db", RecoveryWindowInDays=30)
    refused(
        lambda: sm.delete_secret(SecretId="db", RecoveryWindowInDays=7),
        "InvalidRequestException",
        400,
        "You tried to perform the operation on a secret that's currently marked deleted.",
    )
    sm.delete_secret(SecretId="db", ForceDeleteWithoutRecovery=True)
