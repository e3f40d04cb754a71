//! Container images through rprov's build step: a stand-in `docker` on `PATH` (it answers
//! `buildx version` and "builds" by copying the archive the context holds), then the real push
//! to ECR on the local AWS. The context's content decides: an unchanged context (or a change to
//! a file `.dockerignore` leaves out) plans nothing and builds nothing; a changed one plans the
//! digest "known after apply", builds once and pushes the new image. No builder: a clear error.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{Ctx, Run, image_archive};

const STACK: &str = r#"
stack: built
region: us-east-1
resources:
  repo: { type: ecr_repository, force_delete: true }
  image: { type: container_image, repository: "${repo.url}", build: { context: app } }
outputs:
  uri: ${image.uri}
"#;

/// A `docker` that logs each call and writes `<context>/image.tar` where buildx would write the
/// OCI archive.
fn stand_in_docker(dir: &Path, log: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> '{log}'
case "$1 $2" in
  "buildx version") echo "github.com/docker/buildx v0.0.0 stand-in"; exit 0 ;;
  "buildx build") ;;
  *) echo "stand-in docker: unexpected: $*" >&2; exit 2 ;;
esac
for a in "$@"; do
  case "$a" in type=oci,dest=*) out="${{a#type=oci,dest=}}" ;; esac
  context="$a"
done
exec /bin/cp "$context/image.tar" "$out"
"#,
        log = log.display()
    );
    let docker = bin.join("docker");
    std::fs::write(&docker, script).unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn run(cx: &Ctx, path: &Path, args: &[&str]) -> Run {
    Run::from(cx.command(args).env("PATH", path).output().unwrap())
}

fn builds(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| l.starts_with("buildx build")).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn build_step_builds_when_the_context_changes_and_pushes_by_digest() {
    let cx = Ctx::new();
    let dir = cx.dir.path();
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Dockerfile"), "FROM scratch\nCOPY image.tar /\n").unwrap();
    std::fs::write(app.join(".dockerignore"), "notes.txt\n").unwrap();
    std::fs::write(app.join("notes.txt"), "not part of the image\n").unwrap();
    let v1 = image_archive(&app.join("image.tar"), b"build one");
    let v1_digest = rprov_oci::Image::open(&v1).unwrap().digest;
    let stack = dir.join("built.yaml");
    std::fs::write(&stack, STACK).unwrap();
    let stack = stack.to_str().unwrap();
    let log = dir.join("docker.log");
    let path = stand_in_docker(dir, &log);

    // Nothing built yet: the digest is known after apply.
    let plan = run(&cx, &path, &["plan", stack]);
    plan.expect(0);
    assert!(plan.stdout.contains("+ digest         = (known after apply)"), "{}", plan.stdout);
    assert_eq!(builds(&log), 0, "planning builds nothing");

    let applied = run(&cx, &path, &["apply", stack, "--yes"]);
    applied.expect(0);
    assert_eq!(builds(&log), 1);
    let conf = cx.sdk().await;
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let digests = |out: aws_sdk_ecr::operation::describe_images::DescribeImagesOutput| -> Vec<String> {
        out.image_details().iter().filter_map(|d| d.image_digest().map(str::to_owned)).collect()
    };
    let pushed = digests(ecr.describe_images().repository_name("built-repo").send().await.unwrap());
    assert_eq!(pushed, std::slice::from_ref(&v1_digest));
    let out = run(&cx, &path, &["output", stack]);
    assert!(out.stdout.contains(&format!("@{v1_digest}")), "{}", out.stdout);

    // The same context: nothing to do, nothing built. A file the ignore file leaves out: the same.
    run(&cx, &path, &["plan", stack, "--detailed-exitcode"]).expect(0);
    std::fs::write(app.join("notes.txt"), "edited\n").unwrap();
    run(&cx, &path, &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert_eq!(builds(&log), 1);

    // A changed context: the digest is unknown until built; apply builds once and pushes it.
    let v2 = image_archive(&app.join("image.tar"), b"build two");
    let v2_digest = rprov_oci::Image::open(&v2).unwrap().digest;
    let plan = run(&cx, &path, &["plan", stack, "--detailed-exitcode"]);
    plan.expect(2);
    assert!(plan.stdout.contains(&format!("~ digest         = \"{v1_digest}\"")), "{}", plan.stdout);
    assert!(plan.stdout.contains("-> (known after apply)"), "{}", plan.stdout);
    run(&cx, &path, &["apply", stack, "--yes"]).expect(0);
    assert_eq!(builds(&log), 2);
    let mut pushed = digests(ecr.describe_images().repository_name("built-repo").send().await.unwrap());
    pushed.sort();
    let mut want = vec![v1_digest.clone(), v2_digest.clone()];
    want.sort();
    assert_eq!(pushed, want);
    run(&cx, &path, &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert_eq!(builds(&log), 2);

    // No builder on PATH: one clear error naming the three, nothing pushed.
    image_archive(&app.join("image.tar"), b"build three");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let failed = run(&cx, &empty, &["apply", stack, "--yes"]);
    failed.expect(1);
    for builder in ["docker buildx", "podman", "buildah"] {
        assert!(failed.stderr.contains(builder), "{builder}: {}", failed.stderr);
    }
    assert_eq!(ecr.describe_images().repository_name("built-repo").send().await.unwrap().image_details().len(), 2);

    run(&cx, &path, &["destroy", stack, "--yes"]).expect(0);
    assert!(ecr.describe_repositories().send().await.unwrap().repositories().is_empty());
}

/// A saved plan pushes the image it showed: an archive changed after `plan --out` makes the
/// apply refuse (nothing sent), the archive as planned applies.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_refuses_an_image_changed_after_planning() {
    let cx = Ctx::new();
    let dir = cx.dir.path();
    let archive = dir.join("app.tar");
    image_archive(&archive, b"one");
    let stack = dir.join("saved.yaml");
    std::fs::write(
        &stack,
        "stack: saved\nregion: us-east-1\nresources:\n  repo: { type: ecr_repository, force_delete: true }\n  image: { type: container_image, repository: \"${repo.url}\", source: app.tar }\n",
    )
    .unwrap();
    let stack = stack.to_str().unwrap();
    cx.rprov(&["apply", stack, "--yes"]).expect(0);
    image_archive(&archive, b"two");
    let planned = rprov_oci::Image::open(&archive).unwrap().digest;
    let plan = dir.join("p.plan");
    cx.rprov(&["plan", stack, "--out", plan.to_str().unwrap()]).expect(0);
    image_archive(&archive, b"three");
    cx.aws.clear_calls();
    let stale = cx.rprov(&["apply", plan.to_str().unwrap(), "--yes"]);
    stale.expect(1);
    assert!(stale.stderr.contains("stale plan") && stale.stderr.contains(&planned), "{}", stale.stderr);
    assert_eq!(cx.aws.count("ecr", "PutImage"), 0, "nothing pushed");
    image_archive(&archive, b"two");
    cx.rprov(&["apply", plan.to_str().unwrap(), "--yes"]).expect(0);
    let conf = cx.sdk().await;
    let images = aws_sdk_ecr::Client::new(&conf).describe_images().repository_name("saved-repo").send().await.unwrap();
    assert!(images.image_details().iter().any(|d| d.image_digest() == Some(planned.as_str())));
    cx.rprov(&["destroy", stack, "--yes"]).expect(0);
}

/// A repository changed in place: tags, scanning, tag immutability and the lifecycle policy
/// (set, changed, removed), each re-planned empty after its apply.
#[tokio::test(flavor = "multi_thread")]
async fn a_repository_updates_in_place_and_replans_empty() {
    let cx = Ctx::new();
    let stack = cx.dir.path().join("repo.yaml");
    let write = |extra: &str, tags: &str| {
        let text = format!(
            "stack: repo\nregion: us-east-1\ntags: {{ {tags} }}\nresources:\n  repo: {{ type: ecr_repository{extra} }}\n"
        );
        std::fs::write(&stack, text).unwrap();
    };
    let path = stack.to_str().unwrap();
    write("", "team: a");
    cx.rprov(&["apply", path, "--yes"]).expect(0);
    let conf = cx.sdk().await;
    let ecr = aws_sdk_ecr::Client::new(&conf);
    for (extra, tags) in [
        (", scan_on_push: true, immutable_tags: true, lifecycle: { keep_last: 5 }", "team: b"),
        (", scan_on_push: true, immutable_tags: true, lifecycle: { keep_last: 3, expire_untagged_days: 2 }", "team: b"),
        ("", "owner: c"),
    ] {
        write(extra, tags);
        let plan = cx.rprov(&["plan", path, "--detailed-exitcode"]);
        plan.expect(2);
        assert!(plan.stdout.contains("~ repo (ecr_repository)"), "{}", plan.stdout);
        cx.rprov(&["apply", path, "--yes"]).expect(0);
        cx.rprov(&["plan", path, "--detailed-exitcode"]).expect(0);
    }
    let repo = ecr.describe_repositories().repository_names("repo-repo").send().await.unwrap();
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_tag_mutability().map(|m| m.as_str()), Some("MUTABLE"));
    let tags = ecr.list_tags_for_resource().resource_arn(repo.repository_arn().unwrap()).send().await.unwrap();
    let keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    assert!(keys.contains(&"owner") && !keys.contains(&"team"), "{keys:?}");
    let policy = ecr.get_lifecycle_policy().repository_name("repo-repo").send().await;
    assert!(policy.is_err(), "the lifecycle policy is removed with `lifecycle`");
    cx.rprov(&["destroy", path, "--yes"]).expect(0);
}
