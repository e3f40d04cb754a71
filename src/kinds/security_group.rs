use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup as SdkGroup, UserIdGroupPair,
};

use super::ec2::blockers::Scope;
use super::ec2::settle;
use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{earlier_in_vpc, named_vpc};
use crate::spec::rules::{lit_int, lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct SecurityGroup;

const DEFAULT_DESCRIPTION: &str = "Managed by rprov";

static RULE: Ty = Ty::Obj(&[
    Prop::new(
        "protocol",
        Ty::Enum(&["tcp", "udp", "icmp", "all"]),
        "IP protocol; `all` means every protocol and port.",
    )
    .default(Default::Str("tcp")),
    Prop::new("port", Ty::Int, "A single port (tcp, udp).").aws("ec2:IpPermission.FromPort"),
    Prop::new("from_port", Ty::Int, "First port of a range (tcp, udp), or the ICMP type (-1: all).")
        .aws("ec2:IpPermission.FromPort"),
    Prop::new("to_port", Ty::Int, "Last port of a range (tcp, udp), or the ICMP code (-1: all).")
        .aws("ec2:IpPermission.ToPort"),
    Prop::new("cidr", Ty::Cidr, "Source (ingress) or destination (egress) IPv4 range.").aws("ec2:IpRange.CidrIp"),
    Prop::new("security_group", Ty::Str, "Source or destination security group id (sg-...).")
        .aws("ec2:UserIdGroupPair.GroupId"),
    Prop::new("description", Ty::Str, "Shown in the console next to the rule.").aws("ec2:IpRange.Description"),
]);

/// What tells two rules apart (after `normalise` spells every port as a range); a rule whose
/// description alone changed is that rule changed.
const RULE_IDENTITY: &[&str] = &["protocol", "from_port", "to_port", "cidr", "security_group"];

static SCHEMA: KindSchema = KindSchema {
    name: "security_group",
    doc: "A VPC security group: a stateful firewall for the network interfaces that use it. \
          Rules are compared as sets; without a port, tcp and udp rules cover 0-65535 and icmp rules every type.",
    props: &[
        Prop::new("vpc", Ty::Str, "The VPC id (vpc-...).")
            .aws("ec2:CreateSecurityGroupRequest.VpcId")
            .required()
            .replaces(),
        Prop::new("name", Ty::Str, "Group name, unique in the VPC. Default: `<stack>-<id>`.")
            .aws("ec2:CreateSecurityGroupRequest.GroupName")
            .replaces(),
        Prop::new("description", Ty::Str, "Group description (AWS cannot change it in place).")
            .aws("ec2:CreateSecurityGroupRequest.Description")
            .default(Default::Str(DEFAULT_DESCRIPTION))
            .replaces(),
        Prop::new(
            "ingress",
            Ty::List(&RULE),
            "Inbound rules: protocol, port or from_port/to_port, cidr or security_group.",
        )
        .default(Default::EmptyList)
        .unordered()
        .keyed(RULE_IDENTITY),
        Prop::new(
            "egress",
            Ty::List(&RULE),
            "Outbound rules. Default: all traffic to 0.0.0.0/0, the rule AWS gives every new group.",
        )
        .unordered()
        .keyed(RULE_IDENTITY),
    ],
    attrs: &[
        Attr::new("id", "The group id (sg-...)."),
        Attr::new("name", "The group name."),
        Attr::new("arn", "The group's ARN."),
    ],
    taggable: true,
};

// ---- the canonical rule shape ------------------------------------------------------------
//
// One rule per source, as a map: `protocol` (tcp, udp, icmp, all, or AWS's number for any
// other), `from_port` and `to_port` (absent for `all`: AWS reports no ports for protocol -1),
// exactly one of `cidr`, `security_group`, `cidr_ipv6`, `prefix_list` (the last two only come
// from AWS: a rule added by hand shows up as drift), and `description` when not empty. Lists
// are sorted and free of duplicates. The stack's `port: 443` and AWS's IpPermission (which
// groups several sources under one protocol and port range) both become this.

const SOURCES: [&str; 4] = ["cidr", "security_group", "cidr_ipv6", "prefix_list"];

fn protocol_name(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "-1" | "all" => "all".into(),
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        other => other.into(),
    }
}

/// Ports of a rule that names none: every port, or for ICMP every type and code.
fn default_ports(protocol: &Value) -> (i64, i64) {
    if protocol.as_str() == Some("icmp") { (-1, -1) } else { (0, 65535) }
}

fn port(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::Null => None,
        v => Some(v.as_i64().map_or_else(|| v.clone(), Value::Int)),
    }
}

fn rule(base: &crate::value::Props, source: &str, value: Value, description: Option<&str>) -> Value {
    let mut m = base.clone();
    m.insert(source.into(), value);
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        m.insert("description".into(), Value::str(d));
    }
    Value::Map(m)
}

/// The stack's rule in canonical form (one entry per source it names).
fn canonical_rule(m: &crate::value::Props) -> Vec<Value> {
    let protocol = match m.get("protocol") {
        None | Some(Value::Null) => Value::str("tcp"),
        Some(Value::Str(p)) => Value::Str(protocol_name(p)),
        Some(other) => other.clone(),
    };
    let mut base = Props::from([("protocol".to_string(), protocol.clone())]);
    if protocol.as_str() != Some("all") {
        let (from, to) = match port(m.get("port")) {
            Some(p) => (p.clone(), p),
            None => {
                let (df, dt) = default_ports(&protocol);
                let from = port(m.get("from_port"));
                let to = port(m.get("to_port")).or_else(|| from.clone());
                (from.unwrap_or(Value::Int(df)), to.unwrap_or(Value::Int(dt)))
            }
        };
        base.insert("from_port".into(), from);
        base.insert("to_port".into(), to);
    }
    let description = m.get("description").and_then(Value::as_str);
    SOURCES
        .iter()
        .filter_map(|s| m.get(*s).filter(|v| !v.is_null()).map(|v| rule(&base, s, v.clone(), description)))
        .collect()
}

/// AWS's permissions in canonical form.
fn rules_from_sdk(perms: &[IpPermission]) -> Vec<Value> {
    let mut out = vec![];
    for p in perms {
        let protocol = Value::Str(protocol_name(p.ip_protocol().unwrap_or("-1")));
        let mut base = Props::from([("protocol".to_string(), protocol.clone())]);
        if protocol.as_str() != Some("all") {
            let (df, dt) = default_ports(&protocol);
            base.insert("from_port".into(), Value::Int(p.from_port().map_or(df, i64::from)));
            base.insert("to_port".into(), Value::Int(p.to_port().map_or(dt, i64::from)));
        }
        for r in p.ip_ranges() {
            out.extend(r.cidr_ip().map(|c| rule(&base, "cidr", Value::str(c), r.description())));
        }
        for r in p.user_id_group_pairs() {
            out.extend(r.group_id().map(|g| rule(&base, "security_group", Value::str(g), r.description())));
        }
        for r in p.ipv6_ranges() {
            out.extend(r.cidr_ipv6().map(|c| rule(&base, "cidr_ipv6", Value::str(c), r.description())));
        }
        for r in p.prefix_list_ids() {
            out.extend(r.prefix_list_id().map(|c| rule(&base, "prefix_list", Value::str(c), r.description())));
        }
    }
    sorted(out)
}

/// The stack's rules in canonical form.
fn canonical_rules(rules: &[Value]) -> Vec<Value> {
    let exploded = rules
        .iter()
        .flat_map(|r| match r {
            Value::Map(m) => canonical_rule(m),
            // Not known yet as a whole: kept, so the plan shows it as such.
            other => vec![other.clone()],
        })
        .collect();
    sorted(exploded)
}

fn sorted(mut rules: Vec<Value>) -> Vec<Value> {
    fn key(r: &Value) -> (String, i64, i64, String, String) {
        let m = r.as_map();
        let text = |k: &str| m.and_then(|m| m.get(k)).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        let num = |k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_i64).unwrap_or(i64::MIN);
        let source = SOURCES.iter().find_map(|s| Some(format!("{s}={}", text(s)?))).unwrap_or_default();
        (
            text("protocol").unwrap_or_default(),
            num("from_port"),
            num("to_port"),
            source,
            text("description").unwrap_or_default(),
        )
    }
    rules.sort_by_cached_key(key);
    rules.dedup();
    rules
}

fn allow_all() -> Value {
    Value::Map(crate::value::Props::from([
        ("protocol".to_string(), Value::str("all")),
        ("cidr".to_string(), Value::str("0.0.0.0/0")),
    ]))
}

/// The rules `props` asks for in one direction, canonical, defaults applied.
fn desired_rules(props: &Props, egress: bool) -> Vec<Value> {
    match props.get(if egress { "egress" } else { "ingress" }) {
        Some(Value::List(l)) => canonical_rules(l),
        None | Some(Value::Null) if egress => canonical_rules(&[allow_all()]),
        _ => vec![],
    }
}

fn to_permission(rule: &Value) -> IpPermission {
    let empty = Props::new();
    let m = rule.as_map().unwrap_or(&empty);
    let text = |k: &str| m.get(k).and_then(Value::as_str);
    let num = |k: &str| m.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
    let protocol = match text("protocol").unwrap_or("tcp") {
        "all" => "-1",
        p => p,
    };
    let description = text("description").map(str::to_owned);
    let mut p =
        IpPermission::builder().ip_protocol(protocol).set_from_port(num("from_port")).set_to_port(num("to_port"));
    if let Some(c) = text("cidr") {
        p = p.ip_ranges(IpRange::builder().cidr_ip(c).set_description(description).build());
    } else if let Some(g) = text("security_group") {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).set_description(description).build());
    } else if let Some(c) = text("cidr_ipv6") {
        p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).set_description(description).build());
    } else if let Some(l) = text("prefix_list") {
        p = p.prefix_list_ids(PrefixListId::builder().prefix_list_id(l).set_description(description).build());
    }
    p.build()
}

/// What turns `live` into `desired`: rules to authorize, rules whose description alone differs
/// (changed in place, so the rule never disappears), rules to revoke.
#[derive(Debug, Default, PartialEq)]
struct RuleDiff {
    add: Vec<Value>,
    redescribe: Vec<Value>,
    remove: Vec<Value>,
}

fn diff_rules(desired: &[Value], live: &[Value]) -> RuleDiff {
    fn identity(r: &Value) -> Value {
        match r {
            Value::Map(m) => {
                Value::Map(m.iter().filter(|(k, _)| *k != "description").map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            other => other.clone(),
        }
    }
    let mut diff = RuleDiff::default();
    for d in desired {
        match live.iter().find(|l| identity(l) == identity(d)) {
            None => diff.add.push(d.clone()),
            Some(l) if l != d => diff.redescribe.push(d.clone()),
            Some(_) => {}
        }
    }
    diff.remove = live.iter().filter(|l| !desired.iter().any(|d| identity(d) == identity(l))).cloned().collect();
    diff
}

// ---- AWS ----------------------------------------------------------------------------------

fn live(g: &SdkGroup) -> Live {
    let id = g.group_id().unwrap_or_default().to_owned();
    let name = g.group_name().unwrap_or_default();
    let mut props = Props::new();
    props.insert("vpc".into(), Value::str(g.vpc_id().unwrap_or_default()));
    props.insert("name".into(), Value::str(name));
    props.insert("description".into(), Value::str(g.description().unwrap_or_default()));
    props.insert("ingress".into(), Value::List(rules_from_sdk(g.ip_permissions())));
    props.insert("egress".into(), Value::List(rules_from_sdk(g.ip_permissions_egress())));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("name".into(), Value::str(name));
    if let Some(arn) = g.security_group_arn() {
        attrs.insert("arn".into(), Value::str(arn));
    }
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(g.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<SdkGroup, AwsError> {
    let out = client(cx).describe_security_groups().group_ids(id).send().await.map_err(classify)?;
    out.security_groups().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

async fn send_authorize(cx: &Cx, group: &str, egress: bool, rules: &[Value]) -> Result<(), AwsError> {
    let perms = Some(rules.iter().map(to_permission).collect());
    let ec2 = client(cx);
    if egress {
        ec2.authorize_security_group_egress()
            .group_id(group)
            .set_ip_permissions(perms)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    } else {
        ec2.authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(perms)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

async fn authorize(cx: &Cx, group: &str, egress: bool, rules: &[Value]) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    // InvalidPermission.Duplicate fails the whole request. It is what the SDK's retry of a
    // request whose response was lost gets back, or a rule someone added meanwhile: send the
    // rules one by one so that every other rule still gets in.
    match send_authorize(cx, group, egress, rules).await {
        Err(AwsError::AlreadyExists(_)) => {
            for r in rules {
                match send_authorize(cx, group, egress, std::slice::from_ref(r)).await {
                    Ok(()) | Err(AwsError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        other => other,
    }
}

async fn redescribe(cx: &Cx, group: &str, egress: bool, rules: &[Value]) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    let perms = Some(rules.iter().map(to_permission).collect());
    let ec2 = client(cx);
    if egress {
        let sent =
            ec2.update_security_group_rule_descriptions_egress().group_id(group).set_ip_permissions(perms).send().await;
        sent.map(|_| ()).map_err(classify)
    } else {
        let sent = ec2
            .update_security_group_rule_descriptions_ingress()
            .group_id(group)
            .set_ip_permissions(perms)
            .send()
            .await;
        sent.map(|_| ()).map_err(classify)
    }
}

async fn revoke(cx: &Cx, group: &str, egress: bool, rules: &[Value]) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    let perms = Some(rules.iter().map(to_permission).collect());
    let ec2 = client(cx);
    let sent = if egress {
        ec2.revoke_security_group_egress()
            .group_id(group)
            .set_ip_permissions(perms)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    } else {
        ec2.revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(perms)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    };
    // InvalidPermission.NotFound: revoked already.
    ec2::gone_ok(sent)
}

/// Brings the group's rules to `props`, from the rules AWS has now (not the recorded ones), so
/// rules changed by hand are repaired too. On create this also revokes AWS's default egress
/// rule when the stack asks for other egress. Safe to run again after any failure.
async fn converge(cx: &Cx, group: &str, props: &Props) -> Result<(), AwsError> {
    let g = describe_one(cx, group).await?;
    for egress in [false, true] {
        let have = rules_from_sdk(if egress { g.ip_permissions_egress() } else { g.ip_permissions() });
        let diff = diff_rules(&desired_rules(props, egress), &have);
        // Authorize before revoking: traffic allowed before and after is never cut off.
        authorize(cx, group, egress, &diff.add).await?;
        redescribe(cx, group, egress, &diff.redescribe).await?;
        revoke(cx, group, egress, &diff.remove).await?;
    }
    Ok(())
}

/// After InvalidGroup.Duplicate: the group with that name in that VPC, if it is the one this
/// resource created (an earlier attempt whose response was lost: the tags travel in the
/// create call). A group of anyone else is never taken over.
async fn adopt(cx: &Cx, req: &CreateReq<'_>, name: &str, vpc: &str, duplicate: &str) -> Result<String, AwsError> {
    let filter = |k: &str, v: &str| Filter::builder().name(k).values(v).build();
    let out = client(cx)
        .describe_security_groups()
        .filters(filter("group-name", name))
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .map_err(classify)?;
    let ours = |g: &&SdkGroup| {
        let tags = ec2::from_sdk(g.tags());
        super::carries_ownership(&tags, req.tags)
    };
    match out.security_groups().iter().find(ours).and_then(|g| g.group_id()) {
        Some(id) => Ok(id.to_owned()),
        None => Err(AwsError::AlreadyExists(format!(
            "security group {name:?} exists in {vpc} and was not created for {}: choose another name ({duplicate})",
            req.id
        ))),
    }
}

/// The characters AWS takes in security group names and (rule) descriptions, besides ASCII
/// letters, digits and spaces.
const TEXT_PUNCTUATION: &str = "._-:/()#,@[]+=&;{}!$*";

/// Why AWS refuses `text` (a name or description at `path`), if it does.
fn text_problem(path: &str, what: &str, text: &str) -> Option<Problem> {
    let len = text.chars().count();
    if len > 255 {
        return Some(Problem::new(path, format!("{what} is {len} characters; AWS allows at most 255")));
    }
    let mut bad = String::new();
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == ' ' || TEXT_PUNCTUATION.contains(c) || bad.contains(c)) {
            bad.push(c);
        }
    }
    (!bad.is_empty()).then(|| {
        Problem::new(path, format!("{what} has characters AWS refuses: `{bad}`"))
            .help(format!("AWS allows a-z, A-Z, 0-9, spaces and {TEXT_PUNCTUATION}"))
    })
}

/// Whether `name` is, case aside, `<stack>-<id>` (without building it: every group of a stack
/// is compared with the ones before it).
fn is_default_name(name: &str, stack: &str, id: &str) -> bool {
    name.len() == stack.len() + 1 + id.len()
        && name.get(..stack.len()).is_some_and(|s| s.eq_ignore_ascii_case(stack))
        && name.as_bytes()[stack.len()] == b'-'
        && name.get(stack.len() + 1..).is_some_and(|i| i.eq_ignore_ascii_case(id))
}

/// Why AWS refuses the group name `name` (written in the stack, or the default `<stack>-<id>`).
fn name_problem(name: &str, given: bool) -> Option<Problem> {
    let (path, hint) = if given {
        ("name", "choose another `name`")
    } else {
        ("", "give the group a `name` (the default is `<stack>-<id>`)")
    };
    if name.starts_with("sg-") {
        return Some(
            Problem::new(
                path,
                format!("security group name `{name}` starts with `sg-`, which AWS keeps for group ids"),
            )
            .help(hint),
        );
    }
    if name.trim().is_empty() {
        return Some(
            Problem::new(path, "the security group name is empty").help("leave `name` out for `<stack>-<id>`"),
        );
    }
    if name.eq_ignore_ascii_case("default") {
        return Some(
            Problem::new(
                path,
                "`default` is the name of the group AWS makes with every VPC: AWS refuses it for another",
            )
            .help(hint),
        );
    }
    text_problem(path, "the name", name)
}

impl KindSpec for SecurityGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateSecurityGroup, AuthorizeSecurityGroupIngress/Egress, IpRange): names,
    /// descriptions and rule descriptions of up to 255 characters from a-z, A-Z, 0-9, spaces
    /// and `._-:/()#,@[]+=&;{}!$*`; a name that does not start with `sg-`, is not `default`
    /// (InvalidGroup.Reserved) and is unique in the VPC, case aside (InvalidGroup.Duplicate); a
    /// rule with one source; a tcp/udp port range that does not run backwards; all ICMP codes
    /// when all ICMP types.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        use crate::stack::Expr;
        let mut out = Vec::new();
        if let Some(e) = s.get("vpc") {
            out.extend(wrong_kind(s, "vpc", e, &["vpc"]));
        }
        let (name, given) = match s.str("name") {
            Some(n) => (n.to_owned(), true),
            None => (s.default_name(), false),
        };
        if given || s.get("name").is_none() {
            out.extend(name_problem(&name, given));
        }
        if let Some(d) = s.str("description") {
            out.extend(text_problem("description", "the description", d));
        }
        if let Some(vpc) = s.get("vpc").and_then(|e| named_vpc(s.stack, e))
            && s.get("name").is_none_or(|e| lit_str(Some(e)).is_some())
        {
            let twin = earlier_in_vpc(s.stack, "security_group", s.id, vpc).into_iter().find(|(id, props)| match props
                .get("name")
            {
                None => is_default_name(&name, s.stack.name(), id),
                other => lit_str(other).is_some_and(|n| n.eq_ignore_ascii_case(&name)),
            });
            if let Some((other, _)) = twin {
                let p = Problem::new(
                    if given { "name" } else { "" },
                    format!(
                        "security group name `{name}` is also `{other}`'s in {vpc}: AWS names a security group once per VPC, case aside"
                    ),
                );
                out.push(p.help("give one of them another `name`"));
            }
        }
        for list in ["ingress", "egress"] {
            let rules = s.list(list);
            for (i, r) in rules.iter().enumerate() {
                let Expr::Map(m) = r else { continue };
                let sources = ["cidr", "security_group"].iter().filter(|t| m.contains_key(**t)).count();
                if sources != 1 {
                    out.push(Problem::new(
                        format!("{list}.{i}"),
                        format!("a rule needs exactly one of cidr, security_group (found {sources})"),
                    ));
                }
                if let Some(g) = m.get("security_group") {
                    out.extend(wrong_kind(s, &format!("{list}.{i}.security_group"), g, &["security_group"]));
                }
                let protocol = lit_str(m.get("protocol")).unwrap_or("tcp");
                let icmp = protocol == "icmp";
                let low = if icmp { -1 } else { 0 };
                for port in ["port", "from_port", "to_port"] {
                    if let Some(Expr::Lit(v)) = m.get(port)
                        && let Some(n) = v.as_i64().filter(|n| !(low..=65535).contains(n))
                    {
                        out.push(Problem::new(
                            format!("{list}.{i}.{port}"),
                            format!("`{port}` {n} is out of range: expected {low} to 65535"),
                        ));
                    }
                }
                if m.contains_key("port") && (m.contains_key("from_port") || m.contains_key("to_port")) {
                    out.push(Problem::new(
                        format!("{list}.{i}"),
                        "give either `port` or `from_port`/`to_port`, not both",
                    ));
                }
                let (from, to) = (lit_int(m.get("from_port")), lit_int(m.get("to_port")));
                match (protocol, from, to) {
                    ("tcp" | "udp", Some(f), Some(t)) if f > t => out.push(
                        Problem::new(
                            format!("{list}.{i}"),
                            format!("the port range runs backwards: `from_port` {f} is above `to_port` {t}"),
                        )
                        .help(format!("AWS takes from_port {t}, to_port {f}")),
                    ),
                    ("icmp", Some(-1), Some(code)) if code != -1 => out.push(
                        Problem::new(
                            format!("{list}.{i}.to_port"),
                            format!("ICMP code {code} with every ICMP type (`from_port: -1`): AWS takes every type only with every code"),
                        )
                        .help("set `to_port: -1`, or name one ICMP type in `from_port`"),
                    ),
                    _ => {}
                }
                if let Some(d) = lit_str(m.get("description")) {
                    out.extend(text_problem(&format!("{list}.{i}.description"), "the rule's description", d));
                }
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(format!("{stack}-{id}")));
        }
        for (dir, egress) in [("ingress", false), ("egress", true)] {
            if matches!(props.get(dir), Some(Value::Unknown)) {
                continue;
            }
            let rules = desired_rules(props, egress);
            props.insert(dir.into(), Value::List(rules));
        }
    }

    /// A rule on one port as `port:`, as a stack writes it (the same rule once normalised).
    fn imported_props(&self, live: &Live) -> Props {
        let mut props = live.props.clone();
        for dir in ["ingress", "egress"] {
            if let Some(Value::List(rules)) = props.get_mut(dir) {
                for r in rules.iter_mut() {
                    if let Value::Map(m) = r
                        && m.get("from_port").is_some()
                        && m.get("from_port") == m.get("to_port")
                        && let Some(p) = m.remove("from_port")
                    {
                        m.remove("to_port");
                        m.insert("port".into(), p);
                    }
                }
            }
        }
        props
    }

    /// AWS: every VPC has a group named `default`, which cannot be deleted, and no other group
    /// may take that name.
    fn made_by_aws(&self, live: &Live) -> Option<&'static str> {
        (live.props.get("name").and_then(Value::as_str) == Some("default")).then_some("the VPC's default security group")
    }

    /// Retrying the create is safe: a second CreateSecurityGroup with the same name finds the
    /// group the first one made (InvalidGroup.Duplicate) and `adopt` takes it by its tags.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "security-group"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DeleteSecurityGroup"), ("ec2", "CreateSecurityGroup")])
    }
}

#[async_trait]
impl Kind for SecurityGroup {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let groups =
            crate::aws::all_items(client(cx).describe_security_groups().into_paginator().items().send()).await?;
        Ok(groups.iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let text = |k: &str| req.props.get(k).and_then(Value::as_str);
        let name = text("name").map_or_else(|| format!("{}-{}", cx.stack, req.id), str::to_owned);
        let vpc = text("vpc").unwrap_or_default();
        // No idempotency token, and none needed: the SDK's retry of a create whose response was
        // lost fails with InvalidGroup.Duplicate (classified AlreadyExists), and the group is
        // then found by name and ownership tags.
        let op = client(cx)
            .create_security_group()
            .group_name(&name)
            .description(text("description").unwrap_or(DEFAULT_DESCRIPTION))
            .vpc_id(vpc)
            .tag_specifications(ec2::tag_spec(ResourceType::SecurityGroup, req.tags));
        let id = settle(cx, req.id, "the VPC", || {
            let op = op.clone();
            let name = &name;
            async move {
                match op.send().await.map_err(classify) {
                    Ok(out) => out
                        .group_id()
                        .map(str::to_owned)
                        .ok_or_else(|| AwsError::Failed("CreateSecurityGroup returned no group id".into())),
                    Err(AwsError::AlreadyExists(m)) => adopt(cx, req, name, vpc, &m).await,
                    Err(e) => Err(e),
                }
            }
        })
        .await?;
        // The new group, and groups its rules reference, may be unknown for a few seconds.
        settle(cx, req.id, &format!("security group {id}"), || converge(cx, &id, req.props)).await?;
        let mut l = live(&describe_one(cx, &id).await?);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "ingress" || c == "egress") {
            let what = format!("security group {}", req.physical_id);
            settle(cx, req.id, &what, || converge(cx, req.physical_id, req.new)).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // DependencyViolation while ENIs (load balancers, tasks, mount targets) still use it:
        // InUse, retried by the executor with backoff; while another group's rules or an
        // instance use it, Blocked.
        let sent =
            client(cx).delete_security_group().group_id(req.physical_id).send().await.map(|_| ()).map_err(classify);
        ec2::gone_ok(ec2::blockers::refused(cx, Scope::Group(req.physical_id), sent).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn perm(protocol: &str, ports: Option<(i32, i32)>) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
        let p = IpPermission::builder().ip_protocol(protocol);
        match ports {
            Some((f, t)) => p.from_port(f).to_port(t),
            None => p,
        }
    }

    fn cidr(c: &str) -> IpRange {
        IpRange::builder().cidr_ip(c).build()
    }

    /// The stack's `rules` after `normalise` equal AWS's `perms` as `read_many` reports them.
    fn check(rules: Vec<Value>, perms: Vec<IpPermission>) {
        let mut props = Props::from([("ingress".to_string(), Value::List(rules))]);
        SecurityGroup.normalise("s", "web", &mut props);
        assert_eq!(props["ingress"], Value::List(rules_from_sdk(&perms)));
    }

    #[test]
    fn desired_and_live_rules_meet_in_one_shape() {
        // port: 443, protocol defaulted to tcp.
        check(
            vec![map(&[("port", 443.into()), ("cidr", "10.0.0.0/16".into())])],
            vec![perm("tcp", Some((443, 443))).ip_ranges(cidr("10.0.0.0/16")).build()],
        );
        // from/to, two sources of one AWS permission, a description, another order.
        check(
            vec![
                map(&[
                    ("protocol", "tcp".into()),
                    ("from_port", 8000.into()),
                    ("to_port", 8100.into()),
                    ("security_group", "sg-b".into()),
                ]),
                map(&[
                    ("from_port", 8000.into()),
                    ("to_port", 8100.into()),
                    ("cidr", "10.1.0.0/16".into()),
                    ("description", "vpn".into()),
                ]),
            ],
            vec![
                perm("tcp", Some((8000, 8100)))
                    .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").description("vpn").build())
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-b").user_id("123456789012").build())
                    .build(),
            ],
        );
        // all <-> -1 without ports; numeric protocols; icmp without ports is every type.
        check(
            vec![
                map(&[("protocol", "all".into()), ("cidr", "0.0.0.0/0".into())]),
                map(&[("protocol", "udp".into()), ("port", 53.into()), ("cidr", "10.0.0.2/32".into())]),
                map(&[("protocol", "icmp".into()), ("cidr", "10.0.0.0/8".into()), ("description", "".into())]),
            ],
            vec![
                perm("-1", None).ip_ranges(cidr("0.0.0.0/0")).build(),
                perm("17", Some((53, 53))).ip_ranges(cidr("10.0.0.2/32")).build(),
                perm("icmp", Some((-1, -1))).ip_ranges(cidr("10.0.0.0/8")).build(),
            ],
        );
        // No ports on tcp: every port, as AWS reports "All TCP".
        check(
            vec![map(&[("cidr", "10.0.0.0/8".into())])],
            vec![perm("tcp", Some((0, 65535))).ip_ranges(cidr("10.0.0.0/8")).build()],
        );
        // Duplicates in the stack collapse.
        check(
            vec![
                map(&[("port", 22.into()), ("cidr", "10.0.0.0/8".into())]),
                map(&[("port", 22.into()), ("cidr", "10.0.0.0/8".into())]),
            ],
            vec![perm("tcp", Some((22, 22))).ip_ranges(cidr("10.0.0.0/8")).build()],
        );
    }

    #[test]
    fn imported_rules_on_one_port_read_as_port_and_normalise_back() {
        let ssh = perm("tcp", Some((22, 22))).ip_ranges(cidr("203.0.113.0/24")).build();
        let range = perm("tcp", Some((1024, 65535))).ip_ranges(cidr("0.0.0.0/0")).build();
        let live_props = Props::from([
            ("name".to_string(), Value::str("web")),
            ("ingress".to_string(), Value::List(rules_from_sdk(&[ssh, range]))),
            ("egress".to_string(), Value::List(vec![])),
        ]);
        let live = Live { physical_id: "sg-1".into(), props: live_props.clone(), attrs: Props::new(), tags: crate::kinds::Tags::new() };
        let mut imported = SecurityGroup.imported_props(&live);
        let first = imported["ingress"].as_list()[0].as_map().unwrap().clone();
        assert_eq!((first.get("port"), first.get("from_port")), (Some(&Value::Int(22)), None));
        assert!(imported["ingress"].as_list()[1].as_map().unwrap().contains_key("from_port"), "a range stays a range");
        SecurityGroup.normalise("s", "web", &mut imported);
        assert_eq!(imported, live_props);
    }

    #[test]
    fn normalise_fills_in_name_and_default_egress() {
        let mut props = Props::new();
        SecurityGroup.normalise("shop", "web", &mut props);
        assert_eq!(props["name"], Value::str("shop-web"));
        assert_eq!(props["ingress"], Value::List(vec![]));
        // The rule AWS puts in every new group, so a stack without egress plans no change.
        let aws_default = perm("-1", None).ip_ranges(cidr("0.0.0.0/0")).build();
        assert_eq!(props["egress"], Value::List(rules_from_sdk(&[aws_default])));

        let mut props =
            Props::from([("name".to_string(), Value::str("given")), ("egress".to_string(), Value::List(vec![]))]);
        SecurityGroup.normalise("shop", "web", &mut props);
        assert_eq!(props["name"], Value::str("given"));
        assert_eq!(props["egress"], Value::List(vec![]), "an explicit empty egress means none");
    }

    #[test]
    fn unknown_sources_survive_normalise() {
        let mut props = Props::from([(
            "ingress".to_string(),
            Value::List(vec![map(&[("port", 5432.into()), ("security_group", Value::Unknown)])]),
        )]);
        SecurityGroup.normalise("s", "db", &mut props);
        assert!(props["ingress"].has_unknown());
        assert_eq!(props["ingress"].as_list().len(), 1);
    }

    #[test]
    fn a_description_change_is_made_in_place() {
        let rule = |d: Option<&str>, port: i64| {
            let mut m = vec![("port", Value::Int(port)), ("cidr", "10.0.0.0/8".into())];
            if let Some(d) = d {
                m.push(("description", d.into()));
            }
            canonical_rules(&[map(&m)]).remove(0)
        };
        let live = vec![rule(Some("old"), 22), rule(None, 80)];
        let desired = vec![rule(Some("new"), 22), rule(None, 443)];
        assert_eq!(
            diff_rules(&desired, &live),
            RuleDiff {
                add: vec![rule(None, 443)],
                redescribe: vec![rule(Some("new"), 22)],
                remove: vec![rule(None, 80)]
            }
        );
    }

    #[test]
    fn canonical_rules_go_back_to_the_same_permission() {
        let rule = canonical_rules(&[map(&[("protocol", "all".into()), ("cidr", "0.0.0.0/0".into())])]).remove(0);
        let p = to_permission(&rule);
        assert_eq!((p.ip_protocol(), p.from_port(), p.to_port()), (Some("-1"), None, None));
        let rule = canonical_rules(&[map(&[
            ("port", 443.into()),
            ("security_group", "sg-1".into()),
            ("description", "lb".into()),
        ])])
        .remove(0);
        assert_eq!(rules_from_sdk(&[to_permission(&rule)]), vec![rule]);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const VPC: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n";

    #[test]
    fn names_and_descriptions() {
        valid(&format!(
            "{VPC}  a: {{ type: security_group, vpc: '${{vpc.id}}', name: 'web (tier-1) #2: a/b@c[d]+e=f&g;{{h}}!$*', description: 'Load balancer - HTTP, HTTPS' }}"
        ));
        let p = problems(&format!(
            "{VPC}  a: {{ type: security_group, vpc: '${{vpc.id}}', name: sg-web }}\n  b: {{ type: security_group, vpc: '${{vpc.id}}', name: Default }}\n  c: {{ type: security_group, vpc: '${{vpc.id}}', description: \"Team's group\" }}\n  d: {{ type: security_group, vpc: '${{vpc.id}}', name: '{}' }}",
            "x".repeat(256)
        ));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("2:54: security group name `sg-web` starts with `sg-`"), "{p:?}");
        assert!(p[1].starts_with("3:54: `default` is the name of the group AWS makes"), "{p:?}");
        assert!(p[2].starts_with("4:61: the description has characters AWS refuses: `'`"), "{p:?}");
        assert!(p[3].contains("the name is 256 characters; AWS allows at most 255"), "{p:?}");
        let p = problems(&format!("{VPC}  a: {{ type: security_group, vpc: '${{vpc.id}}', name: '' }}"));
        assert!(p.len() == 1 && p[0].contains("the security group name is empty"), "{p:?}");
    }

    #[test]
    fn default_name_of_a_stack_called_sg() {
        let text = "stack: sg\nregion: us-east-1\nresources:\n  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n  web: { type: security_group, vpc: '${vpc.id}' }\n";
        let Err((_, d)) = crate::stack::load_str(
            &crate::kinds::KINDS,
            crate::stack::Source::new("t.yaml", text),
            &Default::default(),
        ) else {
            panic!("sg-web passed")
        };
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("`sg-web` starts with `sg-`")
                && d[0].help.as_deref().unwrap().contains("give the group a `name`"),
            "{d:?}"
        );
    }

    #[test]
    fn one_name_per_vpc() {
        // Another VPC may reuse a name.
        valid(&format!(
            "{VPC}  other: {{ type: vpc, cidr: 10.1.0.0/16 }}\n  a: {{ type: security_group, vpc: '${{vpc.id}}', name: web }}\n  b: {{ type: security_group, vpc: '${{other.id}}', name: web }}"
        ));
        let p = problems(&format!(
            "{VPC}  a: {{ type: security_group, vpc: '${{vpc.id}}', name: Web }}\n  b: {{ type: security_group, vpc: '${{vpc.id}}', name: web }}\n  s-c: {{ type: security_group, vpc: '${{vpc.id}}' }}\n  d: {{ type: security_group, vpc: '${{vpc.id}}', name: s-s-c }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("3:54: security group name `web` is also `a`'s in VPC `vpc`"), "{p:?}");
        assert!(p[1].starts_with("5:54: security group name `s-s-c` is also `s-c`'s"), "{p:?}");
    }

    #[test]
    fn port_ranges_and_icmp() {
        valid(&format!(
            "{VPC}  a: {{ type: security_group, vpc: '${{vpc.id}}', ingress: [{{ from_port: 80, to_port: 80, cidr: 0.0.0.0/0 }}, {{ protocol: icmp, from_port: 3, to_port: 4, cidr: 0.0.0.0/0 }}, {{ protocol: icmp, from_port: -1, to_port: -1, cidr: 0.0.0.0/0, description: ping }}] }}"
        ));
        let p = problems(&format!(
            "{VPC}  a: {{ type: security_group, vpc: '${{vpc.id}}', ingress: [{{ from_port: 443, to_port: 80, cidr: 0.0.0.0/0 }}, {{ protocol: icmp, from_port: -1, to_port: 4, cidr: 0.0.0.0/0, description: 'ping é' }}] }}"
        ));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("the port range runs backwards: `from_port` 443 is above `to_port` 80"), "{p:?}");
        assert!(p[1].contains("ICMP code 4 with every ICMP type"), "{p:?}");
        assert!(p[2].contains("the rule's description has characters AWS refuses: `é`"), "{p:?}");
    }
}
