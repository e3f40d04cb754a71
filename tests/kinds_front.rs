//! The front-door kinds (hosted zone, certificate, load balancer, target group, listeners, DNS
//! records) against the strict local AWS, through the `Kind` trait only: create with ownership
//! tags, find it again with `read_many` with props equal to the stack's normalised values (a
//! second plan shows no diff), update in place, delete in reverse order, gone.
//!
//! The local AWS shows the load balancer `provisioning` and the certificate `PENDING_VALIDATION`
//! for the first two polls, so the waiters run here too; their failure states and budgets are
//! unit-tested with aws-smithy-mocks in the kinds.

use std::time::Duration;

use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, list, map, props, read};
use rprov::kinds::{CreateReq, Kind, Live, Tags, UpdateReq, kind, read_owned};
use rprov::value::{Props, Value};

const STACK: &str = "front";
const DOMAIN: &str = "front-itest.example.com";

async fn cx(aws: &LocalAws) -> Cx {
    cx_with(aws, Duration::from_secs(30)).await
}

async fn cx_with(aws: &LocalAws, timeout: Duration) -> Cx {
    let wait = WaitConfig { timeout, poll: Duration::from_millis(50), max_poll: Duration::from_millis(200) };
    testing::local_cx(STACK, &aws.endpoint(), wait).await
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "web")
}

/// The stack's values as the planner compares them: schema defaults (nested ones too), then
/// `normalise`, then unordered lists sorted.
fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(k, STACK, id, given)
}

/// What the planner compares (after sorting unordered lists): the live value of every property
/// the stack gives a value; a property AWS cannot report is taken as recorded.
fn compared(k: &dyn Kind, live: &Live, want: &Props) -> Props {
    let mut current = live.props.clone();
    rprov::plan::canonical(k.schema(), &mut current);
    want.keys()
        .map(|k| (k.clone(), current.get(k).cloned().unwrap_or_else(|| want[k].clone())))
        .filter(|(_, v)| !v.is_null())
        .collect()
}

fn not_readable(k: &dyn Kind) -> Vec<&'static str> {
    match k.schema().name {
        "target_group" => vec!["deregistration_delay"],
        "certificate" => vec!["zone"],
        "hosted_zone" => vec!["lookup"],
        _ => vec![],
    }
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let tags = owned_tags(id);
    let token = format!("rprov-{id}-0123456789abcdef0123456789abcdef");
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: &token })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let found = read(cx, k, std::slice::from_ref(&made.physical_id), &made.physical_id)
        .await
        .unwrap_or_else(|| panic!("read_many finds {id}"));
    assert_eq!(compared(k, &found, &want), want, "{id}: live props differ from the stack's (perpetual diff)");
    for p in not_readable(k) {
        assert!(!found.props.contains_key(p), "{id}: {p} is documented as not read back");
    }
    if k.schema().taggable {
        assert_eq!(found.tags, tags, "{id}: tags");
    }
    for (name, v) in &found.props {
        assert_eq!(made.props.get(name), Some(v), "{id}: create returns what read_many reads ({name})");
    }
    for (name, v) in &found.attrs {
        assert_eq!(made.attrs.get(name), Some(v), "{id}: attribute {name}");
    }
    // As the planner does: attributes read only on create (a zone's name servers) stay as recorded.
    let mut live = found;
    let mut attrs = made.attrs;
    attrs.extend(live.attrs);
    live.attrs = attrs;
    Res { kind: k, id, live, applied: want }
}

async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) {
    let new = desired(res.kind, res.id, &props(given));
    let old_tags = res.live.tags.clone();
    let tags = tags.unwrap_or_else(|| old_tags.clone());
    let current = compared(res.kind, &res.live, &res.applied);
    let mut changed: Vec<String> =
        new.iter().filter(|(k, v)| current.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    if tags != old_tags {
        changed.push("tags".into());
    }
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &current,
        new: &new,
        changed: &changed,
        old_tags: &old_tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
    let found = read(cx, res.kind, &[res.pid().to_owned()], res.pid())
        .await
        .unwrap_or_else(|| panic!("read_many finds {} after update", res.id));
    assert_eq!(compared(res.kind, &found, &new), new, "{}: props after update", res.id);
    assert_eq!(found.tags, tags, "{}: tags after update", res.id);
    for (name, v) in &found.props {
        assert_eq!(out.props.get(name), Some(v), "{}: update returns what read_many reads ({name})", res.id);
    }
    let mut attrs = std::mem::take(&mut res.live.attrs);
    res.live = found;
    attrs.extend(std::mem::take(&mut res.live.attrs));
    res.live.attrs = attrs;
    res.applied = new;
}

async fn delete(cx: &Cx, res: Res) {
    let req = res.delete_req();
    res.kind.delete(cx, &req).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
    assert!(read(cx, res.kind, &[res.pid().to_owned()], res.pid()).await.is_none(), "{} still listed", res.id);
    assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
}

#[tokio::test]
async fn front_door_chain_round_trip() {
    let aws = LocalAws::builder().eventual("load_balancer", 2).eventual("certificate", 2).start();
    let cx = cx(&aws).await;

    // The network under it, through the network kinds.
    let vpc = create(&cx, "vpc", "vpc", &[("cidr", "10.0.0.0/16".into())]).await;
    let vpc_id = vpc.attr("id");
    let igw = create(&cx, "internet_gateway", "igw", &[("vpc", vpc_id.clone())]).await;
    let subnet = |cidr: &str, az: &str| [("vpc", vpc_id.clone()), ("cidr", cidr.into()), ("az", az.into())];
    let public_a = create(&cx, "subnet", "public_a", &subnet("10.0.0.0/24", "us-east-1a")).await;
    let public_b = create(&cx, "subnet", "public_b", &subnet("10.0.1.0/24", "us-east-1b")).await;
    let everywhere = Value::str("0.0.0.0/0");
    let lb_sg = [
        ("vpc", vpc_id.clone()),
        (
            "ingress",
            list(vec![
                map(&[("port", 80.into()), ("cidr", everywhere.clone())]),
                map(&[("port", 443.into()), ("cidr", everywhere.clone())]),
            ]),
        ),
    ];
    let lb_sg = create(&cx, "security_group", "lb_sg", &lb_sg).await;

    // The zone, and the same zone looked up by name.
    let mut zone = create(&cx, "hosted_zone", "zone", &[("name", format!("{}.", DOMAIN.to_uppercase()).into())]).await;
    assert_eq!(zone.attr("name"), Value::str(DOMAIN));
    assert!(!zone.attr("name_servers").as_list().is_empty(), "{:?}", zone.attr("name_servers"));
    let zone_id = zone.attr("id");
    assert!(!zone.pid().contains('/'), "{}", zone.pid());
    let again = zone
        .kind
        .create(
            &cx,
            &CreateReq {
                id: "zone",
                props: &zone.applied,
                tags: &owned_tags("zone"),
                token: "rprov-zone-0123456789abcdef0123456789abcdef",
            },
        )
        .await
        .expect("a create sent again (same caller reference) finds the zone it made");
    assert_eq!(again.physical_id, zone.pid());
    let found = create(&cx, "hosted_zone", "found", &[("name", DOMAIN.into()), ("lookup", true.into())]).await;
    assert_eq!(found.pid(), zone.pid());

    // Certificate validated in the zone; a request sent again is the same certificate.
    let cert_props = [
        ("domain", format!("app.{DOMAIN}").into()),
        ("subject_alternative_names", list(vec![format!("www.{DOMAIN}").into(), format!("APP.{DOMAIN}").into()])),
        ("zone", zone_id.clone()),
    ];
    let mut cert = create(&cx, "certificate", "cert", &cert_props).await;
    let again = cert
        .kind
        .create(
            &cx,
            &CreateReq {
                id: "cert",
                props: &cert.applied,
                tags: &owned_tags("cert"),
                token: "rprov-cert-0123456789abcdef0123456789abcdef",
            },
        )
        .await
        .expect("a request sent again");
    assert_eq!(again.physical_id, cert.pid(), "IdempotencyToken: one certificate");

    let mut alb = create(
        &cx,
        "load_balancer",
        "alb",
        &[
            ("subnets", list(vec![public_b.attr("id"), public_a.attr("id")])),
            ("security_groups", list(vec![lb_sg.attr("id")])),
        ],
    )
    .await;
    assert_eq!(alb.attr("name"), Value::str("front-alb"));
    assert!(
        alb.attr("arn_suffix").as_str().is_some_and(|s| s.starts_with("app/front-alb/")),
        "{:?}",
        alb.attr("arn_suffix")
    );
    assert!(alb.attr("dns_name").as_str().is_some_and(|s| !s.is_empty()));
    assert!(alb.attr("zone_id").as_str().is_some_and(|s| !s.is_empty()));

    let tg_props = |path: &str| {
        [
            ("port", 8000.into()),
            ("vpc", vpc_id.clone()),
            ("health_check", map(&[("path", path.into()), ("matcher", "200-299".into())])),
            ("deregistration_delay", 30.into()),
        ]
    };
    let mut tg = create(&cx, "target_group", "web_tg", &tg_props("/health")).await;
    assert_eq!(tg.attr("name"), Value::str("front-web-tg"));
    assert!(tg.attr("arn_suffix").as_str().is_some_and(|s| s.starts_with("targetgroup/front-web-tg/")));

    let redirect = |status: &str| {
        [
            ("load_balancer", alb.attr("arn")),
            ("port", 80.into()),
            ("protocol", "HTTP".into()),
            (
                "default_action",
                map(&[
                    ("type", "redirect".into()),
                    ("protocol", "HTTPS".into()),
                    ("port", "443".into()),
                    ("status_code", status.into()),
                ]),
            ),
        ]
    };
    let mut http = create(&cx, "listener", "http", &redirect("HTTP_301")).await;
    let https_props = [
        ("load_balancer", alb.attr("arn")),
        ("port", 443.into()),
        ("protocol", "HTTPS".into()),
        ("certificate", cert.attr("arn")),
        ("ssl_policy", "ELBSecurityPolicy-TLS13-1-2-2021-06".into()),
        ("default_action", map(&[("type", "forward".into()), ("target_group", tg.attr("arn"))])),
    ];
    let https = create(&cx, "listener", "https", &https_props).await;

    // Listeners not in state are found by the stack's load balancers (adoption, teardown).
    let mut owned: Vec<String> =
        read_owned(https.kind, &cx, &[]).await.unwrap().into_iter().map(|l| l.physical_id).collect();
    owned.sort();
    let mut want = vec![http.pid().to_owned(), https.pid().to_owned()];
    want.sort();
    assert_eq!(owned, want);

    let alias = |evaluate: bool| {
        [
            ("zone", zone_id.clone()),
            ("name", format!("app.{DOMAIN}").into()),
            ("record_type", "A".into()),
            (
                "alias",
                map(&[
                    ("dns_name", alb.attr("dns_name")),
                    ("zone_id", alb.attr("zone_id")),
                    ("evaluate_target_health", evaluate.into()),
                ]),
            ),
        ]
    };
    let mut app = create(&cx, "dns_record", "app", &alias(false)).await;
    assert_eq!(app.attr("fqdn"), Value::str(format!("app.{DOMAIN}")));
    let txt = |ttl: i64| {
        [
            ("zone", zone_id.clone()),
            ("name", format!("_info.{DOMAIN}").into()),
            ("record_type", "TXT".into()),
            ("ttl", ttl.into()),
            ("values", list(vec!["\"v=2\"".into(), "\"owner=web\"".into()])),
        ]
    };
    let mut info = create(&cx, "dns_record", "info", &txt(300)).await;
    // CREATE, not UPSERT: a record that exists is never overwritten by a create (the executor
    // then finds the record by its identity and content, as after a lost answer).
    let again = info
        .kind
        .create(&cx, &CreateReq { id: "info", props: &info.applied, tags: &owned_tags("info"), token: "t" })
        .await;
    assert!(matches!(&again, Err(AwsError::AlreadyExists(m)) if m.contains("already exists")), "{again:?}");
    assert_eq!(info.kind.identity(&info.applied).as_deref(), Some(info.pid()));

    // Without state, the records of the stack's own zone are the stack's (teardown empties
    // the zone with them); the zone's SOA/NS and the certificate's validation record are not.
    let mut discovered: Vec<String> =
        read_owned(app.kind, &cx, &[]).await.unwrap().into_iter().map(|l| l.physical_id).collect();
    discovered.sort();
    let mut want = vec![app.pid().to_owned(), info.pid().to_owned()];
    want.sort();
    assert_eq!(discovered, want);

    // In place, one change each.
    update(&cx, &mut tg, &tg_props("/ready"), None).await;
    update(&cx, &mut http, &redirect("HTTP_302"), None).await;
    update(&cx, &mut info, &txt(60), None).await;
    update(&cx, &mut app, &alias(true), None).await;
    let mut zone_props = zone.applied.clone();
    zone_props.insert("comment".into(), "front door".into());
    let zone_given: Vec<(&str, Value)> = zone_props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    update(&cx, &mut zone, &zone_given, None).await;
    let mut retagged = alb.live.tags.clone();
    retagged.insert("tier".into(), "edge".into());
    retagged.remove("team");
    let alb_given: Vec<(String, Value)> = alb.applied.clone().into_iter().collect();
    let alb_given: Vec<(&str, Value)> = alb_given.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    update(&cx, &mut alb, &alb_given, Some(retagged.clone())).await;
    let cert_given: Vec<(String, Value)> = cert.applied.clone().into_iter().collect();
    let cert_given: Vec<(&str, Value)> = cert_given.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    update(&cx, &mut cert, &cert_given, Some(retagged)).await;

    // AWS refuses these while something still uses them (the executor retries InUse).
    let busy = |r: Result<(), AwsError>, what: &str| assert!(matches!(r, Err(AwsError::InUse(_))), "{what}: {r:?}");
    busy(cert.kind.delete(&cx, &cert.delete_req()).await, "certificate used by the HTTPS listener");
    busy(tg.kind.delete(&cx, &tg.delete_req()).await, "target group the HTTPS listener forwards to");
    busy(zone.kind.delete(&cx, &zone.delete_req()).await, "zone with records rprov's records");

    // A refresh of the whole front door: calls per kind scale with pages and load balancers,
    // not with resources.
    let refresh: [(&Res, Vec<String>); 6] = [
        (&zone, vec![zone.pid().to_owned()]),
        (&cert, vec![cert.pid().to_owned()]),
        (&alb, vec![alb.pid().to_owned()]),
        (&tg, vec![tg.pid().to_owned()]),
        (&http, vec![http.pid().to_owned(), https.pid().to_owned()]),
        (&app, vec![app.pid().to_owned(), info.pid().to_owned()]),
    ];
    for (res, ids) in refresh {
        aws.clear_calls();
        let found = read_owned(res.kind, &cx, &ids).await.unwrap();
        assert_eq!(found.len(), ids.len(), "{}", res.kind.schema().name);
        let calls: Vec<String> = aws.calls().iter().map(|c| c.operation.clone()).collect();
        println!("refresh {}: {} calls {calls:?}", res.kind.schema().name, calls.len());
        let want = match res.kind.schema().name {
            // ListCertificates + ListTagsForCertificate for the one certificate in state.
            "hosted_zone" | "certificate" | "load_balancer" | "target_group" => 2,
            // DescribeListeners for the one load balancer + DescribeTags.
            "listener" => 2,
            // ListResourceRecordSets for the one zone.
            _ => 1,
        };
        assert_eq!(calls.len(), want, "{}: {calls:?}", res.kind.schema().name);
    }

    // Reverse order, as destroy does.
    let ids = |rs: &[&Res]| rs.iter().map(|r| r.pid().to_owned()).collect::<Vec<_>>();
    let record_ids = ids(&[&app, &info]);
    let listener_ids = ids(&[&http, &https]);
    let (alb_id, tg_id, cert_id, zone_id) =
        (alb.pid().to_owned(), tg.pid().to_owned(), cert.pid().to_owned(), zone.pid().to_owned());
    for res in [app, info, http, https, tg, alb, cert] {
        delete(&cx, res).await;
    }
    // The looked-up zone is never deleted; the created one takes the certificate's validation
    // records with it.
    delete_lookup(&cx, &found).await;
    delete(&cx, zone).await;
    for res in [lb_sg, public_a, public_b, igw, vpc] {
        delete(&cx, res).await;
    }

    let none = |k: &str, ids: Vec<String>| {
        let cx = &cx;
        let k = kind(k).unwrap();
        async move {
            let left = read_owned(k, cx, &ids).await.unwrap();
            assert!(left.is_empty(), "{}: {left:?}", k.schema().name);
            let owned = read_owned(k, cx, &[]).await.unwrap();
            assert!(owned.is_empty(), "{} owned by the stack: {owned:?}", k.schema().name);
        }
    };
    none("dns_record", record_ids).await;
    none("listener", listener_ids).await;
    none("target_group", vec![tg_id]).await;
    none("load_balancer", vec![alb_id]).await;
    none("certificate", vec![cert_id]).await;
    none("hosted_zone", vec![zone_id]).await;
}

async fn delete_lookup(cx: &Cx, found: &Res) {
    found.kind.delete(cx, &found.delete_req()).await.expect("deleting a looked-up zone");
    assert!(
        read(cx, found.kind, &[found.pid().to_owned()], found.pid()).await.is_some(),
        "a looked-up zone is never deleted"
    );
}

#[tokio::test]
async fn network_load_balancer_with_a_tls_listener() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let vpc = create(&cx, "vpc", "vpc", &[("cidr", "10.1.0.0/16".into())]).await;
    let vpc_id = vpc.attr("id");
    let subnet = create(
        &cx,
        "subnet",
        "private",
        &[("vpc", vpc_id.clone()), ("cidr", "10.1.0.0/24".into()), ("az", "us-east-1a".into())],
    )
    .await;
    let zone = create(&cx, "hosted_zone", "zone", &[("name", "nlb-itest.example.com".into())]).await;
    let cert = create(
        &cx,
        "certificate",
        "cert",
        &[("domain", "quest.nlb-itest.example.com".into()), ("zone", zone.attr("id"))],
    )
    .await;
    let nlb = create(
        &cx,
        "load_balancer",
        "nlb",
        &[
            ("load_balancer_type", "network".into()),
            ("scheme", "internal".into()),
            ("subnets", list(vec![subnet.attr("id")])),
        ],
    )
    .await;
    let tg =
        create(&cx, "target_group", "tg", &[("protocol", "TCP".into()), ("port", 3000.into()), ("vpc", vpc_id)]).await;
    let tls = create(
        &cx,
        "listener",
        "tls",
        &[
            ("load_balancer", nlb.attr("arn")),
            ("port", 443.into()),
            ("protocol", "TLS".into()),
            ("certificate", cert.attr("arn")),
            ("default_action", map(&[("type", "forward".into()), ("target_group", tg.attr("arn"))])),
        ],
    )
    .await;
    let (old_zone, old_cert) = (zone.pid().to_owned(), cert.pid().to_owned());
    for res in [tls, tg, nlb, cert, zone, subnet, vpc] {
        delete(&cx, res).await;
    }

    // Applied again from no state, the same idempotency tokens come back: Route 53 refuses a
    // caller reference for ever and ACM answers a token with the deleted certificate for an
    // hour. Both move on to a fresh zone and certificate.
    let again = cx_with(&aws, Duration::from_secs(3)).await;
    let zone = create(&again, "hosted_zone", "zone", &[("name", "nlb-itest.example.com".into())]).await;
    assert_ne!(zone.pid(), old_zone);
    let cert = create(
        &again,
        "certificate",
        "cert",
        &[("domain", "quest.nlb-itest.example.com".into()), ("zone", zone.attr("id"))],
    )
    .await;
    assert_ne!(cert.pid(), old_cert);
    for res in [cert, zone] {
        delete(&again, res).await;
    }
}

/// The same chain as a stack file, through the binary: the real planner finds nothing to do
/// after apply, an in-place change plans as an update of exactly that resource, destroy
/// leaves nothing.
#[test]
fn stack_applies_replans_empty_and_destroys() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = dir.path().join("front.yaml");
    std::fs::write(&stack, STACK_FILE).unwrap();
    let rprov = |args: &[&str]| {
        let out = testing::rprov_command(env!("CARGO_BIN_EXE_rprov"), &aws.endpoint(), dir.path())
            .args(args)
            .output()
            .expect("run rprov");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    };
    let path = stack.to_str().unwrap();

    let (code, out) = rprov(&["apply", path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("url = \"https://app.e2e.example.com\""), "{out}");
    let (code, out) = rprov(&["plan", path, "--detailed-exitcode"]);
    assert_eq!(code, 0, "a second plan finds nothing to do: {out}");

    let changed = STACK_FILE.replace("path: /health", "path: /ready").replace("HTTP_301", "HTTP_302");
    std::fs::write(&stack, changed).unwrap();
    let (code, out) = rprov(&["plan", path, "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("0 to add, 2 to change, 0 to replace, 0 to destroy"), "{out}");
    let (code, out) = rprov(&["apply", path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = rprov(&["plan", path, "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    let (code, out) = rprov(&["destroy", path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Destroyed 12 resource(s)"), "{out}");
}

const STACK_FILE: &str = r#"stack: frontcli
region: us-east-1
tags: { team: web }
params:
  domain: { default: e2e.example.com }
resources:
  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  igw: { type: internet_gateway, vpc: "${vpc.id}" }
  public_a: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.0.0/24, az: us-east-1a }
  public_b: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.1.0/24, az: us-east-1b }
  lb_sg:
    type: security_group
    vpc: ${vpc.id}
    ingress:
      - { port: 80, cidr: 0.0.0.0/0 }
      - { port: 443, cidr: 0.0.0.0/0 }
  zone: { type: hosted_zone, name: "${params.domain}" }
  cert:
    type: certificate
    domain: app.${params.domain}
    subject_alternative_names: ["www.${params.domain}"]
    zone: ${zone.id}
  alb:
    type: load_balancer
    depends_on: [igw]
    subnets: ["${public_a.id}", "${public_b.id}"]
    security_groups: ["${lb_sg.id}"]
  tg:
    type: target_group
    port: 8000
    vpc: ${vpc.id}
    health_check: { path: /health }
    deregistration_delay: 30
  http:
    type: listener
    load_balancer: ${alb.arn}
    port: 80
    protocol: HTTP
    default_action: { type: redirect, protocol: HTTPS, port: 443, status_code: HTTP_301 }
  https:
    type: listener
    load_balancer: ${alb.arn}
    port: 443
    protocol: HTTPS
    certificate: ${cert.arn}
    default_action: { type: forward, target_group: "${tg.arn}" }
  app:
    type: dns_record
    zone: ${zone.id}
    name: app.${params.domain}
    record_type: A
    alias: { dns_name: "${alb.dns_name}", zone_id: "${alb.zone_id}" }
outputs:
  url: https://app.${params.domain}
  alb: ${alb.dns_name}
"#;
