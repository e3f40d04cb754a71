//! The identity and secret kinds (iam_policy, iam_user, secret) against the strict local AWS,
//! through the `Kind` trait only: create with ownership tags, `read_many` reports the stack's
//! normalised values (a second plan shows no diff), updates in place, delete, `read_many` no
//! longer finds it.
//!
//! IAM has no states to wait for; Secrets Manager keeps a deleted secret for its recovery
//! window. The refusals the local AWS does not model yet (a DeleteConflict of an attached
//! policy, a LimitExceeded of a sixth version) are unit-tested with aws-smithy-mocks in the
//! kinds.

use std::time::Duration;

use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, map, props, read};
use rprov::kinds::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, kind, read_owned};
use rprov::value::{Props, Value};

const STACK: &str = "ident";

async fn cx(aws: &LocalAws) -> Cx {
    let wait = WaitConfig {
        timeout: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
    };
    testing::local_cx(STACK, &aws.endpoint(), wait).await
}

fn json(text: &str) -> Value {
    Value::from(&serde_json::from_str::<serde_json::Value>(text).expect("test JSON"))
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "identity")
}

/// The stack's values as the planner compares them: schema defaults, `normalise`, unordered
/// lists sorted.
fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(k, STACK, id, given)
}

/// Props AWS cannot report back (the planner compares them with the recorded value).
fn unreported(k: &dyn Kind) -> &'static [&'static str] {
    match k.schema().name {
        "secret" => &["value", "generate", "recovery_window_days", "force_delete_without_recovery"],
        "iam_user" => &["force_destroy"],
        _ => &[],
    }
}

/// What the planner would find different: a property the stack sets whose live value differs.
#[track_caller]
fn assert_no_diff(id: &str, k: &dyn Kind, live: &Live, want: &Props) {
    let diffs: Vec<String> = want
        .iter()
        .filter(|(name, v)| match live.props.get(*name) {
            Some(l) => !l.same(v),
            None => !v.is_null() && !unreported(k).contains(&name.as_str()),
        })
        .map(|(name, v)| format!("{name}: live {:?} vs stack {v}", live.props.get(name)))
        .collect();
    assert!(diffs.is_empty(), "{id}: perpetual diff:\n{}", diffs.join("\n"));
    for name in unreported(k) {
        assert!(!live.props.contains_key(*name), "{id}: {name} must not be read back");
    }
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let token = format!("{id}-token-0123456789abcdef0123456789");
    let tags = owned_tags(id);
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: &token })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let found = read(cx, k, &[], &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    assert_no_diff(id, k, &found, &want);
    assert_eq!(found.tags, tags, "{id}: tags");
    assert_eq!(made.attrs, found.attrs, "{id}: create returns the attributes read_many reads");
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    Res { kind: k, id, live: found, applied: want }
}

/// Updates in place and checks the result reads back as the new values, with no diff left.
/// `changed_anyway`: properties AWS does not report that change (a secret's value).
async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>, changed_anyway: &[&str]) {
    let new = desired(res.kind, res.id, &props(given));
    let old_tags = res.live.tags.clone();
    let tags = tags.unwrap_or_else(|| old_tags.clone());
    let mut current = res.applied.clone();
    current.extend(res.live.props.clone());
    let mut changed: Vec<String> =
        new.iter().filter(|(k, v)| !current.get(*k).is_some_and(|c| c.same(v))).map(|(k, _)| k.clone()).collect();
    changed.extend(changed_anyway.iter().map(|c| c.to_string()));
    changed.sort();
    changed.dedup();
    if tags != old_tags {
        changed.push("tags".into());
    }
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    for c in &changed {
        if let Some(p) = res.kind.schema().prop(c) {
            assert_eq!(p.on_change, rprov::schema::OnChange::UpdateInPlace, "{}: {c} is not updatable", res.id);
        }
    }
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
    let found = read(cx, res.kind, &[], &out.physical_id)
        .await
        .unwrap_or_else(|| panic!("read_many finds {} after update", res.id));
    assert_no_diff(res.id, res.kind, &found, &new);
    assert_eq!(found.tags, tags, "{}: tags after update", res.id);
    assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
    assert_eq!(out.attrs, found.attrs, "{}: update returns the attributes read_many reads", res.id);
    res.live = found;
    res.applied = new;
}

fn delete_req(res: &Res) -> DeleteReq<'_> {
    DeleteReq { id: res.id, physical_id: &res.live.physical_id, props: &res.applied, attrs: &res.live.attrs }
}

/// Deletes, checks it is gone (also when asked for by id), and that deleting again is success.
async fn delete(cx: &Cx, res: Res) {
    let req = delete_req(&res);
    res.kind.delete(cx, &req).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
    let ids = vec![res.live.physical_id.clone()];
    assert!(read(cx, res.kind, &ids, &res.live.physical_id).await.is_none(), "{} still listed after delete", res.id);
    assert!(read(cx, res.kind, &[], &res.live.physical_id).await.is_none(), "{} still listed by ownership", res.id);
    assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
}

fn document(actions: &[&str]) -> Value {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    json(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"arn:aws:s3:::uploads/*"}}]}}"#,
        actions.join(",")
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_policy_versions_stay_within_five() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let given = |actions: &[&str]| vec![("description", "uploads".into()), ("document", document(actions))];
    let mut policy = create(&cx, "iam_policy", "uploads", &given(&["s3:GetObject"])).await;
    let arn = policy.attr("arn");
    assert!(
        arn.as_str().is_some_and(|a| a.ends_with(":policy/rprov/ident/ident-uploads")),
        "{arn:?}: named `<stack>-<id>` under the stack's path"
    );
    assert_eq!(policy.attr("id"), arn);
    assert_eq!(policy.attr("default_version"), Value::str("v1"));

    // The same document written otherwise (one statement, one action as a string, keys in
    // another order) is no change.
    let same = json(
        r#"{"Statement":{"Resource":["arn:aws:s3:::uploads/*"],"Action":"s3:GetObject","Effect":"Allow"},"Version":"2012-10-17"}"#,
    );
    let alt = desired(policy.kind, "uploads", &props(&[("description", "uploads".into()), ("document", same)]));
    assert_no_diff("uploads", policy.kind, &policy.live, &alt);

    // Six new documents: IAM keeps five versions, the oldest go, the newest is the default.
    let actions = ["s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetObjectTagging", "s3:PutObjectTagging"];
    for i in 0..6 {
        let mut a = vec!["s3:GetObject"];
        a.extend(&actions[..(i % actions.len()) + 1]);
        if i == 5 {
            a.push("s3:AbortMultipartUpload");
        }
        update(&cx, &mut policy, &given(&a), None, &[]).await;
        assert_eq!(policy.attr("default_version"), Value::str(format!("v{}", i + 2)));
    }
    let iam = aws_sdk_iam::Client::new(&cx.sdk);
    let versions = iam.list_policy_versions().policy_arn(arn.as_str().unwrap()).send().await.unwrap();
    let mut ids: Vec<&str> = versions.versions().iter().filter_map(|v| v.version_id()).collect();
    ids.sort_by_key(|v| v[1..].parse::<u32>().unwrap());
    assert_eq!(ids, ["v3", "v4", "v5", "v6", "v7"], "the oldest versions were pruned");
    let default: Vec<&str> =
        versions.versions().iter().filter(|v| v.is_default_version()).filter_map(|v| v.version_id()).collect();
    assert_eq!(default, ["v7"]);

    // Tags change in place; a description cannot (IAM has no call for it): it replaces.
    let mut tags = owned_tags("uploads");
    tags.insert("cost".into(), "shared".into());
    tags.remove("team");
    let last = policy.applied.clone();
    let given_last: Vec<(&str, Value)> = last.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    update(&cx, &mut policy, &given_last, Some(tags), &[]).await;
    assert_eq!(policy.kind.schema().prop("description").unwrap().on_change, rprov::schema::OnChange::Replace);

    // Teardown and refresh find it by its path: with no state and no ids, it is the stack's.
    let found = read_owned(policy.kind, &cx, &[]).await.unwrap();
    assert_eq!(found.len(), 1);
    delete(&cx, policy).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_policy_lost_create_is_adopted_by_its_tags_only() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let k = kind("iam_policy").unwrap();
    let want = desired(k, "p", &props(&[("document", document(&["s3:GetObject"]))]));
    let tags = owned_tags("p");
    let req = CreateReq { id: "p", props: &want, tags: &tags, token: "t" };
    let first = k.create(&cx, &req).await.unwrap();
    // A resend after a lost answer finds its own policy (by its ownership tags) and takes it,
    // with the document brought in line.
    let changed = desired(k, "p", &props(&[("document", document(&["s3:PutObject"]))]));
    let again = k.create(&cx, &CreateReq { props: &changed, ..req }).await.unwrap();
    assert_eq!(again.physical_id, first.physical_id);
    assert_eq!(again.props["document"], changed["document"]);
    // Another resource's create of the same name is refused.
    let other = owned_tags("q");
    let err = k.create(&cx, &CreateReq { id: "q", props: &want, tags: &other, token: "t" }).await.unwrap_err();
    assert!(matches!(&err, AwsError::AlreadyExists(m) if m.contains("was not created for q")), "{err:?}");
    let res = Res { kind: k, id: "p", live: again, applied: changed };
    delete(&cx, res).await;
}

/// Two customer managed policies outside the stack's path, as a user's `managed_policy_arns`.
async fn outside_policies(cx: &Cx) -> (String, String) {
    let iam = aws_sdk_iam::Client::new(&cx.sdk);
    let mut arns = Vec::new();
    for name in ["ident-read", "ident-write"] {
        let doc =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
        let p = iam.create_policy().policy_name(name).policy_document(doc).send().await.unwrap();
        arns.push(p.policy().unwrap().arn().unwrap().to_owned());
    }
    (arns[0].clone(), arns[1].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_user_policies_and_what_blocks_its_delete() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let (read_arn, write_arn) = outside_policies(&cx).await;
    let s3 = document(&["s3:GetObject"]);
    let given = |managed: &[&str], inline: Vec<(&str, Value)>| {
        vec![("managed_policy_arns", testing::strs(managed)), ("policies", map(&inline))]
    };
    let mut user = create(&cx, "iam_user", "deploy", &given(&[&read_arn], vec![("s3", s3.clone())])).await;
    assert_eq!(user.attr("name"), Value::str("ident-deploy"));
    assert_eq!(user.attr("id"), user.attr("name"));
    assert!(
        user.attr("arn").as_str().is_some_and(|a| a.ends_with(":user/rprov/ident/ident-deploy")),
        "{:?}",
        user.attr("arn")
    );
    assert!(user.attr("unique_id").as_str().is_some_and(|u| !u.is_empty()));

    // Attached policies change (one detached, one attached), an inline one is added, tags change.
    let mut tags = owned_tags("deploy");
    tags.insert("owner".into(), "ci".into());
    update(
        &cx,
        &mut user,
        &given(&[&write_arn], vec![("s3", s3.clone()), ("put", document(&["s3:PutObject"]))]),
        Some(tags),
        &[],
    )
    .await;
    // A policy attached by hand is drift on the user itself.
    let iam = aws_sdk_iam::Client::new(&cx.sdk);
    iam.attach_user_policy().user_name("ident-deploy").policy_arn(&read_arn).send().await.unwrap();
    let drifted = read(&cx, user.kind, &[], user.pid()).await.unwrap();
    assert_eq!(drifted.props["managed_policy_arns"], {
        let mut both = vec![read_arn.clone(), write_arn.clone()];
        both.sort();
        Value::List(both.into_iter().map(Value::Str).collect())
    });
    user.live = drifted;
    update(&cx, &mut user, &given(&[&write_arn], vec![("s3", s3.clone())]), None, &[]).await;

    // An access key made outside the stack keeps the user from being deleted: the refusal names
    // it, and nothing is taken away from the user.
    let key = iam.create_access_key().user_name("ident-deploy").send().await.unwrap();
    let key_id = key.access_key().unwrap().access_key_id().to_owned();
    let req = delete_req(&user);
    let err = user.kind.delete(&cx, &req).await.unwrap_err();
    let AwsError::Blocked(m) = &err else { panic!("{err:?}") };
    assert!(m.contains(&key_id) && m.contains("force_destroy"), "{m}");
    let still = read(&cx, user.kind, &[], user.pid()).await.expect("the refused user is still there");
    assert_eq!(still.props, user.live.props, "a refused delete changes nothing");

    // With force_destroy (an update that changes nothing in AWS), the key goes with the user.
    update(
        &cx,
        &mut user,
        &[given(&[&write_arn], vec![("s3", s3)]), vec![("force_destroy", Value::Bool(true))]].concat(),
        None,
        &[],
    )
    .await;
    delete(&cx, user).await;
    let keys = iam.list_access_keys().user_name("ident-deploy").send().await;
    assert!(keys.is_err(), "the user and its key are gone: {keys:?}");
}

/// What a secret read back holds, as text, must not contain `value`.
#[track_caller]
fn never_shows(value: &str, live: &Live) {
    let text = format!("{live:?}");
    assert!(!text.contains(value), "the value was read back: {text}");
}

async fn stored(cx: &Cx, arn: &str) -> String {
    let sm = aws_sdk_secretsmanager::Client::new(&cx.sdk);
    let out = sm.get_secret_value().secret_id(arn).send().await.expect("the test reads the value");
    out.secret_string().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_value_generate_delete_and_restore() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let given = |pairs: &[(&'static str, Value)]| {
        let mut g = vec![("description", Value::str("database credentials"))];
        g.extend(pairs.iter().cloned());
        g
    };
    let first = "hunter2-first-value";
    let mut secret = create(&cx, "secret", "db", &given(&[("value", first.into())])).await;
    let arn = secret.pid().to_owned();
    assert_eq!(secret.attr("name"), Value::str("ident/db"));
    assert_eq!(secret.attr("id"), Value::str(&arn));
    assert!(arn.contains(":secret:ident/db-"), "{arn}");
    assert_eq!(stored(&cx, &arn).await, first);
    never_shows(first, &secret.live);

    // A new value (the planner sees it through the recorded digest), then a generated one.
    let second = "hunter2-second-value";
    update(&cx, &mut secret, &given(&[("value", second.into())]), None, &["value"]).await;
    assert_eq!(stored(&cx, &arn).await, second);
    never_shows(second, &secret.live);
    let generate = map(&[("template", map(&[("username", Value::str("app"))]))]);
    update(&cx, &mut secret, &given(&[("generate", generate.clone())]), None, &[]).await;
    let creds: serde_json::Value = serde_json::from_str(&stored(&cx, &arn).await).unwrap();
    assert_eq!(creds["username"], "app");
    let password = creds["password"].as_str().unwrap().to_owned();
    assert_eq!(password.chars().count(), 32);
    for l in read_owned(secret.kind, &cx, std::slice::from_ref(&arn)).await.unwrap() {
        never_shows(&password, &l);
    }
    let mut tags = owned_tags("db");
    tags.insert("rotation".into(), "manual".into());
    update(
        &cx,
        &mut secret,
        &[("description", Value::str("app credentials")), ("generate", generate.clone())],
        Some(tags),
        &[],
    )
    .await;
    assert_eq!(stored(&cx, &arn).await, creds.to_string(), "a description change keeps the value");

    // Deleted with its recovery window: gone for rprov, not listed.
    delete(&cx, secret).await;

    // Applied again within the window: the secret of this resource is restored, with a new
    // generated value.
    let k = kind("secret").unwrap();
    let want = desired(k, "db", &props(&given(&[("generate", generate)])));
    let tags = owned_tags("db");
    let again = k
        .create(
            &cx,
            &CreateReq { id: "db", props: &want, tags: &tags, token: "db-second-token-0123456789abcdef012345" },
        )
        .await
        .unwrap();
    assert_eq!(again.physical_id, arn, "the same secret, restored");
    let restored: serde_json::Value = serde_json::from_str(&stored(&cx, &arn).await).unwrap();
    assert_ne!(restored["password"], creds["password"]);
    let found = read(&cx, k, &[], &arn).await.expect("restored secrets are listed");
    assert_eq!(found.tags, tags);

    // Another resource's secret of that name is not taken.
    let other = testing::owned_tags(STACK, "other", "identity");
    let err = k
        .create(
            &cx,
            &CreateReq { id: "other", props: &want, tags: &other, token: "other-token-0123456789abcdef0123456789" },
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, AwsError::AlreadyExists(m) if m.contains("was not created for other")), "{err:?}");

    // A sandbox's secret goes at once.
    let mut forced = want.clone();
    forced.insert("force_delete_without_recovery".into(), Value::Bool(true));
    let res = Res { kind: k, id: "db", live: found, applied: forced };
    delete(&cx, res).await;
    let sm = aws_sdk_secretsmanager::Client::new(&cx.sdk);
    let listed = sm.list_secrets().include_planned_deletion(true).send().await.unwrap();
    assert!(listed.secret_list().is_empty(), "deleted without recovery: {:?}", listed.secret_list());
}

/// Within one refresh the three IAM kinds read the account with ONE paginated
/// GetAccountAuthorizationDetails; only policies' tags cost a call each (ListPolicyTags, for
/// the stack's policies only).
#[tokio::test(flavor = "multi_thread")]
async fn one_iam_read_per_refresh() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let policy = create(&cx, "iam_policy", "read", &[("document", document(&["s3:GetObject"]))]).await;
    let arn = policy.attr("arn").as_str().unwrap().to_owned();
    let user = create(&cx, "iam_user", "ci", &[("managed_policy_arns", testing::strs(&[&arn]))]).await;
    aws.clear_calls();
    let refresh = cx.for_refresh(rprov::aws::RefreshScope::default());
    let mut found = 0;
    for k in ["iam_role", "iam_user", "iam_policy"] {
        found += read_owned(kind(k).unwrap(), &refresh, &[]).await.unwrap().len();
    }
    assert_eq!(found, 2);
    let mut counts: Vec<String> = aws.count_by_operation().iter().map(|((s, o), n)| format!("{n} {s}:{o}")).collect();
    counts.sort();
    println!("calls of a refresh of iam_role, iam_user, iam_policy:\n  {}", counts.join("\n  "));
    assert_eq!(aws.count("iam", "GetAccountAuthorizationDetails"), 1, "{counts:?}");
    assert_eq!(aws.calls().len(), 2, "{counts:?}");
    delete(&cx, user).await;
    delete(&cx, policy).await;
}
