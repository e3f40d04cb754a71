use async_trait::async_trait;
use aws_sdk_efs::operation::create_access_point::CreateAccessPointError;
use aws_sdk_efs::types::{AccessPointDescription, CreationInfo, PosixUser, RootDirectory};

use super::efs::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, wait_until};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Refusals};
use crate::value::{Props, Value};

pub struct AccessPoint;

static POSIX_USER: &[Prop] = &[
    Prop::new("uid", Ty::Int, "User id every request through the access point runs as.")
        .aws("efs:PosixUser.Uid")
        .required(),
    Prop::new("gid", Ty::Int, "Group id every request runs as.").aws("efs:PosixUser.Gid").required(),
    Prop::new("secondary_gids", Ty::List(&Ty::Int), "More group ids.").aws("efs:PosixUser.SecondaryGids").unordered(),
];

static CREATION_INFO: &[Prop] = &[
    Prop::new("owner_uid", Ty::Int, "Owner of the root directory when EFS creates it.")
        .aws("efs:CreationInfo.OwnerUid")
        .required(),
    Prop::new("owner_gid", Ty::Int, "Group of the root directory when EFS creates it.")
        .aws("efs:CreationInfo.OwnerGid")
        .required(),
    Prop::new("permissions", Ty::Str, "Octal mode of the root directory, e.g. \"755\".")
        .aws("efs:CreationInfo.Permissions")
        .required(),
];

static ROOT_DIRECTORY: &[Prop] = &[
    Prop::new("path", Ty::Str, "The directory clients see as /.")
        .aws("efs:RootDirectory.Path")
        .default(Default::Str("/")),
    Prop::new(
        "creation_info",
        Ty::Obj(CREATION_INFO),
        "Owner and mode to create the directory with when it does not exist (without it, a missing path fails mounts).",
    )
    .aws("efs:RootDirectory.CreationInfo"),
];

static SCHEMA: KindSchema = KindSchema {
    name: "access_point",
    doc: "An EFS access point: an entry into a file system with a fixed POSIX identity and root directory.",
    props: &[
        Prop::new("file_system", Ty::Str, "The file system id (fs-...).")
            .aws("efs:CreateAccessPointRequest.FileSystemId")
            .required()
            .replaces(),
        Prop::new("posix_user", Ty::Obj(POSIX_USER), "The identity NFS requests are made as.")
            .aws("efs:CreateAccessPointRequest.PosixUser")
            .replaces(),
        Prop::new("root_directory", Ty::Obj(ROOT_DIRECTORY), "The directory exposed as the root.")
            .aws("efs:CreateAccessPointRequest.RootDirectory")
            .replaces(),
    ],
    attrs: &[Attr::new("id", "The access point id (fsap-...)."), Attr::new("arn", "The access point's ARN.")],
    taggable: true,
};

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn live(a: &AccessPointDescription) -> Live {
    let id = a.access_point_id().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("file_system".into(), Value::str(a.file_system_id().unwrap_or_default()));
    if let Some(u) = a.posix_user() {
        let mut user = vec![("uid", Value::Int(u.uid())), ("gid", Value::Int(u.gid()))];
        let mut gids: Vec<i64> = u.secondary_gids().to_vec();
        if !gids.is_empty() {
            gids.sort();
            user.push(("secondary_gids", Value::List(gids.into_iter().map(Value::Int).collect())));
        }
        props.insert("posix_user".into(), map(user));
    }
    let root = a.root_directory();
    let mut dir = vec![("path", Value::str(root.and_then(|r| r.path()).unwrap_or("/")))];
    if let Some(c) = root.and_then(|r| r.creation_info()) {
        dir.push((
            "creation_info",
            map(vec![
                ("owner_uid", Value::Int(c.owner_uid())),
                ("owner_gid", Value::Int(c.owner_gid())),
                ("permissions", Value::str(c.permissions())),
            ]),
        ));
    }
    props.insert("root_directory".into(), map(dir));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("arn".into(), a.access_point_arn().map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: id, props, attrs, tags: efs::from_sdk(a.tags()) }
}

fn int(m: &Value, k: &str) -> i64 {
    m.as_map().and_then(|m| m.get(k)).and_then(Value::as_i64).unwrap_or_default()
}

fn posix_user(v: &Value) -> Option<PosixUser> {
    let gids = v
        .as_map()
        .and_then(|m| m.get("secondary_gids"))
        .map(|g| g.as_list().iter().filter_map(Value::as_i64).collect());
    PosixUser::builder().uid(int(v, "uid")).gid(int(v, "gid")).set_secondary_gids(gids).build().ok()
}

fn root_directory(v: &Value) -> RootDirectory {
    let m = v.as_map();
    let info = m.and_then(|m| m.get("creation_info")).filter(|c| !c.is_null()).and_then(|c| {
        let permissions = c.as_map().and_then(|m| m.get("permissions")).map(|p| match p {
            // YAML reads 755 as a number; AWS wants the octal digits as text.
            Value::Int(i) => i.to_string(),
            other => other.as_str().unwrap_or_default().to_owned(),
        });
        CreationInfo::builder()
            .owner_uid(int(c, "owner_uid"))
            .owner_gid(int(c, "owner_gid"))
            .set_permissions(permissions)
            .build()
            .ok()
    });
    RootDirectory::builder()
        .path(m.and_then(|m| m.get("path")).and_then(Value::as_str).unwrap_or("/"))
        .set_creation_info(info)
        .build()
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Option<AccessPointDescription>, AwsError> {
    match client(cx).describe_access_points().access_point_id(id).send().await.map_err(classify) {
        Ok(out) => Ok(out.access_points().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, id: &str) -> Result<AccessPointDescription, AwsError> {
    wait_until(
        &cx.wait,
        &format!("access point {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            let a = describe_one(cx, id).await?;
            Ok(match efs::creation(a.as_ref().and_then(|a| a.life_cycle_state())) {
                Poll::Ready(()) => Poll::Ready(a.expect("ready means described")),
                Poll::Pending(s) => Poll::Pending(s),
                Poll::Failed(s) => Poll::Failed(s),
            })
        },
    )
    .await
}

impl KindSpec for AccessPoint {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        // AWS reports the root directory `/` when none was given.
        let root = props.entry("root_directory".into()).or_insert_with(|| Value::Map(crate::value::Props::new()));
        if root.is_null() {
            *root = Value::Map(crate::value::Props::new());
        }
        if let Value::Map(m) = root {
            if m.get("path").is_none_or(Value::is_null) {
                m.insert("path".into(), Value::str("/"));
            }
            if m.get("creation_info").is_some_and(Value::is_null) {
                m.remove("creation_info");
            }
            if let Some(Value::Map(c)) = m.get_mut("creation_info")
                && let Some(Value::Int(i)) = c.get("permissions")
            {
                let text = i.to_string();
                c.insert("permissions".into(), Value::str(text));
            }
        }
        if let Some(Value::Map(u)) = props.get_mut("posix_user") {
            match u.get_mut("secondary_gids") {
                Some(Value::List(l)) if l.is_empty() => {
                    u.remove("secondary_gids");
                }
                Some(Value::List(l)) => l.sort_by_cached_key(|v| v.as_i64()),
                Some(Value::Null) => {
                    u.remove("secondary_gids");
                }
                _ => {}
            }
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["file_system"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticfilesystem", "access-point"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("elasticfilesystem", "CreateAccessPoint")])
    }
}

#[async_trait]
impl Kind for AccessPoint {
    /// DescribeAccessPoints without a file system id lists every access point of the account,
    /// tags included: one paginated call for the kind.
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let all = crate::aws::all_items(client(cx).describe_access_points().into_paginator().items().send()).await?;
        Ok(all.iter().filter(|a| a.life_cycle_state().is_none_or(efs::exists)).map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let file_system = req.props.get("file_system").and_then(Value::as_str).unwrap_or_default();
        // ClientToken makes the create idempotent: a repeat (the SDK's retry after a lost answer,
        // or the next run after a crash: the token is derived per lineage and generation)
        // answers AccessPointAlreadyExists naming the access point the first one made.
        // https://docs.aws.amazon.com/efs/latest/ug/API_CreateAccessPoint.html
        let sent = client(cx)
            .create_access_point()
            .client_token(req.token)
            .file_system_id(file_system)
            .set_posix_user(req.props.get("posix_user").filter(|v| !v.is_null()).and_then(posix_user))
            .set_root_directory(req.props.get("root_directory").filter(|v| !v.is_null()).map(root_directory))
            .set_tags(Some(efs::to_sdk(req.tags)))
            .send()
            .await;
        let id = match sent {
            Ok(out) => out
                .access_point_id()
                .ok_or_else(|| AwsError::Failed("CreateAccessPoint returned no id".into()))?
                .to_owned(),
            Err(aws_smithy_runtime_api::client::result::SdkError::ServiceError(se))
                if matches!(se.err(), CreateAccessPointError::AccessPointAlreadyExists(_)) =>
            {
                let CreateAccessPointError::AccessPointAlreadyExists(e) = se.into_err() else { unreachable!() };
                e.access_point_id().to_owned()
            }
            Err(e) => return Err(classify(e)),
        };
        Ok(live(&wait_available(cx, req.id, &id).await?))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        // Every property but the tags forces a replacement.
        if req.changed.iter().any(|c| c == "tags") {
            efs::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        let a = describe_one(cx, req.physical_id).await?.ok_or_else(|| AwsError::NotFound(req.physical_id.into()))?;
        Ok(live(&a))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        super::gone_ok(client(cx).delete_access_point().access_point_id(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_values_and_aws_meet_in_one_shape() {
        let mut p = Props::from([
            ("file_system".to_string(), Value::str("fs-1")),
            ("posix_user".to_string(), map(vec![("uid", 1000.into()), ("gid", 1000.into())])),
            (
                "root_directory".to_string(),
                map(vec![
                    ("path", "/uploads".into()),
                    (
                        "creation_info",
                        map(vec![
                            ("owner_uid", 1000.into()),
                            ("owner_gid", 1000.into()),
                            ("permissions", Value::Int(755)),
                        ]),
                    ),
                ]),
            ),
        ]);
        AccessPoint.normalise("s", "ap", &mut p);
        let aws = AccessPointDescription::builder()
            .access_point_id("fsap-1")
            .file_system_id("fs-1")
            .posix_user(PosixUser::builder().uid(1000).gid(1000).build().unwrap())
            .root_directory(root_directory(&p["root_directory"]))
            .build();
        assert_eq!(live(&aws).props, p);

        let mut bare = Props::from([("file_system".to_string(), Value::str("fs-1"))]);
        AccessPoint.normalise("s", "ap", &mut bare);
        let aws = AccessPointDescription::builder().access_point_id("fsap-2").file_system_id("fs-1").build();
        assert_eq!(live(&aws).props, bare);
    }
}
