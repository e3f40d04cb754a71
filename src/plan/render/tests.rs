//! Rendered plans, whole: the reference stack's create, an image change, a reorder that is no
//! change, a replace and a delete, a drifted resource, secrets and unknowns inside nested
//! blocks, and the Markdown comment's size cap. No AWS: the state is what an apply of the stack
//! would record (attributes as `<id.attr>`), and live is that state unless a case changes it.
//! Snapshots are insta's: `INSTA_UPDATE=always cargo test` (or `cargo insta review`) updates them.

use super::super::{Action, Plan, desired_props, plan};
use super::{COMMENT_LIMIT, render_human, render_markdown};
use crate::graph::Graph;
use crate::model::LiveSet;
use crate::stack::{Ref, Source, Stack, load_str};
use crate::state::{ResourceState, State};
use crate::value::Value;

const REFERENCE: &str = include_str!("../../../stacks/upload-service.yaml");
const DIGEST_1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// What `kinds::bind_local` adds before planning: the image's digest, as computed from its archive.
fn with_digest(mut stack: Stack, digest: &str) -> Stack {
    let image = stack.resources.get_mut("image").expect("the reference stack has an image");
    image.props.insert("digest".into(), crate::expr::Expr::Lit(Value::str(digest)));
    stack
}

fn load(text: &str, params: &[(&str, &str)]) -> Stack {
    let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    load_str(&crate::kinds::KINDS, Source::new("stack.yaml", text), &params).unwrap_or_else(|(_, d)| panic!("{d:?}"))
}

/// The state an apply of `stack` would leave: every resource with the values planned, physical
/// ids `<id>` and attributes `<id.attr>`.
fn applied(stack: &Stack) -> State {
    let graph = Graph::build(stack).unwrap();
    let mut st = State::new(&stack.name, &stack.region);
    st.lineage = "lineage-1".into();
    st.secret_key = "key".into();
    for id in graph.order() {
        let r = &stack.resources[&id];
        let attr = |rf: &Ref| {
            st.resources.get(&rf.target).and_then(|x| x.attributes.get(&rf.attr).cloned()).unwrap_or(Value::Unknown)
        };
        let (props, tags) = desired_props(stack, r, Some("lineage-1"), &attr);
        let schema = r.kind.schema();
        let attributes = schema
            .attrs
            .iter()
            .map(|a| {
                let v = Value::str(format!("<{id}.{}>", a.name));
                (a.name.to_owned(), if a.list { Value::List(vec![v]) } else { v })
            })
            .collect();
        let properties = crate::apply::recorded_props(schema, &r.sensitive, &st.secret_key, &props);
        let rec = ResourceState {
            kind: schema.name.into(),
            physical_id: format!("<{id}>"),
            properties,
            attributes,
            tags,
            depends_on: vec![],
        };
        st.resources.insert(id.clone(), rec);
    }
    st
}

fn plan_of(stack: &Stack, state: Option<&State>, live: &LiveSet) -> Plan {
    plan(stack, &Graph::build(stack).unwrap(), state, live)
}

fn text(p: &Plan) -> String {
    render_human(p, &crate::kinds::KINDS, false)
}

fn markdown(p: &Plan) -> String {
    render_markdown(p, &crate::kinds::KINDS, COMMENT_LIMIT)
}

/// The plan as text and as Markdown, each checked (line widths; valid Markdown under the size
/// cap) and compared with its snapshot, `name` and `name_md`. The text, for more checks.
fn check_rendered(name: &str, p: &Plan) -> String {
    let out = text(p);
    assert_lines_fit(&out);
    insta::assert_snapshot!(name.to_owned(), out.clone());
    let md = markdown(p);
    assert!(md.len() <= COMMENT_LIMIT, "{} bytes", md.len());
    assert_valid_markdown(&md);
    insta::assert_snapshot!(format!("{name}_md"), md);
    out
}

/// No line over 120 characters but one that holds a single long scalar (an ARN, a policy's
/// condition key): `name = "..."`, `"...",`, or a change of one.
fn assert_lines_fit(out: &str) {
    for line in out.lines() {
        if line.chars().count() <= 120 {
            continue;
        }
        let t = line.trim_start().trim_start_matches(['+', '-', '~', '!', ' ']);
        let value = t.split_once(" = ").or_else(|| t.split_once(": ")).map_or(t, |(_, v)| v);
        let value = value.trim_end_matches(',');
        let scalars = value.split(" -> ").all(|v| !v.starts_with(['[', '{']) && v.matches('"').count() <= 2);
        assert!(scalars, "a line of {} characters holds more than one long value:\n{line}", line.chars().count());
    }
}

/// The Markdown parses as GitHub's (tables on): one table, and every `<details>` closed around
/// exactly one fenced ```diff block that ends before it.
fn assert_valid_markdown(md: &str) {
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
    let (mut tables, mut fences, mut open, mut in_fence) = (0, 0, 0i32, false);
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                assert_eq!(&*lang, "diff");
                assert!(open == 1, "a code block outside a section");
                fences += 1;
                in_fence = true;
            }
            Event::End(TagEnd::CodeBlock) => in_fence = false,
            Event::Html(h) | Event::InlineHtml(h) if !in_fence => {
                open += h.matches("<details>").count() as i32;
                open -= h.matches("</details>").count() as i32;
                assert!((0..=1).contains(&open), "unbalanced <details>: {h}");
            }
            _ => {}
        }
    }
    assert!(!in_fence && open == 0, "a code block or a section left open");
    let sections = md.matches("<details>").count();
    assert_eq!(tables, usize::from(sections > 0), "one summary table");
    assert!(fences <= sections, "{fences} code blocks in {sections} sections");
}

#[test]
fn reference_create() {
    let stack = with_digest(load(REFERENCE, &[]), DIGEST_1);
    check_rendered("reference_create", &plan_of(&stack, None, &LiveSet::default()));
}

#[test]
fn reference_image_change() {
    let before = with_digest(load(REFERENCE, &[]), DIGEST_1);
    let state = applied(&before);
    let live = crate::drift::recorded_as_live(&state);
    assert!(!plan_of(&before, Some(&state), &live).has_changes(), "the recorded stack plans no change");

    // A new image: its digest is known when planning, so the task definition shows exactly the
    // image its tasks will run, not "known after apply".
    let stack = with_digest(load(REFERENCE, &[("desired_count", "3")]), DIGEST_2);
    let out = check_rendered("reference_image_change", &plan_of(&stack, Some(&state), &live));
    // Long values wrap: `~ name = old` then `-> new` on the next line.
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let shown = |from: String, to: String| lines.windows(2).filter(|w| w[0] == from && w[1] == to).count();
    let new_image = format!("-> \"<repo.url>@{DIGEST_2}\"");
    assert_eq!(shown("~ image = \"<image.uri>\"".into(), new_image), 1, "{out}");
    assert_eq!(shown(format!("~ digest = \"{DIGEST_1}\""), format!("-> \"{DIGEST_2}\"")), 1, "{out}");
}

const TWO_CONTAINERS: &str = "
stack: shop
region: us-east-1
params:
  db_password: { secret: true }
  image: { default: 'web:1' }
resources:
  logs: { type: log_group }
  task:
    type: task_definition
    cpu: 256
    memory: 512
    execution_role: 'arn:aws:iam::123456789012:role/shop-exec'
    containers:
      - name: web
        image: ${params.image}
        environment:
          DATABASE_URL: 'postgres://shop:${params.db_password}@db:5432/shop'
          MODE: production
        log_group: ${logs.name}
      - name: sidecar
        image: 'proxy:1'
";

#[test]
fn reordered_items_are_no_change() {
    // Without the secret, so the state keeps the containers in clear.
    let plain = TWO_CONTAINERS.replace("DATABASE_URL: 'postgres://shop:${params.db_password}@db:5432/shop'", "");
    let stack = load(&plain, &[("db_password", "hunter2")]);
    let reversed = |props: &mut crate::value::Props| {
        let Some(Value::List(containers)) = props.get_mut("containers") else { panic!("containers") };
        assert_eq!(containers.len(), 2);
        containers.reverse();
    };
    // Listed the other way round by AWS, and recorded so.
    let state = applied(&stack);
    let mut live = crate::drift::recorded_as_live(&state);
    reversed(&mut live.get_mut("task_definition").unwrap()[0].props);
    let p = plan_of(&stack, Some(&state), &live);
    assert_eq!(text(&p), "No changes. Stack `shop` matches AWS.\n");
    let mut state = state;
    reversed(&mut state.resources.get_mut("task").unwrap().properties);
    let p = plan_of(&stack, Some(&state), &crate::drift::recorded_as_live(&state));
    assert_eq!(text(&p), "No changes. Stack `shop` matches AWS.\n");
}

#[test]
fn secrets_and_unknowns_inside_nested_blocks() {
    let stack = load(TWO_CONTAINERS, &[("db_password", "hunter2")]);
    let create = text(&plan_of(&stack, None, &LiveSet::default()));
    assert!(!create.contains("hunter2"), "{create}");
    insta::assert_snapshot!("nested_secret_and_unknown_create", create);

    // Live reports the variables in clear; the image changes, the secret does not.
    let state = applied(&stack);
    let mut live = crate::drift::recorded_as_live(&state);
    let (desired, _) = {
        let r = &stack.resources["task"];
        let attr = |rf: &Ref| state.resources[&rf.target].attributes.get(&rf.attr).cloned().unwrap_or(Value::Unknown);
        desired_props(&stack, r, Some("lineage-1"), &attr)
    };
    live.get_mut("task_definition").unwrap()[0].props.insert("containers".into(), desired["containers"].clone());
    let changed = load(TWO_CONTAINERS, &[("db_password", "hunter2"), ("image", "web:2")]);
    let out = text(&plan_of(&changed, Some(&state), &live));
    assert!(!out.contains("hunter2"), "{out}");
    insta::assert_snapshot!("nested_secret_unchanged_image_change", out);

    // A new secret: the leaf that holds it changes, kept from view on both sides.
    let rotated = load(TWO_CONTAINERS, &[("db_password", "correct-horse")]);
    let out = text(&plan_of(&rotated, Some(&state), &live));
    assert!(!out.contains("hunter2") && !out.contains("correct-horse"), "{out}");
    insta::assert_snapshot!("nested_secret_rotated", out);
}

#[test]
fn replace_and_delete() {
    let before = load(REFERENCE, &[]);
    let state = applied(&before);
    let live = crate::drift::recorded_as_live(&state);
    let text_of = REFERENCE
        .replace("files: { type: file_system, encrypted: true,", "files: { type: file_system, encrypted: false,")
        .replace("description: Shared storage - NFS only from the tasks", "description: NFS from the tasks");
    let cut = text_of.find("  unhealthy_hosts:").unwrap();
    let end = text_of.find("outputs:").unwrap();
    let text_of = format!("{}{}", &text_of[..cut], &text_of[end..]);
    let stack = load(&text_of, &[]);
    let p = plan_of(&stack, Some(&state), &live);
    let actions: Vec<(String, Action)> =
        p.changes.iter().filter(|c| c.action != Action::NoOp).map(|c| (c.id.clone(), c.action)).collect();
    assert!(actions.contains(&("files".into(), Action::Replace)), "{actions:?}");
    assert!(actions.contains(&("efs_sg".into(), Action::Replace)), "{actions:?}");
    assert!(actions.contains(&("unhealthy_hosts".into(), Action::Delete)), "{actions:?}");
    let out = check_rendered("replace_and_delete", &p);
    assert!(out.contains("~ encrypted = true -> false  # forces replacement"), "{out}");
}

#[test]
fn drifted_resource() {
    let stack = load(REFERENCE, &[]);
    let state = applied(&stack);
    let mut live = crate::drift::recorded_as_live(&state);
    let tg = &mut live.get_mut("target_group").unwrap()[0];
    let Some(Value::Map(hc)) = tg.props.get_mut("health_check") else { panic!("health_check") };
    hc.insert("path".into(), Value::str("/changed"));
    let sg = live.get_mut("security_group").unwrap().iter_mut().find(|l| l.physical_id == "<app_sg>").unwrap();
    let Some(Value::List(rules)) = sg.props.get_mut("ingress") else { panic!("ingress") };
    let mut ssh = rules[0].clone();
    if let Value::Map(m) = &mut ssh {
        m.insert("from_port".into(), Value::Int(22));
        m.insert("to_port".into(), Value::Int(22));
        m.remove("security_group");
        m.remove("description");
        m.insert("cidr".into(), Value::str("10.0.0.0/8"));
    }
    rules.push(ssh);
    let out = check_rendered("drifted_resource", &plan_of(&stack, Some(&state), &live));
    assert!(out.contains(r#"~ path = "/changed" -> "/health""#), "{out}");
}

#[test]
fn markdown_is_cut_to_the_comment_limit() {
    // 400 security groups with rules: far over GitHub's limit.
    let mut text_of = "stack: big\nregion: us-east-1\nresources:\n  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n".to_owned();
    for i in 0..400 {
        text_of += &format!(
            "  sg{i}:\n    type: security_group\n    vpc: ${{vpc.id}}\n    ingress:\n      - {{ port: {p}, cidr: 10.0.0.0/8 }}\n      - {{ port: {q}, cidr: 10.1.0.0/16 }}\n",
            p = 1000 + i,
            q = 2000 + i
        );
    }
    let stack = load(&text_of, &[]);
    let p = plan_of(&stack, None, &LiveSet::default());
    let md = markdown(&p);
    assert!(md.len() <= COMMENT_LIMIT, "{} bytes", md.len());
    assert!(md.len() > COMMENT_LIMIT - 4_000, "the cap leaves little unused: {} bytes", md.len());
    assert_valid_markdown(&md);
    let shown = md.matches("<details>").count();
    let line = format!(
        "> **Truncated:** {} of 401 resources are not shown: a pull-request comment holds at most 65536 characters. \
         The job log (`rprov plan`) has the whole plan.\n",
        401 - shown
    );
    assert!(md.ends_with(&format!("{line}\n")), "{}", &md[md.len() - 400..]);
    assert!(md.contains("| `security_group` | 400 |"), "the summary counts every resource");

    // A small limit: the head and the truncation line, every section left out.
    let small = render_markdown(&p, &crate::kinds::KINDS, 1_000);
    assert!(small.len() <= 1_000 && small.contains("of 401 resources are not shown"), "{small}");
    assert_valid_markdown(&small);
}

#[test]
fn one_property_as_drift_shows_it() {
    let shape = crate::delta::Shape::of_property(&crate::kinds::KINDS, "target_group", "health_check");
    let map = |path: &str| {
        Value::Map(
            [("path".to_owned(), Value::str(path)), ("matcher".to_owned(), Value::str("200"))].into_iter().collect(),
        )
    };
    let out = super::property_change("health_check", &map("/health"), &map("/changed"), shape, "  # (ignored)", false);
    assert_eq!(
        out,
        "    ~ health_check = {  # (ignored)\n        ~ path = \"/health\" -> \"/changed\"\n          # 1 unchanged property hidden\n      }\n"
    );
}
