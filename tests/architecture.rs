//! The module map, enforced: the core (what decides) imports nothing that talks to the world,
//! and no two top-level modules import each other, directly or around a loop. A plain reading of
//! `src/`: every `crate::MODULE` path and every path into an I/O crate, per top-level module.
//!
//! Layers (ARCHITECTURE.md):
//! - core, pure: `value`, `delta`, `sorted_map`, `model`, `diag`, `expr`, `schema`, `spec`, `state` (the document),
//!   `stack`, `graph`, `plan`, `drift`, `docs`, `teardown`, `import`;
//! - the world: `aws` (SDK configuration, errors, waiters), `kinds` (operations per kind),
//!   `store` (state backends), `apply` (the executor), `cli`.
//!
//! Unit tests are not the module: a `tests.rs` file and what follows `#[cfg(test)]` may use
//! anything (a core module's tests run real kinds' specs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CORE: &[&str] = &[
    "value",
    "delta",
    "sorted_map",
    "model",
    "diag",
    "expr",
    "schema",
    "spec",
    "state",
    "stack",
    "graph",
    "plan",
    "drift",
    "docs",
    "teardown",
    "import",
];
const WORLD: &[&str] = &["aws", "kinds", "store", "apply", "cli"];
/// Crates that do I/O or run it: none of them in the core.
const IO_CRATES: &[&str] = &["tokio", "aws_config", "aws_sdk_", "aws_smithy_", "async_trait", "futures_util"];

/// What one top-level module refers to: crate modules, and I/O crates, with where.
#[derive(Default, Debug)]
struct Refs {
    modules: BTreeMap<String, Vec<String>>,
    io: BTreeMap<String, Vec<String>>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a line: its comment (`//` outside a string) dropped, string contents blanked.
fn code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_str = false;
    let mut prev = ' ';
    for c in line.chars() {
        match c {
            '"' if prev != '\\' => {
                in_str = !in_str;
                out.push(c);
            }
            '/' if !in_str && prev == '/' => {
                out.pop();
                return out;
            }
            _ if in_str => out.push(' '),
            _ => out.push(c),
        }
        prev = c;
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The crate modules and I/O crates one source text refers to, up to its unit tests.
fn scan(text: &str, at: &str, refs: &mut Refs) {
    for (n, line) in text.lines().enumerate() {
        if line.trim() == "#[cfg(test)]" {
            break;
        }
        let line = code(line);
        let line = line.as_str();
        let here = format!("{at}:{}", n + 1);
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            if after.starts_with('{') {
                let group = &after[1..after.find('}').unwrap_or(after.len())];
                for item in group.split(',') {
                    let m = ident_at(item.trim());
                    if !m.is_empty() {
                        refs.modules.entry(m.to_owned()).or_default().push(here.clone());
                    }
                }
            } else {
                let m = ident_at(after);
                if !m.is_empty() {
                    refs.modules.entry(m.to_owned()).or_default().push(here.clone());
                }
            }
            rest = after;
        }
        for krate in IO_CRATES {
            let mut search = line;
            while let Some(i) = search.find(krate) {
                let before = search[..i].chars().last();
                let boundary = before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
                let after = &search[i + krate.len()..];
                let path = if krate.ends_with('_') { ident_at(after) } else { "" };
                let rest_after = &after[path.len()..];
                let used = rest_after.starts_with("::") || rest_after.starts_with(';') || rest_after.starts_with(']');
                if boundary && used {
                    refs.io.entry(format!("{krate}{path}")).or_default().push(here.clone());
                }
                search = after;
            }
        }
    }
}

fn modules_of(src: &Path) -> BTreeMap<String, Refs> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out: BTreeMap<String, Refs> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" || f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        scan(&text, &format!("src/{}", rel.display()), out.entry(top).or_default());
    }
    out
}

/// Every violation of the layering, one line each.
fn violations(modules: &BTreeMap<String, Refs>) -> Vec<String> {
    let mut out = Vec::new();
    for (m, refs) in modules {
        if !CORE.contains(&m.as_str()) && !WORLD.contains(&m.as_str()) {
            out.push(format!("module `{m}` is in no layer: add it to CORE or WORLD (and to ARCHITECTURE.md)"));
        }
        if !CORE.contains(&m.as_str()) {
            continue;
        }
        for (used, at) in &refs.modules {
            if WORLD.contains(&used.as_str()) {
                out.push(format!("core module `{m}` imports `{used}` ({})", at.join(", ")));
            }
        }
        for (krate, at) in &refs.io {
            out.push(format!("core module `{m}` uses the I/O crate `{krate}` ({})", at.join(", ")));
        }
    }
    for (m, refs) in modules {
        if refs.modules.contains_key("cli") && m != "cli" {
            out.push(format!("`{m}` imports `cli`: only main.rs calls the command line"));
        }
    }
    out.extend(cycles(modules).into_iter().map(|c| format!("import cycle: {}", c.join(" -> "))));
    out
}

/// Loops in the graph of top-level modules, each named once (from its smallest member).
fn cycles(modules: &BTreeMap<String, Refs>) -> Vec<Vec<String>> {
    let edges: BTreeMap<&str, BTreeSet<&str>> = modules
        .iter()
        .map(|(m, r)| {
            let to = r.modules.keys().map(String::as_str).filter(|t| *t != m && modules.contains_key(*t)).collect();
            (m.as_str(), to)
        })
        .collect();
    let mut found = BTreeSet::new();
    for &start in edges.keys() {
        // Shortest loop back to `start` through modules not smaller than it.
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(x) = queue.pop_front() {
            for &y in &edges[x] {
                if y == start {
                    let mut path = vec![x];
                    while let Some(&p) = prev.get(path.last().unwrap()) {
                        path.push(p);
                    }
                    path.reverse();
                    let mut loop_: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                    loop_.push(start.to_owned());
                    found.insert(loop_);
                    queue.clear();
                    break;
                }
                if y > start && !prev.contains_key(y) && y != start {
                    prev.insert(y, x);
                    queue.push_back(y);
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn the_core_does_no_io_and_no_modules_import_each_other_in_a_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules_of(&src);
    for (m, r) in &modules {
        let deps: Vec<&String> = r.modules.keys().filter(|k| *k != m && modules.contains_key(*k)).collect();
        println!("{m:<11} -> {deps:?}");
    }
    let found = violations(&modules);
    assert!(found.is_empty(), "the module map is broken:\n  {}", found.join("\n  "));
}

/// The checker itself catches what it is for: a core module reaching for AWS, a loop.
#[test]
fn the_checker_fails_on_a_forbidden_import_and_on_a_loop() {
    let mut modules = BTreeMap::new();
    let mut plan = Refs::default();
    scan(
        "use crate::aws::Cx;\nuse crate::{stack::Stack, value};\n// use crate::cli::x;\nlet s = \"crate::kinds\";\n",
        "src/plan/mod.rs",
        &mut plan,
    );
    scan("async fn f() { tokio::time::sleep(d).await; }\n#[async_trait]\n", "src/plan/mod.rs", &mut plan);
    let mut stack = Refs::default();
    scan("use crate::plan::Plan;\n", "src/stack/mod.rs", &mut stack);
    let mut aws = Refs::default();
    scan("use crate::value::Value;", "src/aws/mod.rs", &mut aws);
    let mut value = Refs::default();
    scan("", "src/value.rs", &mut value);
    modules.insert("plan".to_owned(), plan);
    modules.insert("stack".to_owned(), stack);
    modules.insert("aws".to_owned(), aws);
    modules.insert("value".to_owned(), value);
    let found = violations(&modules);
    let text = found.join("\n");
    assert!(text.contains("core module `plan` imports `aws` (src/plan/mod.rs:1)"), "{text}");
    assert!(text.contains("core module `plan` uses the I/O crate `tokio`"), "{text}");
    assert!(text.contains("core module `plan` uses the I/O crate `async_trait`"), "{text}");
    assert!(text.contains("import cycle: plan -> stack -> plan"), "{text}");
    assert!(!text.contains("cli"), "comments are not imports: {text}");
    assert!(!text.contains("`kinds`"), "strings are not imports: {text}");

    let mut drift = Refs::default();
    scan(
        "use crate::value::Value;\n#[cfg(test)]\nmod tests {\n    use crate::kinds::KINDS;\n}\n",
        "src/drift.rs",
        &mut drift,
    );
    assert_eq!(drift.modules.keys().collect::<Vec<_>>(), ["value"], "unit tests are not the module");
}
