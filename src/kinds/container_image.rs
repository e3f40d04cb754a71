use std::io::Read;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::primitives::Blob;
use aws_sdk_ecr::types::{ImageDetail, ImageIdentifier};
use rprov_oci::{Descriptor, Image};

use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct ContainerImage;

static BUILD: Ty = Ty::Obj(&[
    Prop::new("context", Ty::Str, "The build context directory, relative to the stack file.").required(),
    Prop::new("dockerfile", Ty::Str, "The Dockerfile, relative to the stack file. Default: `<context>/Dockerfile`."),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "container_image",
    doc: "A container image pushed to an ECR repository from a local OCI image, addressed by its digest. \
          The digest is computed from the local image when planning, so a plan names the exact image \
          each task will run and an unchanged image plans nothing. Earlier images stay in the \
          repository (for rollbacks) until its lifecycle policy expires them.",
    props: &[
        Prop::new("repository", Ty::Str, "The repository's URI: `${repo.url}` of an `ecr_repository`.")
            .required()
            .replaces(),
        Prop::new(
            "source",
            Ty::Str,
            "The local image, relative to the stack file: an OCI image-layout directory, an OCI archive (`docker buildx build --output type=oci`, `podman save --format oci-archive`) or a `docker save` archive.",
        ),
        Prop::new(
            "build",
            BUILD,
            "Instead of `source`: build the image with the first OCI builder found (`docker buildx`, `podman`, `buildah`) when the context's content changed (`.dockerignore` respected).",
        ),
        Prop::new(
            "tag",
            Ty::Str,
            "Also tag the image so in the repository (the tag moves to it from an earlier image).",
        )
        .aws("ecr:PutImageRequest.imageTag"),
        Prop::new("digest", Ty::Str, "Computed, never written: the image's digest (`sha256:...` of its manifest)."),
        Prop::new(
            "context_digest",
            Ty::Str,
            "Computed, never written (with `build`): the content digest of the build context.",
        ),
    ],
    attrs: &[
        Attr::new("id", "The image's URI by digest."),
        Attr::new("uri", "`<repository URI>@sha256:...`: what a task definition's `image` should be."),
        Attr::new("digest", "The image digest, `sha256:...`."),
    ],
    taggable: false,
};

/// The builds' archives, by context digest, under the working directory (beside the state).
const BUILD_CACHE: &str = ".rprov/images";

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// `(registry id, repository name)` of a repository URI `<account>.dkr.ecr.<region>.amazonaws.com/<name>`.
fn repository_of(uri: &str) -> Option<(&str, &str)> {
    let (host, name) = uri.split_once('/')?;
    let account = host.split('.').next().filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))?;
    (!name.is_empty()).then_some((account, name))
}

fn str_of<'a>(p: &'a Props, name: &str) -> Option<&'a str> {
    p.get(name).and_then(Value::as_str)
}

fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn live(repository: &str, d: &ImageDetail) -> Live {
    let digest = d.image_digest().unwrap_or_default();
    let uri = format!("{repository}@{digest}");
    let mut props = Props::new();
    props.insert("repository".into(), Value::str(repository));
    props.insert("digest".into(), Value::str(digest));
    let mut tags: Vec<&str> = d.image_tags().iter().map(String::as_str).collect();
    tags.sort_unstable();
    props.insert("tag".into(), tags.first().map_or(Value::Null, |t| Value::str(*t)));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&uri));
    attrs.insert("uri".into(), Value::str(&uri));
    attrs.insert("digest".into(), Value::str(digest));
    super::set_created(&mut attrs, super::sdk_time(d.image_pushed_at()));
    Live { physical_id: uri, props, attrs, tags: Tags::new() }
}

/// The build's paths: context and Dockerfile, relative to `base`.
fn build_paths(base: &Path, build: &Props) -> Option<(PathBuf, PathBuf)> {
    let context = base.join(str_of(build, "context")?);
    let dockerfile = str_of(build, "dockerfile").map_or_else(|| context.join("Dockerfile"), |d| base.join(d));
    Some((context, dockerfile))
}

fn cached_build(context_digest: &str) -> PathBuf {
    Path::new(BUILD_CACHE).join(format!("{}.tar", context_digest.trim_start_matches("sha256:")))
}

/// Local file work off the async threads.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())?
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, AwsError> {
    off_thread(f).await.map_err(AwsError::Invalid)
}

/// Why a blob upload failed: the local archive (sending it again does not help) or ECR.
enum BlobError {
    Local(String),
    Aws(AwsError),
}

impl From<AwsError> for BlobError {
    fn from(e: AwsError) -> Self {
        BlobError::Aws(e)
    }
}

/// The local image the properties name: the archive `source` names, or the build's (run now
/// when its archive is not cached).
async fn local_image(cx: &Cx, id: &str, props: &Props) -> Result<(Image, PathBuf), AwsError> {
    let path = match (str_of(props, "source"), props.get("build").and_then(Value::as_map)) {
        (Some(src), _) => cx.base.join(src),
        (None, Some(build)) => {
            let (context, dockerfile) = build_paths(&cx.base, build)
                .ok_or_else(|| AwsError::Invalid(format!("{id}: `build` needs `context`")))?;
            let (c, d) = (context.clone(), dockerfile.clone());
            let digest = blocking(move || rprov_oci::context_digest(&c, &d).map_err(|e| e.to_string())).await?;
            let out = cached_build(&digest);
            if !out.exists() {
                cx.status(id, &format!("building {} (context {})", dockerfile.display(), context.display()));
                let tmp = out.with_extension("tar.part");
                let (c, d, t) = (context, dockerfile, tmp.clone());
                let builder = blocking(move || {
                    if let Some(dir) = t.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    }
                    rprov_oci::build(&c, &d, &t).map_err(|e| e.to_string())
                })
                .await?;
                std::fs::rename(&tmp, &out).map_err(|e| AwsError::Failed(format!("{}: {e}", out.display())))?;
                cx.status(id, &format!("built with {builder}"));
            }
            out
        }
        (None, None) => return Err(AwsError::Invalid(format!("{id}: neither `source` nor `build`"))),
    };
    let p = path.clone();
    let image = blocking(move || Image::open(&p).map_err(|e| e.to_string())).await?;
    Ok((image, path))
}

/// Pushes `image` to the repository through the ECR API: the blobs ECR does not have yet
/// (BatchCheckLayerAvailability), each streamed in the parts ECR asks for, then the manifest
/// (PutImage, with the digest ECR must find). Memory stays at one part per blob in flight.
async fn push(cx: &Cx, id: &str, registry: &str, repo: &str, image: &Image, tag: Option<&str>) -> Result<(), AwsError> {
    let ecr = client(cx);
    let blobs: Vec<&Descriptor> = image.blobs();
    let mut missing: Vec<Descriptor> = Vec::new();
    for chunk in blobs.chunks(100) {
        let out = ecr
            .batch_check_layer_availability()
            .registry_id(registry)
            .repository_name(repo)
            .set_layer_digests(Some(chunk.iter().map(|d| d.digest.clone()).collect()))
            .send()
            .await
            .map_err(classify)?;
        let have: Vec<&str> = out
            .layers()
            .iter()
            .filter(|l| l.layer_availability().is_some_and(|a| a.as_str() == "AVAILABLE"))
            .filter_map(|l| l.layer_digest())
            .collect();
        missing.extend(chunk.iter().filter(|d| !have.contains(&d.digest.as_str())).map(|d| (*d).clone()));
    }
    let total: u64 = missing.iter().map(|d| d.size).sum();
    if !missing.is_empty() {
        cx.status(id, &format!("pushing {} of {} blobs ({} bytes)", missing.len(), blobs.len(), total));
    }
    // A few blobs at once: each holds one part in memory.
    use futures_util::StreamExt;
    let mut pending = Vec::new();
    for d in &missing {
        pending.push(upload_blob_again(cx, registry, repo, image, d));
    }
    let uploads = futures_util::stream::iter(pending).buffer_unordered(3).collect::<Vec<_>>().await;
    uploads.into_iter().collect::<Result<Vec<()>, _>>()?;
    let manifest = std::str::from_utf8(&image.manifest)
        .map_err(|_| AwsError::Invalid("the image manifest is not UTF-8 text".into()))?
        .to_owned();
    let sent = ecr
        .put_image()
        .registry_id(registry)
        .repository_name(repo)
        .image_manifest(manifest)
        .image_manifest_media_type(&image.manifest_media_type)
        .image_digest(&image.digest)
        .set_image_tag(tag.map(str::to_owned))
        .send()
        .await
        .map_err(classify);
    match sent {
        // The same manifest with the same tag is there already: a re-push after a lost answer.
        Ok(_) | Err(AwsError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An upload whose part got no answer cannot go on (the part may have landed: ECR refuses the
/// same range twice), so a failed blob upload starts over with a new upload, a few times.
async fn upload_blob_again(
    cx: &Cx,
    registry: &str,
    repo: &str,
    image: &Image,
    blob: &Descriptor,
) -> Result<(), AwsError> {
    let mut attempt = 1;
    loop {
        match upload_blob(cx, registry, repo, image, blob).await {
            Ok(()) => return Ok(()),
            Err(BlobError::Aws(e)) if attempt < 3 => {
                tracing::debug!("blob {} upload failed ({e}); starting over", blob.digest);
                attempt += 1;
            }
            Err(BlobError::Aws(e)) => return Err(e),
            Err(BlobError::Local(m)) => return Err(AwsError::Invalid(m)),
        }
    }
}

async fn upload_blob(cx: &Cx, registry: &str, repo: &str, image: &Image, blob: &Descriptor) -> Result<(), BlobError> {
    let ecr = client(cx);
    let started =
        ecr.initiate_layer_upload().registry_id(registry).repository_name(repo).send().await.map_err(classify)?;
    let upload_id = started.upload_id().unwrap_or_default().to_owned();
    // ECR says the part size it expects; its quotas allow parts of 5 to 10 MiB but the last.
    let part = started.part_size().map_or(10 << 20, |n| n.clamp(5 << 20, 10 << 20)) as usize;
    let mut reader = image.open_blob(blob).map_err(|e| BlobError::Local(e.to_string()))?;
    let mut sent: u64 = 0;
    loop {
        let (r, chunk) = off_thread(move || {
            let mut buf = Vec::with_capacity(part);
            // Up to `part` bytes; the read that meets the end checks the blob's digest.
            (&mut reader).take(part as u64).read_to_end(&mut buf).map_err(|e| e.to_string())?;
            Ok((reader, buf))
        })
        .await
        .map_err(BlobError::Local)?;
        reader = r;
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len() as u64;
        let last = chunk.len() < part;
        ecr.upload_layer_part()
            .registry_id(registry)
            .repository_name(repo)
            .upload_id(&upload_id)
            .part_first_byte(sent as i64)
            .part_last_byte((sent + len - 1) as i64)
            .layer_part_blob(Blob::new(chunk))
            .send()
            .await
            .map_err(classify)?;
        sent += len;
        if last {
            break;
        }
    }
    if sent != blob.size {
        return Err(BlobError::Local(format!(
            "blob {} has {sent} bytes, its manifest says {}",
            blob.digest, blob.size
        )));
    }
    let done = ecr
        .complete_layer_upload()
        .registry_id(registry)
        .repository_name(repo)
        .upload_id(&upload_id)
        .layer_digests(&blob.digest)
        .send()
        .await
        .map_err(classify);
    match done {
        // Pushed meanwhile by another run (the same blob in two images): ECR has it.
        Ok(_) | Err(AwsError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn describe(cx: &Cx, registry: &str, repo: &str) -> Result<Vec<ImageDetail>, AwsError> {
    let op = client(cx).describe_images().registry_id(registry).repository_name(repo);
    match crate::aws::all_items(op.into_paginator().items().send()).await {
        Err(AwsError::NotFound(_)) => Ok(vec![]),
        r => r,
    }
}

async fn put(cx: &Cx, id: &str, props: &Props) -> Result<Live, AwsError> {
    let repository = str_of(props, "repository").unwrap_or_default();
    let (registry, repo) = repository_of(repository)
        .ok_or_else(|| AwsError::Invalid(format!("{id}: `{repository}` is not an ECR repository URI")))?;
    let (image, path) = local_image(cx, id, props).await?;
    if let Some(planned) = str_of(props, "digest").filter(|d| *d != image.digest) {
        return Err(AwsError::Invalid(format!(
            "{id}: the image at {} is {} now, but the plan has {planned}: it changed after planning; plan again",
            path.display(),
            image.digest
        )));
    }
    push(cx, id, registry, repo, &image, str_of(props, "tag")).await?;
    let found = describe(cx, registry, repo).await?;
    let d = found
        .iter()
        .find(|d| d.image_digest() == Some(image.digest.as_str()))
        .ok_or_else(|| AwsError::NotFound(format!("image {} in {repo} after PutImage", image.digest)))?;
    let mut l = live(repository, d);
    if let Some(cd) = props.get("context_digest") {
        l.props.insert("context_digest".into(), cd.clone());
    }
    Ok(l)
}

impl KindSpec for ContainerImage {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// An image comes from exactly one of `source` and `build`; its digest is rprov's to compute.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        match (s.get("source"), s.get("build")) {
            (Some(_), Some(_)) => out.push(Problem::new("build", "give `source` (a local image) or `build`, not both")),
            (None, None) => out.push(
                Problem::new("", "a container_image needs `source` (a local OCI image or archive) or `build`")
                    .help("e.g. `source: ../target/image/app.tar`"),
            ),
            _ => {}
        }
        for computed in ["digest", "context_digest"] {
            if s.get(computed).is_some() {
                out.push(Problem::new(
                    computed,
                    format!("`{computed}` is computed by rprov from the local image; leave it out"),
                ));
            }
        }
        if let Some(uri) = s.str("repository").filter(|u| repository_of(u).is_none()) {
            out.push(
                Problem::new(
                    "repository",
                    format!("`{uri}` is not an ECR repository URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`)"),
                )
                .help("use `${repo.url}` of an ecr_repository"),
            );
        }
        out
    }

    fn attrs_changed_by_update(&self, changed: &[String]) -> &'static [&'static str] {
        if changed.iter().any(|c| c == "digest") { &["id", "uri", "digest"] } else { &[] }
    }

    fn known_attrs(&self, props: &Props) -> Props {
        let mut out = Props::new();
        if let (Some(repo), Some(digest)) = (str_of(props, "repository"), str_of(props, "digest")) {
            let uri = format!("{repo}@{digest}");
            out.insert("id".into(), Value::str(&uri));
            out.insert("uri".into(), Value::str(uri));
            out.insert("digest".into(), Value::str(digest));
        }
        out
    }

    fn create_is_idempotent(&self) -> bool {
        // Pushing the same image again finds its blobs there and PutImage answers as before.
        true
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ecr", "PutImage"), ("ecr", "CompleteLayerUpload")])
    }
}

#[async_trait]
impl Kind for ContainerImage {
    /// Images carry no tags of their own: the stack's are the recorded ones.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// The digest of the local image, computed before planning: `source`'s (its manifest's
    /// digest: reading an OCI archive's index and manifest, not its layers), or with `build`
    /// the digest the recorded build of the same context made (or a cached archive of it);
    /// "known after apply" when the context changed and nothing was built from it yet.
    fn local(&self, base: &Path, written: &Props, recorded: Option<&Props>) -> Result<Props, (&'static str, String)> {
        let mut out = Props::new();
        if let Some(src) = str_of(written, "source") {
            let path = base.join(src);
            let image = Image::open(&path).map_err(|e| ("source", e.to_string()))?;
            out.insert("digest".into(), Value::str(image.digest));
        } else if let Some((context, dockerfile)) =
            written.get("build").and_then(Value::as_map).and_then(|b| build_paths(base, b))
        {
            let cd = rprov_oci::context_digest(&context, &dockerfile).map_err(|e| ("build", e.to_string()))?;
            let same = recorded.filter(|r| str_of(r, "context_digest") == Some(cd.as_str()));
            let digest = match same.and_then(|r| str_of(r, "digest")).filter(|d| is_digest(d)) {
                Some(d) => Value::str(d),
                None => match Image::open(&cached_build(&cd)) {
                    Ok(image) => Value::str(image.digest),
                    Err(_) => Value::Unknown,
                },
            };
            out.insert("digest".into(), digest);
            out.insert("context_digest".into(), Value::str(cd));
        }
        Ok(out)
    }

    /// DescribeImages, paginated, once per repository holding a recorded image.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut repos: Vec<&str> = ids.iter().filter_map(|i| i.split_once('@').map(|(r, _)| r)).collect();
        repos.sort_unstable();
        repos.dedup();
        let mut out = Vec::new();
        for repository in repos {
            let Some((registry, repo)) = repository_of(repository) else { continue };
            for d in describe(cx, registry, repo).await? {
                let l = live(repository, &d);
                if ids.contains(&l.physical_id) {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        put(cx, req.id, req.props).await
    }

    /// A new image (or tag): pushed beside the old one, which stays for rollbacks.
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        put(cx, req.id, req.new).await
    }

    /// BatchDeleteImage of this digest (every tag on it goes too).
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let Some((repository, digest)) = req.physical_id.split_once('@') else { return Ok(()) };
        let Some((registry, repo)) = repository_of(repository) else { return Ok(()) };
        let sent = client(cx)
            .batch_delete_image()
            .registry_id(registry)
            .repository_name(repo)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
            .map_err(classify);
        match sent {
            Ok(out) => {
                match out.failures().iter().find(|f| f.failure_code().is_none_or(|c| c.as_str() != "ImageNotFound")) {
                    Some(f) => Err(AwsError::Invalid(format!(
                        "deleting image {digest} from {repo}: {}",
                        f.failure_reason().unwrap_or("refused")
                    ))),
                    None => Ok(()),
                }
            }
            r => super::gone_ok(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_uris() {
        assert_eq!(
            repository_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app"),
            Some(("123456789012", "team/app"))
        );
        assert_eq!(repository_of("docker.io/library/nginx"), None);
        assert_eq!(repository_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/"), None);
    }

    #[test]
    fn the_uri_is_known_from_repository_and_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let mut p = Props::new();
        p.insert("repository".into(), Value::str("123456789012.dkr.ecr.us-east-1.amazonaws.com/app"));
        assert!(ContainerImage.known_attrs(&p).is_empty());
        p.insert("digest".into(), Value::str(&d));
        let a = ContainerImage.known_attrs(&p);
        assert_eq!(a["uri"], Value::str(format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{d}")));
        p.insert("digest".into(), Value::Unknown);
        assert!(ContainerImage.known_attrs(&p).is_empty());
    }
}

/// The push's retry logic against mocked ECR answers (aws-smithy-mocks): a blob upload whose part
/// failed starts over with a new upload; a local failure (the archive changed on disk) does not.
#[cfg(test)]
mod push_tests {
    use aws_sdk_ecr::operation::complete_layer_upload::CompleteLayerUploadOutput;
    use aws_sdk_ecr::operation::initiate_layer_upload::InitiateLayerUploadOutput;
    use aws_sdk_ecr::operation::upload_layer_part::{UploadLayerPartError, UploadLayerPartOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::mocked;

    const PART: i64 = 5 << 20;

    /// An image whose one layer is 6 MiB of incompressible bytes: two parts of ECR's 5 MiB.
    fn image(dir: &Path) -> (Image, Descriptor) {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let bytes: Vec<u8> = (0..(6 << 20) / 8)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .collect();
        let image = rprov_oci::ImageBuilder::new()
            .layer([rprov_oci::Entry::file("data", bytes, 0o644)])
            .write_layout(dir)
            .unwrap();
        let layer = image.layers[0].clone();
        assert!(layer.size as i64 > PART && (layer.size as i64) < 2 * PART, "{}", layer.size);
        (image, layer)
    }

    fn initiate(ids: [&'static str; 2]) -> aws_smithy_mocks::Rule {
        mock!(Client::initiate_layer_upload)
            .sequence()
            .output(move || InitiateLayerUploadOutput::builder().upload_id(ids[0]).part_size(PART).build())
            .output(move || InitiateLayerUploadOutput::builder().upload_id(ids[1]).part_size(PART).build())
            .build()
    }

    #[tokio::test]
    async fn a_failed_part_starts_the_blob_over_with_a_new_upload() {
        let dir = tempfile::tempdir().unwrap();
        let (image, layer) = image(dir.path());
        let init = initiate(["u1", "u2"]);
        // u1: the first part lands, the second is refused; u2: both parts, from byte 0 again.
        let part = mock!(Client::upload_layer_part)
            .sequence()
            .output(|| UploadLayerPartOutput::builder().build())
            .error(|| UploadLayerPartError::generic(ErrorMetadata::builder().code("InvalidLayerPartException").build()))
            .output(|| UploadLayerPartOutput::builder().build())
            .times(2)
            .build();
        let first_bytes = mock!(Client::upload_layer_part)
            .match_requests(|r| r.upload_id() == Some("u2") && r.part_first_byte() == Some(0))
            .then_output(|| UploadLayerPartOutput::builder().build());
        let digest = layer.digest.clone();
        let complete = mock!(Client::complete_layer_upload)
            .match_requests(move |r| r.upload_id() == Some("u2") && r.layer_digests() == [digest.clone()])
            .then_output(|| CompleteLayerUploadOutput::builder().build());
        let (cx, _) = mocked(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&init, &first_bytes, &part, &complete]));

        upload_blob_again(&cx, "123456789012", "app", &image, &layer).await.unwrap();

        assert_eq!(init.num_calls(), 2);
        assert_eq!(first_bytes.num_calls() + part.num_calls(), 4);
        assert_eq!(first_bytes.num_calls(), 1, "the new upload starts at byte 0");
        assert_eq!(complete.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_archive_changed_on_disk_fails_without_starting_over() {
        let dir = tempfile::tempdir().unwrap();
        let (image, layer) = image(dir.path());
        let blob = dir.path().join("blobs/sha256").join(layer.digest.trim_start_matches("sha256:"));
        let mut bytes = std::fs::read(&blob).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&blob, bytes).unwrap();
        let init = initiate(["u1", "u2"]);
        let part = mock!(Client::upload_layer_part).then_output(|| UploadLayerPartOutput::builder().build());
        let complete =
            mock!(Client::complete_layer_upload).then_output(|| CompleteLayerUploadOutput::builder().build());
        let (cx, _) = mocked(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&init, &part, &complete]));

        let err = upload_blob_again(&cx, "123456789012", "app", &image, &layer).await.unwrap_err();

        assert!(err.to_string().contains(&layer.digest), "{err}");
        assert_eq!(init.num_calls(), 1, "a local failure is not retried");
        assert_eq!(complete.num_calls(), 0, "nothing completed");
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn source_or_build_and_computed_digests() {
        let repo = "repository: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app";
        check_rules(&format!("img: {{ type: container_image, {repo}, source: a.tar }}"), &[]);
        check_rules(&format!("img: {{ type: container_image, {repo}, build: {{ context: . }} }}"), &[]);
        check_rules(&format!("img: {{ type: container_image, {repo} }}"), &["needs `source`"]);
        check_rules(
            &format!("img: {{ type: container_image, {repo}, source: a.tar, build: {{ context: . }} }}"),
            &["not both"],
        );
        check_rules(
            &format!("img: {{ type: container_image, {repo}, source: a.tar, digest: 'sha256:00' }}"),
            &["`digest` is computed by rprov"],
        );
        check_rules(
            "img: { type: container_image, repository: nginx, source: a.tar }",
            &["`nginx` is not an ECR repository URI"],
        );
    }
}
