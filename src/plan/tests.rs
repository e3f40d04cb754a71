//! Planner cases, no AWS: a stack, a recorded state and a live snapshot in, actions out.

use super::*;
use crate::kinds::{TAG_ID, TAG_LINEAGE, TAG_STACK};
use crate::stack::{Source, load_str};
use crate::state::ResourceState;

const STACK: &str = "
stack: net
region: us-east-1
resources:
  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  sub: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.1.0/24, az: us-east-1a }
";

fn stack(text: &str) -> Stack {
    load_str(&crate::kinds::KINDS, Source::new("t.yaml", text), &Default::default())
        .unwrap_or_else(|(_, d)| panic!("{d:?}"))
}

/// The lineage of the state in these cases.
const LINEAGE: &str = "lineage-1";

fn tags(id: &str) -> Tags {
    [
        (TAG_STACK.to_owned(), "net".to_owned()),
        (TAG_ID.to_owned(), id.to_owned()),
        (TAG_LINEAGE.to_owned(), LINEAGE.to_owned()),
    ]
    .into()
}

fn props(pairs: &[(&str, Value)]) -> Props {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn vpc_live(id: &str, cidr: &str) -> Live {
    Live {
        physical_id: id.into(),
        props: props(&[("cidr", Value::str(cidr))]),
        attrs: props(&[("id", Value::str(id))]),
        tags: tags("vpc"),
    }
}

fn sub_live(id: &str, vpc: &str, cidr: &str) -> Live {
    Live {
        physical_id: id.into(),
        props: props(&[
            ("vpc", Value::str(vpc)),
            ("cidr", Value::str(cidr)),
            ("az", Value::str("us-east-1a")),
            ("map_public_ip_on_launch", false.into()),
        ]),
        attrs: props(&[("id", Value::str(id))]),
        tags: tags("sub"),
    }
}

fn record(kind: &str, l: &Live, deps: &[&str], extra: &[(&str, Value)]) -> ResourceState {
    let mut properties = l.props.clone();
    properties.extend(props(extra));
    ResourceState {
        kind: kind.into(),
        physical_id: l.physical_id.clone(),
        properties,
        attributes: l.attrs.clone(),
        tags: l.tags.clone(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
    }
}

fn dns() -> [(&'static str, Value); 2] {
    [("enable_dns_support", true.into()), ("enable_dns_hostnames", true.into())]
}

/// Runs the planner and returns `id:action` per change, in plan order.
fn check(text: &str, state: Option<&State>, live: Vec<(&str, Live)>) -> (Vec<String>, Plan) {
    check_occupied(text, state, live, Occupied::new())
}

fn check_occupied(
    text: &str,
    state: Option<&State>,
    live: Vec<(&str, Live)>,
    occupied: Occupied,
) -> (Vec<String>, Plan) {
    let st = stack(text);
    let g = Graph::build(&st).unwrap();
    let mut set = LiveSet::new();
    for (kind, l) in live {
        set.entry(kind.to_owned()).or_default().push(l);
    }
    let p = plan_with(&st, &g, state, &set, &occupied);
    let actions = p
        .changes
        .iter()
        .map(|c| format!("{}:{}", c.id, serde_json::to_value(c.action).unwrap().as_str().unwrap()))
        .collect();
    (actions, p)
}

fn applied() -> (State, Vec<(&'static str, Live)>) {
    let vpc = vpc_live("vpc-1", "10.0.0.0/16");
    let sub = sub_live("subnet-1", "vpc-1", "10.0.1.0/24");
    let mut st = State::new("net", "us-east-1");
    st.lineage = LINEAGE.into();
    st.resources.insert("vpc".into(), record("vpc", &vpc, &[], &dns()));
    st.resources.insert("sub".into(), record("subnet", &sub, &["vpc"], &[]));
    (st, vec![("vpc", vpc), ("subnet", sub)])
}

#[test]
fn nothing_yet_creates_in_dependency_order_with_unknowns() {
    let (actions, p) = check(STACK, None, vec![]);
    assert_eq!(actions, ["vpc:create", "sub:create"]);
    let vpc_ref = p.changes[1].diffs.iter().find(|d| d.name == "vpc").unwrap();
    assert_eq!(vpc_ref.after, Some(Value::Unknown));
}

#[test]
fn applied_and_unchanged_is_no_op() {
    let (st, live) = applied();
    let (actions, p) = check(STACK, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:no_op"]);
    assert!(!p.has_changes());
}

#[test]
fn in_place_change_is_an_update_naming_the_property() {
    let (st, live) = applied();
    let text = STACK.replace("az: us-east-1a }", "az: us-east-1a, map_public_ip_on_launch: true }");
    let (actions, p) = check(&text, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:update"]);
    let d = &p.changes[1].diffs;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].name.as_str(), d[0].before.clone(), d[0].after.clone()),
        ("map_public_ip_on_launch", Some(false.into()), Some(true.into()))
    );
}

#[test]
fn forcing_property_replaces_and_dependents_follow() {
    let (st, live) = applied();
    let text = STACK.replace("cidr: 10.0.0.0/16", "cidr: 10.1.0.0/16").replace("10.0.1.0/24", "10.1.1.0/24");
    let (actions, p) = check(&text, Some(&st), live);
    assert_eq!(actions, ["vpc:replace", "sub:replace"]);
    let sub = &p.changes[1];
    assert!(sub.diffs.iter().any(|d| d.name == "vpc" && d.after == Some(Value::Unknown) && d.forces_replacement));
}

#[test]
fn removed_from_stack_is_deleted_dependents_first() {
    let (st, live) = applied();
    let text = "stack: net\nregion: us-east-1\nresources: {}\n";
    let (actions, _) = check(text, Some(&st), live);
    assert_eq!(actions, ["sub:delete", "vpc:delete"]);
}

#[test]
fn deleted_behind_our_back_is_recreated_with_a_reason() {
    let (st, mut live) = applied();
    live.retain(|(k, _)| *k != "subnet");
    let (actions, p) = check(STACK, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:create"]);
    assert!(p.changes[1].reason.as_deref().unwrap().contains("deleted outside rprov"));
}

#[test]
fn tagged_but_unrecorded_is_adopted_not_created() {
    let (mut st, live) = applied();
    st.resources.remove("sub");
    let (actions, _) = check(STACK, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:adopt"]);
}

#[test]
fn another_deployments_resource_is_neither_adopted_nor_unmanaged() {
    // Two sandboxes of stack `net` in one account, each with its own state: the other one's
    // subnet carries the same stack and id, and another lineage.
    let (mut st, mut live) = applied();
    st.resources.remove("sub");
    live[1].1.tags.insert(TAG_LINEAGE.into(), "lineage-2".into());
    let (actions, p) = check(STACK, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:create"]);
    assert!(p.unmanaged.is_empty(), "{:?}", p.unmanaged);
}

#[test]
fn a_resource_tagged_before_lineages_is_adopted_and_given_the_lineage_tag() {
    let (mut st, mut live) = applied();
    st.resources.remove("sub");
    live[1].1.tags.remove(TAG_LINEAGE);
    let (actions, p) = check(STACK, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:update"]);
    assert_eq!(p.changes[1].diffs[0].name, "tags");
    assert!(p.changes[1].reason.as_deref().unwrap().contains("adopting"));
}

#[test]
fn a_new_stacks_plan_tags_the_lineage_as_not_known_yet() {
    let (_, p) = check(STACK, None, vec![]);
    let tags = p.changes[0].diffs.iter().find(|d| d.name == "tags").unwrap();
    let Some(Value::Map(m)) = &tags.after else { panic!("{tags:?}") };
    assert_eq!(m.get(TAG_LINEAGE), Some(&Value::str(crate::stack::LINEAGE_NOT_YET)));
}

const RECORD: &str = "
stack: net
region: us-east-1
resources:
  www: { type: dns_record, zone: Z1, name: www.example.com, record_type: A, values: [192.0.2.1] }
";

fn record_live(values: &[&str]) -> Live {
    Live {
        physical_id: "Z1/www.example.com./A".into(),
        props: props(&[
            ("zone", Value::str("Z1")),
            ("name", Value::str("www.example.com.")),
            ("record_type", Value::str("A")),
            ("ttl", Value::Int(300)),
            ("values", Value::List(values.iter().map(|v| Value::str(*v)).collect())),
        ]),
        attrs: props(&[("id", Value::str("Z1/www.example.com./A"))]),
        tags: Tags::new(),
    }
}

fn occupied_by(l: Live) -> Occupied {
    [("www".to_owned(), l)].into()
}

#[test]
fn a_record_made_by_hand_where_one_would_be_created_is_a_conflict_unless_adopted() {
    let st = State::new("net", "us-east-1");
    let check = |text: &str, values: &[&str]| check_occupied(text, Some(&st), vec![], occupied_by(record_live(values)));
    let (actions, p) = check(RECORD, &["198.51.100.7"]);
    assert_eq!(actions, ["www:conflict"]);
    assert!(p.changes[0].reason.as_deref().unwrap().contains("adopt: true"));
    assert_eq!(p.summary().conflict, 1);
    assert!(render_human(&p, false).contains("apply refuses this plan"));

    let adopting = RECORD.replace("values: [192.0.2.1] }", "values: [192.0.2.1], adopt: true }");
    let (actions, p) = check(&adopting, &["198.51.100.7"]);
    assert_eq!(actions, ["www:update"], "adopted, then brought to the stack's values");
    assert_eq!(p.changes[0].physical_id.as_deref(), Some("Z1/www.example.com./A"));
    let (actions, _) = check(&adopting, &["192.0.2.1"]);
    assert_eq!(actions, ["www:adopt"]);
    // Nothing in the way: created.
    let (actions, _) = check_occupied(RECORD, Some(&st), vec![], Occupied::new());
    assert_eq!(actions, ["www:create"]);
}

#[test]
fn adopt_is_refused_where_a_kind_cannot_look_up_what_it_did_not_create() {
    let text = STACK.replace("cidr: 10.0.0.0/16 }", "cidr: 10.0.0.0/16, adopt: true }");
    let Err((_, d)) = load_str(&crate::kinds::KINDS, Source::new("t.yaml", &text), &Default::default()) else {
        panic!("loaded")
    };
    assert!(d[0].message.contains("`adopt` is not supported by vpc"), "{d:?}");
}

#[test]
fn tags_changed_by_hand_are_an_update_of_tags() {
    let (st, mut live) = applied();
    live[0].1.tags.insert("team".into(), "x".into());
    let (actions, p) = check(STACK, Some(&st), live);
    assert_eq!(actions, ["vpc:update", "sub:no_op"]);
    assert_eq!(p.changes[0].diffs[0].name, "tags");
}

#[test]
fn stack_tagged_strangers_are_listed_as_unmanaged() {
    let (st, mut live) = applied();
    let mut stray = vpc_live("vpc-9", "10.9.0.0/16");
    stray.tags.insert(TAG_ID.into(), "old".into());
    live.push(("vpc", stray));
    let (_, p) = check(STACK, Some(&st), live);
    assert_eq!(p.unmanaged.len(), 1);
    assert_eq!(p.unmanaged[0].physical_id, "vpc-9");
}

#[test]
fn unordered_lists_compare_as_sets() {
    let schema = crate::kinds::kind("route_table").unwrap().schema();
    let mut a = props(&[("subnets", Value::List(vec![Value::str("b"), Value::str("a")]))]);
    let mut b = props(&[("subnets", Value::List(vec![Value::str("a"), Value::str("b")]))]);
    canonical(schema, &mut a);
    canonical(schema, &mut b);
    assert!(diff(schema, &Default::default(), "k", &a, &Tags::new(), &b, &Tags::new()).is_empty());
}

#[test]
fn secrets_compare_by_digest_and_are_flagged() {
    static SECRET: crate::schema::KindSchema = crate::schema::KindSchema {
        name: "t",
        doc: "",
        props: &[crate::schema::Prop::new("value", crate::schema::Ty::Str, "").secret()],
        attrs: &[],
        taggable: false,
    };
    let desired = props(&[("value", Value::str("hunter2"))]);
    let recorded = props(&[("value", crate::state::digest("k", &Value::str("hunter2")))]);
    assert!(diff(&SECRET, &Default::default(), "k", &desired, &Tags::new(), &recorded, &Tags::new()).is_empty());
    let changed = props(&[("value", Value::str("hunter3"))]);
    let d = diff(&SECRET, &Default::default(), "k", &changed, &Tags::new(), &recorded, &Tags::new());
    assert!(d[0].secret);
    assert_eq!(d[0].after, Some(crate::state::digest("k", &Value::str("hunter3"))), "shown keyed");
    assert!(!format!("{:?}", d).contains("hunter3"), "a secret leaked into the diff: {d:?}");
}

#[test]
fn accepted_drift_is_not_undone_but_a_changed_stack_value_still_applies() {
    // Recorded false; someone (autoscaling, a team) set true in AWS; the stack accepts it.
    let (mut st, mut live) = applied();
    st.resources.get_mut("sub").unwrap().properties.insert("map_public_ip_on_launch".into(), false.into());
    live[1].1.props.insert("map_public_ip_on_launch".into(), true.into());
    let accepting = STACK.replace("az: us-east-1a }", "az: us-east-1a, ignore_drift: [map_public_ip_on_launch] }");
    let (actions, _) = check(&accepting, Some(&st), live.clone());
    assert_eq!(actions, ["vpc:no_op", "sub:no_op"]);
    // Without the acceptance, apply brings it back.
    let (actions, _) = check(STACK, Some(&st), live.clone());
    assert_eq!(actions, ["vpc:no_op", "sub:update"]);
    // A new value in the stack is applied even where drift is accepted.
    let changed = accepting.replace("cidr: 10.0.1.0/24, az", "cidr: 10.0.1.0/24, map_public_ip_on_launch: true, az");
    let (actions, p) = check(&changed, Some(&st), live);
    assert_eq!(actions, ["vpc:no_op", "sub:update"]);
    assert_eq!(p.changes[1].diffs[0].before, Some(false.into()));
}
