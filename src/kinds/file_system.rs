use async_trait::async_trait;
use aws_sdk_efs::operation::create_file_system::CreateFileSystemError;
use aws_sdk_efs::types::{
    FileSystemDescription, LifecyclePolicy, PerformanceMode, ThroughputMode, TransitionToIaRules,
};
use aws_smithy_runtime_api::client::result::SdkError;

use super::efs::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq, gone_ok};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone, wait_until};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct FileSystem;

const TRANSITIONS: &[&str] = &[
    "AFTER_1_DAY",
    "AFTER_7_DAYS",
    "AFTER_14_DAYS",
    "AFTER_30_DAYS",
    "AFTER_60_DAYS",
    "AFTER_90_DAYS",
    "AFTER_180_DAYS",
    "AFTER_270_DAYS",
    "AFTER_365_DAYS",
];

static SCHEMA: KindSchema = KindSchema {
    name: "file_system",
    doc: "An EFS file system: NFS storage shared by every task that mounts it.",
    props: &[
        Prop::new("encrypted", Ty::Bool, "Encrypt data at rest.")
            .aws("efs:CreateFileSystemRequest.Encrypted")
            .default(Default::Bool(true))
            .replaces(),
        Prop::new(
            "kms_key",
            Ty::Str,
            "ARN of the KMS key for encryption at rest (AWS reports the ARN, so give the ARN, not an alias); \
             AWS's key for EFS when left out.",
        )
        .aws("efs:CreateFileSystemRequest.KmsKeyId")
        .replaces(),
        Prop::new("performance_mode", Ty::Enum(&["generalPurpose", "maxIO"]), "The performance mode.")
            .aws("efs:CreateFileSystemRequest.PerformanceMode")
            .default(Default::Str("generalPurpose"))
            .replaces(),
        Prop::new(
            "throughput_mode",
            Ty::Enum(&["bursting", "elastic", "provisioned"]),
            "How throughput scales (AWS allows one change of mode per 24 hours).",
        )
        .aws("efs:CreateFileSystemRequest.ThroughputMode")
        .default(Default::Str("bursting")),
        Prop::new(
            "provisioned_throughput_mibps",
            Ty::Num,
            "Throughput in MiB/s; with throughput_mode provisioned only.",
        )
        .aws("efs:CreateFileSystemRequest.ProvisionedThroughputInMibps"),
        Prop::new(
            "transition_to_ia",
            Ty::Enum(TRANSITIONS),
            "Move files not accessed for this long to Infrequent Access storage; none when left out.",
        )
        .aws("efs:LifecyclePolicy.TransitionToIA"),
    ],
    attrs: &[
        Attr::new("id", "The file system id (fs-...)."),
        Attr::new("arn", "The file system's ARN."),
        Attr::new("dns_name", "The DNS name to mount it by (fs-....efs.REGION.amazonaws.com)."),
    ],
    taggable: true,
};

fn live(cx: &Cx, f: &FileSystemDescription) -> Live {
    let id = f.file_system_id().to_owned();
    let mut props = Props::new();
    props.insert("encrypted".into(), f.encrypted().unwrap_or(false).into());
    if let Some(k) = f.kms_key_id() {
        props.insert("kms_key".into(), Value::str(k));
    }
    props.insert("performance_mode".into(), Value::str(f.performance_mode().as_str()));
    let mode = f.throughput_mode().map_or("bursting", |m| m.as_str());
    props.insert("throughput_mode".into(), Value::str(mode));
    // AWS keeps the last provisioned figure after a switch away from provisioned; it means
    // nothing then, and the stack leaves it out.
    if mode == "provisioned"
        && let Some(t) = f.provisioned_throughput_in_mibps()
    {
        props.insert("provisioned_throughput_mibps".into(), Value::Num(t));
    }
    // `transition_to_ia` is not in DescribeFileSystems: DescribeLifecycleConfiguration takes one
    // file system per call, so outside of create/update it is compared with what was recorded.
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("arn".into(), f.file_system_arn().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("dns_name".into(), Value::str(format!("{id}.efs.{}.amazonaws.com", cx.region)));
    super::set_created(&mut attrs, super::sdk_time(Some(f.creation_time())));
    Live { physical_id: id, props, attrs, tags: efs::from_sdk(f.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Option<FileSystemDescription>, AwsError> {
    match client(cx).describe_file_systems().file_system_id(id).send().await.map_err(classify) {
        Ok(out) => Ok(out.file_systems().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The file system made with `token`, for a FileSystemAlreadyExists that does not name it
/// (AWS does; the local AWS leaves FileSystemId out).
async fn by_token(cx: &Cx, token: &str) -> Result<String, AwsError> {
    let out = client(cx).describe_file_systems().creation_token(token).send().await.map_err(classify)?;
    out.file_systems()
        .first()
        .map(|f| f.file_system_id().to_owned())
        .ok_or_else(|| AwsError::NotFound(format!("file system with creation token {token}")))
}

async fn wait_available(cx: &Cx, logical_id: &str, id: &str) -> Result<FileSystemDescription, AwsError> {
    wait_until(
        &cx.wait,
        &format!("file system {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            let f = describe_one(cx, id).await?;
            Ok(match efs::creation(f.as_ref().map(|f| f.life_cycle_state())) {
                Poll::Ready(()) => Poll::Ready(f.expect("ready means described")),
                Poll::Pending(s) => Poll::Pending(s),
                Poll::Failed(s) => Poll::Failed(s),
            })
        },
    )
    .await
}

/// Sets the lifecycle policy; a missing `transition_to_ia` removes it (an empty list).
async fn put_lifecycle(cx: &Cx, id: &str, props: &Props) -> Result<(), AwsError> {
    let policies = props
        .get("transition_to_ia")
        .and_then(Value::as_str)
        .map(|t| vec![LifecyclePolicy::builder().transition_to_ia(TransitionToIaRules::from(t)).build()])
        .unwrap_or_default();
    client(cx)
        .put_lifecycle_configuration()
        .file_system_id(id)
        .set_lifecycle_policies(Some(policies))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

fn with_lifecycle(mut l: Live, props: &Props) -> Live {
    if let Some(t) = props.get("transition_to_ia").filter(|v| !v.is_null()) {
        l.props.insert("transition_to_ia".into(), t.clone());
    }
    l
}

impl KindSpec for FileSystem {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateFileSystem): "If you use KmsKeyId, you must set the ... Encrypted parameter
    /// to true"; "If you set ThroughputMode to provisioned, you must also set a value for
    /// ProvisionedThroughputInMibps".
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let given = |k: &str| !matches!(s.get(k), None | Some(Expr::Lit(Value::Null)));
        if given("kms_key") && s.bool("encrypted") == Some(false) {
            out.push(
                Problem::new("kms_key", "a KMS key encrypts at rest: AWS refuses one with `encrypted: false`")
                    .help("leave out `encrypted` (true by default), or the key"),
            );
        }
        if s.str("throughput_mode") == Some("provisioned") && !given("provisioned_throughput_mibps") {
            out.push(Problem::new(
                "throughput_mode",
                "provisioned throughput needs `provisioned_throughput_mibps`: the MiB/s to provision (1 or more)",
            ));
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        // Removing `transition_to_ia` from the stack must remove the policy: an explicit null
        // differs from a recorded value, while "absent on both sides" stays equal.
        props.entry("transition_to_ia".into()).or_insert(Value::Null);
        if props.get("throughput_mode").and_then(Value::as_str) != Some("provisioned") {
            props.remove("provisioned_throughput_mibps");
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticfilesystem", "file-system"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("elasticfilesystem", "DeleteFileSystem"), ("elasticfilesystem", "CreateFileSystem")])
    }
}

#[async_trait]
impl Kind for FileSystem {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let all = efs::file_systems(cx).await?;
        Ok(all.iter().filter(|f| efs::exists(f.life_cycle_state())).map(|f| live(cx, f)).collect())
    }

    /// `transition_to_ia` of imported file systems: DescribeLifecycleConfiguration, one each.
    async fn read_unreported(&self, cx: &Cx, live: &mut [Live]) -> Result<(), AwsError> {
        for l in live.iter_mut() {
            let out =
                client(cx).describe_lifecycle_configuration().file_system_id(&l.physical_id).send().await.map_err(classify)?;
            let rule = out.lifecycle_policies().iter().find_map(|p| p.transition_to_ia());
            if let Some(r) = rule {
                l.props.insert("transition_to_ia".into(), Value::str(r.as_str()));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let text = |k: &str| req.props.get(k).and_then(Value::as_str);
        // CreationToken makes the create idempotent: a repeat (SDK retry after a lost response,
        // or the executor's retry) answers FileSystemAlreadyExists naming the first file system.
        // https://docs.aws.amazon.com/efs/latest/ug/API_CreateFileSystem.html
        let sent = client(cx)
            .create_file_system()
            .creation_token(req.token)
            .encrypted(req.props.get("encrypted").and_then(Value::as_bool).unwrap_or(true))
            .set_kms_key_id(text("kms_key").map(str::to_owned))
            .performance_mode(PerformanceMode::from(text("performance_mode").unwrap_or("generalPurpose")))
            .throughput_mode(ThroughputMode::from(text("throughput_mode").unwrap_or("bursting")))
            .set_provisioned_throughput_in_mibps(req.props.get("provisioned_throughput_mibps").and_then(Value::as_f64))
            .set_tags(Some(efs::to_sdk(req.tags)))
            .send()
            .await;
        let id = match sent {
            Ok(out) => out.file_system_id().to_owned(),
            Err(SdkError::ServiceError(se))
                if matches!(se.err(), CreateFileSystemError::FileSystemAlreadyExists(_)) =>
            {
                let CreateFileSystemError::FileSystemAlreadyExists(e) = se.into_err() else { unreachable!() };
                match e.file_system_id() {
                    "" => by_token(cx, req.token).await?,
                    id => id.to_owned(),
                }
            }
            Err(e) => return Err(classify(e)),
        };
        wait_available(cx, req.id, &id).await?;
        if req.props.get("transition_to_ia").is_some_and(|v| !v.is_null()) {
            put_lifecycle(cx, &id, req.props).await?;
        }
        let f = wait_available(cx, req.id, &id).await?;
        Ok(with_lifecycle(live(cx, &f), req.props))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("throughput_mode") || changed("provisioned_throughput_mibps") {
            let mode = req.new.get("throughput_mode").and_then(Value::as_str).unwrap_or("bursting");
            let mibps = req.new.get("provisioned_throughput_mibps").and_then(Value::as_f64);
            client(cx)
                .update_file_system()
                .file_system_id(req.physical_id)
                .throughput_mode(ThroughputMode::from(mode))
                .set_provisioned_throughput_in_mibps(if mode == "provisioned" { mibps } else { None })
                .send()
                .await
                .map_err(classify)?;
            // The file system is `updating` for a while; other changes wait for `available`.
            wait_available(cx, req.id, req.physical_id).await?;
        }
        if changed("transition_to_ia") {
            put_lifecycle(cx, req.physical_id, req.new).await?;
        }
        if changed("tags") {
            efs::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        let f = wait_available(cx, req.id, req.physical_id).await?;
        Ok(with_lifecycle(live(cx, &f), req.new))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // FileSystemInUse (409) while mount targets remain: InUse, retried by the executor.
        gone_ok(client(cx).delete_file_system().file_system_id(req.physical_id).send().await.map_err(classify))?;
        let what = format!("deletion of file system {}", req.physical_id);
        let deletion = |f: &FileSystemDescription| efs::deletion(Some(f.life_cycle_state()));
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), deletion).await
    }
}

#[cfg(test)]
mod tests {

    use aws_sdk_efs::Client;
    use aws_sdk_efs::operation::create_file_system::{CreateFileSystemError, CreateFileSystemOutput};
    use aws_sdk_efs::operation::delete_file_system::{DeleteFileSystemError, DeleteFileSystemOutput};
    use aws_sdk_efs::operation::describe_file_systems::{DescribeFileSystemsError, DescribeFileSystemsOutput};
    use aws_sdk_efs::types::LifeCycleState;
    use aws_sdk_efs::types::error::FileSystemAlreadyExists;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked};

    const ID: &str = "fs-0123456789abcdef0";

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn fs(state: LifeCycleState) -> FileSystemDescription {
        FileSystemDescription::builder()
            .owner_id("123456789012")
            .creation_token("token-1")
            .file_system_id(ID)
            .file_system_arn(format!("arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{ID}"))
            .creation_time(aws_smithy_types::DateTime::from_secs(0))
            .life_cycle_state(state)
            .number_of_mount_targets(0)
            .performance_mode(PerformanceMode::GeneralPurpose)
            .throughput_mode(ThroughputMode::Bursting)
            .encrypted(true)
            .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .tags(aws_sdk_efs::types::Tag::builder().key("rprov:stack").value("s").build().unwrap())
            .build()
            .unwrap()
    }

    fn described(state: LifeCycleState) -> DescribeFileSystemsOutput {
        DescribeFileSystemsOutput::builder().file_systems(fs(state)).build()
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_efs, RuleMode::MatchAny, rules))
    }

    fn props() -> Props {
        let mut p = Props::from([
            ("encrypted".to_string(), Value::Bool(true)),
            ("performance_mode".to_string(), Value::str("generalPurpose")),
            ("throughput_mode".to_string(), Value::str("bursting")),
        ]);
        FileSystem.normalise("s", "fs", &mut p);
        p
    }

    fn create_ok() -> Rule {
        mock!(Client::create_file_system).match_requests(|r| r.creation_token() == Some("token-1")).then_output(|| {
            let f = fs(LifeCycleState::Creating);
            CreateFileSystemOutput::builder()
                .owner_id(f.owner_id())
                .creation_token(f.creation_token())
                .file_system_id(ID)
                .creation_time(aws_smithy_types::DateTime::from_secs(0))
                .life_cycle_state(LifeCycleState::Creating)
                .number_of_mount_targets(0)
                .performance_mode(PerformanceMode::GeneralPurpose)
                .set_tags(Some(vec![]))
                .build()
                .unwrap()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_from_not_visible_through_creating_to_available() {
        let create = create_ok();
        let describe = mock!(Client::describe_file_systems)
            .sequence()
            .error(|| DescribeFileSystemsError::generic(meta("FileSystemNotFound")))
            .output(|| described(LifeCycleState::Creating))
            .output(|| described(LifeCycleState::Available))
            .repeatedly()
            .build();
        let (cx, seen) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let req = CreateReq { id: "fs", props: &p, tags: &tags, token: "token-1" };

        let l = FileSystem.create(&cx, &req).await.unwrap();

        assert_eq!(l.physical_id, ID);
        assert_eq!(l.attrs["dns_name"], Value::str(format!("{ID}.efs.us-east-1.amazonaws.com")));
        for (k, v) in &p {
            if !v.is_null() {
                assert_eq!(l.props.get(k), Some(v), "{k}");
            }
        }
        let seen = seen.lock().unwrap();
        assert!(seen.iter().any(|m| m.ends_with("(now creating)")), "{seen:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_create_takes_the_file_system_of_the_first() {
        let create = mock!(Client::create_file_system).then_error(|| {
            CreateFileSystemError::FileSystemAlreadyExists(
                FileSystemAlreadyExists::builder()
                    .error_code("FileSystemAlreadyExists")
                    .file_system_id(ID)
                    .build()
                    .unwrap(),
            )
        });
        let describe = mock!(Client::describe_file_systems).then_output(|| described(LifeCycleState::Available));
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let l =
            FileSystem.create(&cx, &CreateReq { id: "fs", props: &p, tags: &tags, token: "token-1" }).await.unwrap();
        assert_eq!(l.physical_id, ID);
    }

    #[tokio::test(start_paused = true)]
    async fn error_state_fails_the_create() {
        let create = create_ok();
        let describe = mock!(Client::describe_file_systems).then_output(|| described(LifeCycleState::Error));
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let err = FileSystem.create(&cx, &CreateReq { id: "fs", props: &p, tags: &tags, token: "token-1" }).await;
        assert!(matches!(err, Err(AwsError::Failed(ref m)) if m.contains("error")), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn create_times_out_when_never_available() {
        let create = create_ok();
        let describe = mock!(Client::describe_file_systems).then_output(|| described(LifeCycleState::Creating));
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let err = FileSystem.create(&cx, &CreateReq { id: "fs", props: &p, tags: &tags, token: "token-1" }).await;
        assert!(matches!(err, Err(AwsError::WaitTimeout { .. })), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn delete_with_mount_targets_is_in_use_and_then_waits_until_gone() {
        let busy =
            mock!(Client::delete_file_system).then_error(|| DeleteFileSystemError::generic(meta("FileSystemInUse")));
        let (cx1, _) = cx(&[&busy]);
        let req = DeleteReq { id: "fs", physical_id: ID, props: &Props::new(), attrs: &Props::new() };
        assert!(matches!(FileSystem.delete(&cx1, &req).await, Err(AwsError::InUse(_))));

        let ok = mock!(Client::delete_file_system).then_output(|| DeleteFileSystemOutput::builder().build());
        let describe = mock!(Client::describe_file_systems)
            .sequence()
            .output(|| described(LifeCycleState::Deleting))
            .times(2)
            .error(|| DescribeFileSystemsError::generic(meta("FileSystemNotFound")))
            .build();
        let (cx2, _) = cx(&[&ok, &describe]);
        FileSystem.delete(&cx2, &req).await.unwrap();
        assert_eq!(describe.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn throughput_changes_in_place_and_waits_while_updating() {
        let update = mock!(Client::update_file_system)
            .match_requests(|r| {
                r.throughput_mode() == Some(&ThroughputMode::Provisioned)
                    && r.provisioned_throughput_in_mibps() == Some(64.0)
            })
            .then_output(|| {
                aws_sdk_efs::operation::update_file_system::UpdateFileSystemOutput::builder()
                    .owner_id("123456789012")
                    .creation_token("token-1")
                    .file_system_id(ID)
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .life_cycle_state(LifeCycleState::Updating)
                    .number_of_mount_targets(0)
                    .performance_mode(PerformanceMode::GeneralPurpose)
                    .set_tags(Some(vec![]))
                    .build()
                    .unwrap()
            });
        let provisioned = |state| {
            let mut f = fs(state);
            f.throughput_mode = Some(ThroughputMode::Provisioned);
            f.provisioned_throughput_in_mibps = Some(64.0);
            DescribeFileSystemsOutput::builder().file_systems(f).build()
        };
        let describe = mock!(Client::describe_file_systems)
            .sequence()
            .output(move || provisioned(LifeCycleState::Updating))
            .times(2)
            .output(move || provisioned(LifeCycleState::Available))
            .repeatedly()
            .build();
        let (cx, seen) = cx(&[&update, &describe]);
        let old = props();
        let mut new = old.clone();
        new.insert("throughput_mode".into(), Value::str("provisioned"));
        new.insert("provisioned_throughput_mibps".into(), Value::Int(64));
        FileSystem.normalise("s", "fs", &mut new);
        let changed = ["throughput_mode".to_string(), "provisioned_throughput_mibps".to_string()];
        let tags = Tags::new();
        let req = UpdateReq {
            id: "fs",
            physical_id: ID,
            old: &old,
            new: &new,
            changed: &changed,
            old_tags: &tags,
            tags: &tags,
        };
        let l = FileSystem.update(&cx, &req).await.unwrap();
        assert_eq!(update.num_calls(), 1);
        assert_eq!(l.props["throughput_mode"], Value::str("provisioned"));
        assert!(l.props["provisioned_throughput_mibps"].same(&Value::Int(64)));
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now updating)")));
    }

    #[test]
    fn normalise_drops_throughput_figure_outside_provisioned_mode() {
        let mut p = Props::from([
            ("throughput_mode".to_string(), Value::str("elastic")),
            ("provisioned_throughput_mibps".to_string(), Value::Int(64)),
        ]);
        FileSystem.normalise("s", "fs", &mut p);
        assert!(!p.contains_key("provisioned_throughput_mibps"));
        assert_eq!(p["transition_to_ia"], Value::Null);
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn encryption_and_throughput() {
        check_rules(
            "fs: { type: file_system, kms_key: \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\" }",
            &[],
        );
        check_rules("fs: { type: file_system, encrypted: false }", &[]);
        check_rules("fs: { type: file_system, throughput_mode: provisioned, provisioned_throughput_mibps: 64 }", &[]);
        check_rules(
            "fs: { type: file_system, encrypted: false, kms_key: \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\" }",
            &["4:55: a KMS key encrypts at rest: AWS refuses one with `encrypted: false`"],
        );
        check_rules(
            "fs: { type: file_system, throughput_mode: provisioned }",
            &["provisioned throughput needs `provisioned_throughput_mibps`"],
        );
    }
}
