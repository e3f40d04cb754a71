//! The build context digest: what the ignore file excludes does not count, everything else does.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rprov_oci::{IgnorePatterns, context_digest};

fn write(root: &Path, name: &str, contents: &str) {
    let path = root.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

/// A context like the repository's: sources, a target directory, editor files, docs.
fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Cargo.toml", "[workspace]\n");
    write(root, "src/main.rs", "fn main() {}\n");
    write(root, "src/.main.rs.swp", "swap\n");
    write(root, "target/debug/app", "binary\n");
    write(root, "docs/guide.md", "guide\n");
    write(root, "docs/keep/important.md", "important\n");
    write(root, "app/Dockerfile", "FROM scratch\nCOPY . /\n");
    write(root, ".dockerignore", "target\n**/*.swp\ndocs\n!docs/keep\n");
    dir
}

fn digest(root: &Path) -> String {
    context_digest(root, &root.join("app/Dockerfile")).unwrap()
}

#[test]
fn digest_is_stable_and_follows_included_files() {
    let dir = context();
    let root = dir.path();
    let first = digest(root);
    assert!(first.starts_with("sha256:") && first.len() == 71, "{first}");
    assert_eq!(digest(root), first);

    write(root, "src/main.rs", "fn main() { println!(); }\n");
    let changed = digest(root);
    assert_ne!(changed, first, "an included file changed");

    write(root, "src/lib.rs", "");
    let added = digest(root);
    assert_ne!(added, changed, "a file was added");

    let main = root.join("src/main.rs");
    fs::set_permissions(&main, fs::Permissions::from_mode(0o755)).unwrap();
    let executable = digest(root);
    assert_ne!(executable, added, "the executable bit counts");
    fs::set_permissions(&main, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(digest(root), added, "other mode bits do not");

    write(root, "app/Dockerfile", "FROM scratch\nCOPY src /\n");
    assert_ne!(digest(root), added, "the Dockerfile counts");

    fs::create_dir(root.join("empty")).unwrap();
    let with_dir = digest(root);
    std::os::unix::fs::symlink("src/main.rs", root.join("link")).unwrap();
    assert_ne!(digest(root), with_dir, "a symbolic link counts");
}

#[test]
fn excluded_files_do_not_count_but_exceptions_do() {
    let dir = context();
    let root = dir.path();
    let first = digest(root);
    write(root, "target/debug/app", "rebuilt\n");
    write(root, "target/new/file", "x");
    write(root, "src/.x.swp", "swap");
    write(root, "docs/guide.md", "edited\n");
    assert_eq!(digest(root), first, "target/, *.swp and docs/ are excluded");
    write(root, "docs/keep/important.md", "edited\n");
    assert_ne!(digest(root), first, "docs/keep is an exception");
}

#[test]
fn the_dockerfile_specific_ignore_file_takes_precedence() {
    let dir = context();
    let root = dir.path();
    let first = digest(root);
    // app/Dockerfile.dockerignore replaces .dockerignore entirely: now target/ counts, src/ not.
    write(root, "app/Dockerfile.dockerignore", "# only the sources of the app\nsrc\n");
    let specific = digest(root);
    assert_ne!(specific, first);
    write(root, "src/main.rs", "changed");
    assert_eq!(digest(root), specific, "src is excluded by the Dockerfile's own ignore file");
    write(root, "target/debug/app", "changed");
    assert_ne!(digest(root), specific, "target is not excluded any more");
}

#[test]
fn errors_name_the_file() {
    let dir = context();
    let root = dir.path();
    write(root, ".dockerignore", "ok\nbad[\n");
    let error = context_digest(root, &root.join("app/Dockerfile")).unwrap_err().to_string();
    assert_eq!(error, format!("{}: line 2: \"bad[\": a [ is not closed", root.join(".dockerignore").display()));
    let error = context_digest(root, &root.join("nope/Dockerfile")).unwrap_err().to_string();
    assert!(error.contains("nope/Dockerfile: No such file"), "{error}");
    let error = context_digest(&root.join("missing"), &root.join("app/Dockerfile")).unwrap_err().to_string();
    assert!(error.contains("missing: No such file"), "{error}");
}

#[test]
fn patterns_follow_docker_semantics() {
    let patterns = IgnorePatterns::parse(
        "# comment\n/target\n**/node_modules\n*.log\n!important.log\nbuild/**/*.o\n[Tt]emp?\n",
        Path::new(".dockerignore"),
    )
    .unwrap();
    let cases = [
        ("target", true),
        ("target/x/y", true),
        ("src/target", false),
        ("node_modules", true),
        ("web/app/node_modules/react/index.js", true),
        ("debug.log", true),
        ("logs/debug.log", false),
        ("important.log", false),
        ("build/a.o", true),
        ("build/x/y/a.o", true),
        ("build/a.c", false),
        ("Temp1", true),
        ("temp1/file", true),
        ("temp12", false),
        ("# comment", false),
    ];
    for (path, excluded) in cases {
        assert_eq!(patterns.is_excluded(path), excluded, "{path}");
    }
}
