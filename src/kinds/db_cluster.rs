use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster as SdkCluster, ServerlessV2ScalingConfiguration};

use super::rds::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, all_items, classify, wait_gone};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{earlier_with_same_name, lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct DbCluster;

pub(crate) const ENGINES: &[&str] = &["aurora-postgresql", "aurora-mysql"];

static SERVERLESS_V2: &[Prop] = &[
    Prop::new(
        "min_capacity",
        Ty::Num,
        "The fewest Aurora capacity units (ACUs) the cluster's `db.serverless` instances scale down to: 0 (pause \
         when idle, where the engine version supports it) or 0.5 to 256, in steps of 0.5.",
    )
    .aws("rds:ServerlessV2ScalingConfiguration.MinCapacity")
    .required(),
    Prop::new(
        "max_capacity",
        Ty::Num,
        "The most ACUs they scale up to: 1 to 256, in steps of 0.5, at least `min_capacity`.",
    )
    .aws("rds:ServerlessV2ScalingConfiguration.MaxCapacity")
    .required(),
];

static SCHEMA: KindSchema = KindSchema {
    name: "db_cluster",
    doc: "An Aurora DB cluster (PostgreSQL or MySQL compatible): the storage and endpoints its `db_instance` \
          members serve. Created and waited until `available`; changes wait until it is `available` again; a \
          delete takes a final snapshot unless `skip_final_snapshot` (AWS refuses to delete a cluster that \
          still has members: they are deleted first) and waits until it is gone.",
    props: &[
        Prop::new(
            "identifier",
            Ty::Str,
            "The cluster identifier: 1 to 63 letters, digits and hyphens, a letter first, no two hyphens in a row, \
             none at the end; AWS keeps it lower-case. Default: `<stack>-<id>`, lower-case, `_` made `-`.",
        )
        .aws("rds:CreateDBClusterMessage.DBClusterIdentifier")
        .replaces(),
        Prop::new("engine", Ty::Enum(ENGINES), "The database engine.")
            .aws("rds:CreateDBClusterMessage.Engine")
            .required()
            .replaces(),
        Prop::new(
            "engine_version",
            Ty::Str,
            "The full engine version as AWS reports it (`16.4`; `8.0.mysql_aurora.3.08.0`); AWS's default for \
             the engine when left out. A change upgrades in place (a major version too).",
        )
        .aws("rds:CreateDBClusterMessage.EngineVersion"),
        Prop::new(
            "database_name",
            Ty::Str,
            "The database created with the cluster (letters, digits and underscores, a letter first); none when \
             left out.",
        )
        .aws("rds:CreateDBClusterMessage.DatabaseName")
        .replaces(),
        Prop::new(
            "master_username",
            Ty::Str,
            "The master user's name: a letter, then letters, digits or underscores (at most 16 for aurora-mysql, \
             63 for aurora-postgresql).",
        )
        .aws("rds:CreateDBClusterMessage.MasterUsername")
        .required()
        .replaces(),
        Prop::new(
            "manage_master_password",
            Ty::Bool,
            "RDS makes the master password and keeps it in Secrets Manager (rotated by RDS); its ARN is the \
             `master_user_secret_arn` attribute. Exactly one of this and `master_password`.",
        )
        .aws("rds:CreateDBClusterMessage.ManageMasterUserPassword")
        .default(Default::Bool(false)),
        Prop::new(
            "master_user_secret_kms_key",
            Ty::Str,
            "With `manage_master_password`: the ARN of the KMS key encrypting the secret; AWS's key for Secrets \
             Manager when left out.",
        )
        .aws("rds:CreateDBClusterMessage.MasterUserSecretKmsKeyId"),
        Prop::new(
            "master_password",
            Ty::Str,
            "The master password (8 to 41 printable ASCII characters, none of `/`, `\"`, `@` or space), usually a \
             secret param. Secret: never printed, recorded as a digest only, never read back from AWS.",
        )
        .aws("rds:CreateDBClusterMessage.MasterUserPassword")
        .secret(),
        Prop::new(
            "db_subnet_group",
            Ty::Str,
            "The name of the DB subnet group (its `${group.id}`) whose subnets the members are placed in; the \
             default VPC's when left out.",
        )
        .aws("rds:CreateDBClusterMessage.DBSubnetGroupName")
        .replaces(),
        Prop::new(
            "security_groups",
            Ty::List(&Ty::Str),
            "VPC security group ids (sg-...) of the cluster's members; the VPC's default group when left out.",
        )
        .aws("rds:CreateDBClusterMessage.VpcSecurityGroupIds")
        .unordered(),
        Prop::new("port", Ty::Int, "The port the cluster listens on; 5432 (PostgreSQL) or 3306 (MySQL) when left out.")
            .aws("rds:CreateDBClusterMessage.Port"),
        Prop::new(
            "serverless_v2",
            Ty::Obj(SERVERLESS_V2),
            "Aurora Serverless v2 capacity, for members of instance class `db.serverless`.",
        ),
        Prop::new("storage_encrypted", Ty::Bool, "Encrypt the cluster's storage at rest.")
            .aws("rds:CreateDBClusterMessage.StorageEncrypted")
            .default(Default::Bool(true))
            .replaces(),
        Prop::new(
            "kms_key",
            Ty::Str,
            "ARN of the KMS key encrypting the storage (AWS reports the ARN); AWS's key for RDS when left out.",
        )
        .aws("rds:CreateDBClusterMessage.KmsKeyId")
        .replaces(),
        Prop::new("backup_retention_days", Ty::Int, "Days automated backups are kept: 1 to 35.")
            .aws("rds:CreateDBClusterMessage.BackupRetentionPeriod")
            .default(Default::Int(7)),
        Prop::new(
            "preferred_backup_window",
            Ty::Str,
            "The daily backup window in UTC, `hh24:mi-hh24:mi`, at least 30 minutes; AWS picks one when left out.",
        )
        .aws("rds:CreateDBClusterMessage.PreferredBackupWindow"),
        Prop::new(
            "deletion_protection",
            Ty::Bool,
            "AWS refuses to delete the cluster while this is on (false by default, as AWS's default): a destroy \
             fails, saying to set it false and apply first.",
        )
        .aws("rds:CreateDBClusterMessage.DeletionProtection")
        .default(Default::Bool(false)),
        Prop::new(
            "skip_final_snapshot",
            Ty::Bool,
            "Delete without a final snapshot. Otherwise a delete first takes a final snapshot named \
             `final_snapshot_identifier`, else `<identifier>-final-<UTC time of the delete, yyyymmddhhmmss>`.",
        )
        .aws("rds:DeleteDBClusterMessage.SkipFinalSnapshot")
        .default(Default::Bool(false)),
        Prop::new(
            "final_snapshot_identifier",
            Ty::Str,
            "The name of the snapshot taken when the cluster is deleted (1 to 255 letters, digits and hyphens, a \
             letter first); must not exist yet. Not with `skip_final_snapshot: true`.",
        )
        .aws("rds:DeleteDBClusterMessage.FinalDBSnapshotIdentifier"),
        Prop::new("iam_auth", Ty::Bool, "Allow IAM database authentication.")
            .aws("rds:CreateDBClusterMessage.EnableIAMDatabaseAuthentication")
            .default(Default::Bool(false)),
        Prop::new("copy_tags_to_snapshot", Ty::Bool, "Copy the cluster's tags to its snapshots.")
            .aws("rds:CreateDBClusterMessage.CopyTagsToSnapshot")
            .default(Default::Bool(true)),
        Prop::new(
            "apply_immediately",
            Ty::Bool,
            "Apply changes now. With false, the changes AWS defers (engine version, master password, IAM \
             authentication) wait for the maintenance window, and plans show them as still to make until then.",
        )
        .aws("rds:ModifyDBClusterMessage.ApplyImmediately")
        .default(Default::Bool(true)),
    ],
    attrs: &[
        Attr::new("id", "The cluster identifier (what a db_instance's `cluster` takes)."),
        Attr::new("arn", "The cluster's ARN (arn:aws:rds:REGION:ACCOUNT:cluster:IDENTIFIER)."),
        Attr::new("endpoint", "The writer endpoint's DNS name."),
        Attr::new("reader_endpoint", "The reader endpoint's DNS name (load-balanced over the readers)."),
        Attr::new("port", "The port the cluster listens on."),
        Attr::new("resource_id", "The cluster's resource id (cluster-...), for IAM database authentication policies."),
        Attr::new(
            "master_user_secret_arn",
            "With `manage_master_password`: the ARN of the Secrets Manager secret holding the master password.",
        ),
    ],
    taggable: true,
};

fn text<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

fn flag(props: &Props, name: &str) -> Option<bool> {
    props.get(name).and_then(Value::as_bool)
}

fn int(props: &Props, name: &str) -> Option<i32> {
    props.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn identifier_of(cx: &Cx, id: &str, props: &Props) -> String {
    text(props, "identifier").map_or_else(|| rds::default_identifier(&cx.stack, id), str::to_lowercase)
}

fn scaling(props: &Props) -> Option<ServerlessV2ScalingConfiguration> {
    let m = props.get("serverless_v2")?.as_map()?;
    Some(
        ServerlessV2ScalingConfiguration::builder()
            .set_min_capacity(m.get("min_capacity").and_then(Value::as_f64))
            .set_max_capacity(m.get("max_capacity").and_then(Value::as_f64))
            .build(),
    )
}

fn live(c: &SdkCluster) -> Live {
    let ident = c.db_cluster_identifier().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("identifier".into(), Value::str(&ident));
    props.insert("engine".into(), Value::str(c.engine().unwrap_or_default()));
    if let Some(v) = c.engine_version() {
        props.insert("engine_version".into(), Value::str(v));
    }
    if let Some(d) = c.database_name() {
        props.insert("database_name".into(), Value::str(d));
    }
    props.insert("master_username".into(), Value::str(c.master_username().unwrap_or_default()));
    let secret = c.master_user_secret();
    props.insert("manage_master_password".into(), Value::Bool(secret.is_some()));
    if let Some(k) = secret.and_then(|s| s.kms_key_id()) {
        props.insert("master_user_secret_kms_key".into(), Value::str(k));
    }
    if let Some(g) = c.db_subnet_group() {
        props.insert("db_subnet_group".into(), Value::str(g));
    }
    let mut groups: Vec<Value> =
        c.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(Value::str).collect();
    groups.sort_by_cached_key(|v| v.to_string());
    props.insert("security_groups".into(), Value::List(groups));
    if let Some(p) = c.port() {
        props.insert("port".into(), Value::Int(p.into()));
    }
    if let Some(s) = c.serverless_v2_scaling_configuration() {
        let mut m = Props::new();
        m.insert("min_capacity".into(), s.min_capacity().map(Value::Num).unwrap_or(Value::Null));
        m.insert("max_capacity".into(), s.max_capacity().map(Value::Num).unwrap_or(Value::Null));
        props.insert("serverless_v2".into(), Value::Map(m));
    }
    props.insert("storage_encrypted".into(), Value::Bool(c.storage_encrypted().unwrap_or(false)));
    if let Some(k) = c.kms_key_id() {
        props.insert("kms_key".into(), Value::str(k));
    }
    props.insert(
        "backup_retention_days".into(),
        c.backup_retention_period().map_or(Value::Null, |d| Value::Int(d.into())),
    );
    if let Some(w) = c.preferred_backup_window() {
        props.insert("preferred_backup_window".into(), Value::str(w));
    }
    props.insert("deletion_protection".into(), Value::Bool(c.deletion_protection().unwrap_or(false)));
    props.insert("iam_auth".into(), Value::Bool(c.iam_database_authentication_enabled().unwrap_or(false)));
    props.insert("copy_tags_to_snapshot".into(), Value::Bool(c.copy_tags_to_snapshot().unwrap_or(false)));
    // `master_password` is never read back (compared through the recorded digest);
    // `skip_final_snapshot`, `final_snapshot_identifier` and `apply_immediately` are rprov's
    // own settings for its calls, compared with what was recorded.
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&ident));
    attrs.insert("arn".into(), c.db_cluster_arn().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("endpoint".into(), c.endpoint().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("reader_endpoint".into(), c.reader_endpoint().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("port".into(), c.port().map_or(Value::Null, |p| Value::Int(p.into())));
    attrs.insert("resource_id".into(), c.db_cluster_resource_id().map(Value::str).unwrap_or(Value::Null));
    attrs.insert(
        "master_user_secret_arn".into(),
        secret.and_then(|s| s.secret_arn()).map(Value::str).unwrap_or(Value::Null),
    );
    super::set_created(&mut attrs, super::sdk_time(c.cluster_create_time()));
    Live { physical_id: ident, props, attrs, tags: rds::from_sdk(c.tag_list()) }
}

async fn describe_one(cx: &Cx, ident: &str) -> Result<Option<SdkCluster>, AwsError> {
    match client(cx).describe_db_clusters().db_cluster_identifier(ident).send().await.map_err(classify) {
        Ok(out) => Ok(out.db_clusters().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, ident: &str) -> Result<SdkCluster, AwsError> {
    let what = format!("DB cluster {ident}");
    rds::wait_ready(cx, logical_id, &what, || describe_one(cx, ident), |x: &SdkCluster| x.status()).await
}

/// What a cluster has pending for its maintenance window (`apply_immediately: false`), named
/// as AWS names it; empty when nothing.
fn pending(c: &SdkCluster) -> Vec<&'static str> {
    let Some(p) = c.pending_modified_values() else { return Vec::new() };
    let mut out = Vec::new();
    if p.master_user_password().is_some() {
        out.push("MasterUserPassword");
    }
    if p.iam_database_authentication_enabled().is_some() {
        out.push("IAMDatabaseAuthenticationEnabled");
    }
    if p.engine_version().is_some() {
        out.push("EngineVersion");
    }
    if p.backup_retention_period().is_some() {
        out.push("BackupRetentionPeriod");
    }
    out
}

/// The default name of the final snapshot: `<identifier>-final-<yyyymmddhhmmss>` (UTC), unique
/// per delete, so a second deployment of the identifier does not meet the first one's.
fn default_final_snapshot(ident: &str, now: std::time::SystemTime) -> String {
    let stamp: String =
        humantime::format_rfc3339_seconds(now).to_string().chars().filter(char::is_ascii_digit).take(14).collect();
    format!("{ident}-final-{stamp}")
}

/// `hh24:mi-hh24:mi`, at least 30 minutes (AWS: PreferredBackupWindow).
fn window_problem(w: &str) -> Option<String> {
    let minutes = |t: &str| -> Option<u32> {
        let (h, m) = t.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && t.len() == 5).then_some(h * 60 + m)
    };
    let Some((a, b)) = w.split_once('-').and_then(|(a, b)| Some((minutes(a)?, minutes(b)?))) else {
        return Some(format!("`{w}` is not a window in UTC written `hh24:mi-hh24:mi` (e.g. `03:00-03:30`)"));
    };
    let length = (b + 24 * 60 - a) % (24 * 60);
    (length < 30).then(|| format!("the window `{w}` is {length} minutes: AWS wants at least 30"))
}

/// ACU figures: 0 to 256 in steps of 0.5.
fn capacity_problem(n: f64) -> Option<String> {
    (!(0.0..=256.0).contains(&n) || (n * 2.0).fract() != 0.0)
        .then(|| format!("{n} ACUs: AWS takes 0 to 256 in steps of 0.5"))
}

fn lit_num(e: Option<&Expr>) -> Option<f64> {
    match e {
        Some(Expr::Lit(v @ (Value::Int(_) | Value::Num(_)))) => v.as_f64(),
        _ => None,
    }
}

/// The identifier a cluster of the stack gets (see [`rds::default_identifier`]); None while it
/// is known only at apply.
pub(crate) fn identifier_written(stack: &str, id: &str, props: &ExprMap) -> Option<String> {
    match props.get("identifier") {
        None | Some(Expr::Lit(Value::Null)) => Some(rds::default_identifier(stack, id)),
        e => lit_str(e).map(str::to_lowercase),
    }
}

impl KindSpec for DbCluster {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateDBCluster, Aurora): the identifier's rules and uniqueness in the region; the
    /// engine version of the engine; "ManageMasterUserPassword ... can't [be] turned on if
    /// MasterUserPassword is specified", and one of them is needed; the KMS key of the secret only
    /// with it; a KMS key only for encrypted storage; "BackupRetentionPeriod ... between 1 and
    /// 35"; the backup window's format and 30 minutes; Serverless v2 capacity "in half-step
    /// increments", MinCapacity 0 to 256, MaxCapacity 1 to 256 and not below MinCapacity; the
    /// master user's name and password; a final snapshot name not with SkipFinalSnapshot.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let stack = s.stack.name();
        let given = |k: &str| !matches!(s.get(k), None | Some(Expr::Lit(Value::Null)));
        match s.str("identifier") {
            Some(i) => out.extend(rds::identifier_problem(&i.to_lowercase()).map(|m| Problem::new("identifier", m))),
            None if !given("identifier") => {
                let d = rds::default_identifier(stack, s.id);
                if let Some(m) = rds::identifier_problem(&d) {
                    out.push(
                        Problem::new("", format!("the default identifier (`<stack>-<id>`): {m}"))
                            .help("give `identifier`, or shorten the stack name or the resource id"),
                    );
                }
            }
            None => {}
        }
        if let Some((other, ident)) = earlier_with_same_name(s, "db_cluster", |id, p| identifier_written(stack, id, p))
        {
            out.push(Problem::new(
                "identifier",
                format!("db_cluster `{other}` has the identifier `{ident}` too; AWS keeps cluster identifiers unique in a region"),
            ));
        }
        let engine = s.str("engine");
        if let (Some(engine), Some(v)) = (engine, s.str("engine_version")) {
            let mysql = v.contains(".mysql_aurora.");
            let pg = !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            let fits = if engine == "aurora-mysql" { mysql } else { pg };
            if !fits {
                let example = if engine == "aurora-mysql" { "8.0.mysql_aurora.3.08.0" } else { "16.4" };
                out.push(Problem::new("engine_version", format!("`{v}` is not an {engine} engine version")).help(
                    format!("e.g. `{example}`; `aws rds describe-db-engine-versions --engine {engine}` lists them"),
                ));
            }
        }
        let managed = s.bool("manage_master_password") == Some(true);
        match (managed, given("master_password")) {
            (true, true) => out.push(Problem::new(
                "master_password",
                "give `master_password` or `manage_master_password: true`, not both: AWS refuses a password it is to manage",
            )),
            (false, false) => out.push(
                Problem::new("master_password", "the master user needs a password: missing `master_password`")
                    .help("give `master_password` (a secret param), or `manage_master_password: true` to have RDS make one and keep it in Secrets Manager"),
            ),
            _ => {}
        }
        if given("master_user_secret_kms_key") && !managed {
            out.push(Problem::new(
                "master_user_secret_kms_key",
                "the key encrypts the secret RDS manages: only with `manage_master_password: true`",
            ));
        }
        if let Some(p) = s.str("master_password") {
            let n = p.chars().count();
            // The value is a secret: the message never shows it.
            if !(8..=41).contains(&n) {
                out.push(Problem::new("master_password", format!("the password is {n} characters: AWS takes 8 to 41")));
            } else if p.chars().any(|c| !c.is_ascii_graphic() || matches!(c, '/' | '"' | '@')) {
                out.push(Problem::new(
                    "master_password",
                    "the password holds a character AWS refuses: printable ASCII only, none of `/`, `\"`, `@` or space",
                ));
            }
        }
        if let (Some(u), Some(engine)) = (s.str("master_username"), engine) {
            let max = if engine == "aurora-mysql" { 16 } else { 63 };
            let ok_chars = u.starts_with(|c: char| c.is_ascii_alphabetic())
                && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok_chars || u.chars().count() > max {
                out.push(Problem::new(
                    "master_username",
                    format!(
                        "`{u}`: AWS takes a letter, then letters, digits or underscores, at most {max} for {engine}"
                    ),
                ));
            } else if u.eq_ignore_ascii_case("rdsadmin") {
                out.push(Problem::new("master_username", "`rdsadmin` is reserved by RDS"));
            }
        }
        if let (Some(d), Some(engine)) = (s.str("database_name"), engine) {
            let max = if engine == "aurora-mysql" { 64 } else { 63 };
            let ok = d.starts_with(|c: char| c.is_ascii_alphabetic())
                && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && d.chars().count() <= max;
            if !ok {
                out.push(Problem::new(
                    "database_name",
                    format!(
                        "`{d}`: AWS takes a letter, then letters, digits or underscores, at most {max} for {engine}"
                    ),
                ));
            }
        }
        if given("kms_key") && s.bool("storage_encrypted") == Some(false) {
            out.push(
                Problem::new("kms_key", "a KMS key encrypts storage: AWS refuses one with `storage_encrypted: false`")
                    .help("leave out `storage_encrypted` (true by default), or the key"),
            );
        }
        if let Some(d) = s.int("backup_retention_days").filter(|d| !(1..=35).contains(d)) {
            out.push(Problem::new("backup_retention_days", format!("{d} days: Aurora keeps backups 1 to 35 days")));
        }
        if let Some(m) = s.str("preferred_backup_window").and_then(window_problem) {
            out.push(Problem::new("preferred_backup_window", m));
        }
        if let Some(Expr::Map(sv)) = s.get("serverless_v2") {
            let min = lit_num(sv.get("min_capacity"));
            let max = lit_num(sv.get("max_capacity"));
            for (name, v) in [("min_capacity", min), ("max_capacity", max)] {
                if let Some(m) = v.and_then(capacity_problem) {
                    out.push(Problem::new(format!("serverless_v2.{name}"), m));
                }
            }
            if let Some(m) = max.filter(|m| *m < 1.0) {
                out.push(Problem::new("serverless_v2.max_capacity", format!("{m} ACUs: the maximum is at least 1")));
            }
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                out.push(Problem::new(
                    "serverless_v2.min_capacity",
                    format!("the minimum, {a} ACUs, is above the maximum, {b}"),
                ));
            }
        }
        if given("final_snapshot_identifier") && s.bool("skip_final_snapshot") == Some(true) {
            out.push(Problem::new(
                "final_snapshot_identifier",
                "a final snapshot name with `skip_final_snapshot: true`: AWS refuses the delete; give one or the other",
            ));
        }
        if let Some(m) = s.str("final_snapshot_identifier").and_then(|f| rds::identifier_problem_max(f, 255)) {
            out.push(Problem::new("final_snapshot_identifier", m));
        }
        if let Some(e) = s.get("db_subnet_group") {
            out.extend(wrong_kind(s, "db_subnet_group", e, &["db_subnet_group"]));
        }
        for (i, e) in s.list("security_groups").iter().enumerate() {
            out.extend(wrong_kind(s, &format!("security_groups.{i}"), e, &["security_group"]));
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let ident = match props.get("identifier").and_then(Value::as_str) {
            Some(i) => i.to_lowercase(),
            None => rds::default_identifier(stack, id),
        };
        props.insert("identifier".into(), Value::str(ident));
    }

    fn holds(&self) -> &'static [&'static str] {
        &["db_subnet_group", "security_group"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("rds", "cluster"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("rds", "CreateDBCluster"), ("rds", "DeleteDBCluster")])
    }
}

#[async_trait]
impl Kind for DbCluster {
    /// One paginated DescribeDBClusters; its answer carries each cluster's tags.
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let all = all_items(client(cx).describe_db_clusters().into_paginator().items().send()).await?;
        Ok(all.iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let ident = identifier_of(cx, req.id, p);
        let managed = flag(p, "manage_master_password").unwrap_or(false);
        let sent = client(cx)
            .create_db_cluster()
            .db_cluster_identifier(&ident)
            .engine(text(p, "engine").unwrap_or("aurora-postgresql"))
            .set_engine_version(text(p, "engine_version").map(str::to_owned))
            .set_database_name(text(p, "database_name").map(str::to_owned))
            .set_master_username(text(p, "master_username").map(str::to_owned))
            .set_manage_master_user_password(managed.then_some(true))
            .set_master_user_secret_kms_key_id(
                text(p, "master_user_secret_kms_key").filter(|_| managed).map(str::to_owned),
            )
            .set_master_user_password(text(p, "master_password").filter(|_| !managed).map(str::to_owned))
            .set_db_subnet_group_name(text(p, "db_subnet_group").map(str::to_owned))
            .set_vpc_security_group_ids(p.get("security_groups").filter(|v| !v.is_null()).map(Value::string_list))
            .set_port(int(p, "port"))
            .set_serverless_v2_scaling_configuration(scaling(p))
            .storage_encrypted(flag(p, "storage_encrypted").unwrap_or(true))
            .set_kms_key_id(text(p, "kms_key").map(str::to_owned))
            .backup_retention_period(int(p, "backup_retention_days").unwrap_or(7))
            .set_preferred_backup_window(text(p, "preferred_backup_window").map(str::to_owned))
            .deletion_protection(flag(p, "deletion_protection").unwrap_or(false))
            .enable_iam_database_authentication(flag(p, "iam_auth").unwrap_or(false))
            .copy_tags_to_snapshot(flag(p, "copy_tags_to_snapshot").unwrap_or(true))
            .set_tags(Some(rds::to_sdk(req.tags)))
            .send()
            .await;
        // CreateDBCluster takes no idempotency token: the SDK's resend after a lost answer (or
        // the executor's) meets DBClusterAlreadyExistsFault. The cluster is this resource's if
        // it carries its ownership tags (they travel in the create); otherwise it is someone
        // else's, and nothing is taken.
        let existing = || async { Ok(describe_one(cx, &ident).await?.map(|c| rds::from_sdk(c.tag_list()))) };
        let what = format!("DB cluster {ident}");
        super::created_or_ours(cx, req, sent.map_err(classify), &what, "give another `identifier`", existing).await?;
        Ok(live(&wait_available(cx, req.id, &ident).await?))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let ident = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        let new = req.new;
        let managed = flag(new, "manage_master_password").unwrap_or(false);
        let mut op = client(cx)
            .modify_db_cluster()
            .db_cluster_identifier(ident)
            .apply_immediately(flag(new, "apply_immediately").unwrap_or(true));
        let mut any = false;
        if changed("engine_version") {
            let major = |p: &Props| text(p, "engine_version").and_then(|v| v.split('.').next().map(str::to_owned));
            op = op
                .set_engine_version(text(new, "engine_version").map(str::to_owned))
                .set_allow_major_version_upgrade((major(req.old) != major(new)).then_some(true));
            any = true;
        }
        if changed("manage_master_password") {
            // Turning management off needs the password the user takes over.
            op = op.manage_master_user_password(managed);
            any = true;
        }
        if changed("master_password") || (changed("manage_master_password") && !managed) {
            op = op.set_master_user_password(text(new, "master_password").filter(|_| !managed).map(str::to_owned));
            any = true;
        }
        if managed && (changed("master_user_secret_kms_key") || changed("manage_master_password")) {
            op = op.set_master_user_secret_kms_key_id(text(new, "master_user_secret_kms_key").map(str::to_owned));
            any = true;
        }
        if changed("security_groups") {
            op = op.set_vpc_security_group_ids(Some(
                new.get("security_groups").map(Value::string_list).unwrap_or_default(),
            ));
            any = true;
        }
        if changed("port") {
            op = op.set_port(int(new, "port"));
            any = true;
        }
        if changed("serverless_v2") {
            op = op.set_serverless_v2_scaling_configuration(scaling(new));
            any = true;
        }
        if changed("backup_retention_days") {
            op = op.set_backup_retention_period(int(new, "backup_retention_days"));
            any = true;
        }
        if changed("preferred_backup_window") {
            op = op.set_preferred_backup_window(text(new, "preferred_backup_window").map(str::to_owned));
            any = true;
        }
        if changed("deletion_protection") {
            op = op.deletion_protection(flag(new, "deletion_protection").unwrap_or(false));
            any = true;
        }
        if changed("iam_auth") {
            op = op.enable_iam_database_authentication(flag(new, "iam_auth").unwrap_or(false));
            any = true;
        }
        if changed("copy_tags_to_snapshot") {
            op = op.copy_tags_to_snapshot(flag(new, "copy_tags_to_snapshot").unwrap_or(true));
            any = true;
        }
        if any {
            op.send().await.map_err(classify)?;
        }
        if changed("tags") {
            let arn = describe_one(cx, ident)
                .await?
                .and_then(|c| c.db_cluster_arn().map(str::to_owned))
                .ok_or_else(|| AwsError::NotFound(format!("DB cluster {ident}")))?;
            rds::retag(cx, &arn, req.old_tags, req.tags).await?;
        }
        let c = wait_available(cx, req.id, ident).await?;
        let waiting = pending(&c);
        if !waiting.is_empty() {
            cx.status(
                req.id,
                &format!(
                    "DB cluster {ident}: {} pending until the maintenance window (apply_immediately is false)",
                    waiting.join(", ")
                ),
            );
        }
        Ok(live(&c))
    }

    /// DeleteDBCluster with a final snapshot (unless `skip_final_snapshot`), then a wait until
    /// it is gone. AWS refuses while the cluster has members (InvalidDBClusterStateFault: in
    /// use, retried: the graph deletes its `db_instance`s first) and while deletion protection
    /// is on (refused with what to do).
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let ident = req.physical_id;
        let skip = flag(req.props, "skip_final_snapshot").unwrap_or(false);
        let snapshot = (!skip).then(|| {
            text(req.props, "final_snapshot_identifier")
                .map_or_else(|| default_final_snapshot(ident, std::time::SystemTime::now()), str::to_owned)
        });
        let sent = client(cx)
            .delete_db_cluster()
            .db_cluster_identifier(ident)
            .skip_final_snapshot(skip)
            .set_final_db_snapshot_identifier(snapshot.clone())
            .send()
            .await
            .map_err(classify);
        match sent {
            Err(AwsError::Invalid(m)) if m.to_lowercase().contains("deletion protection") => {
                return Err(AwsError::Blocked(format!(
                    "DB cluster {ident} has deletion protection: set `deletion_protection: false` on `{}` and apply, then delete ({m})",
                    req.id
                )));
            }
            Err(AwsError::AlreadyExists(m)) => {
                return Err(AwsError::Invalid(format!(
                    "the final snapshot {} of DB cluster {ident} exists already: give `{}` another `final_snapshot_identifier` and apply, then delete ({m})",
                    snapshot.unwrap_or_default(),
                    req.id
                )));
            }
            // Already gone: nothing to wait for.
            Err(AwsError::NotFound(_)) => return Ok(()),
            r => {
                r?;
            }
        }
        if let Some(s) = &snapshot {
            cx.status(req.id, &format!("DB cluster {ident}: final snapshot {s}"));
        }
        let what = format!("deletion of DB cluster {ident}");
        let state = |c: &SdkCluster| Poll::Pending(c.status().unwrap_or("listed").to_owned());
        wait_gone(cx, req.id, &what, || describe_one(cx, ident), state).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::create_db_cluster::{CreateDBClusterError, CreateDbClusterOutput};
    use aws_sdk_rds::operation::delete_db_cluster::{DeleteDBClusterError, DeleteDbClusterOutput};
    use aws_sdk_rds::operation::describe_db_clusters::{DescribeDBClustersError, DescribeDbClustersOutput};
    use aws_sdk_rds::operation::modify_db_cluster::ModifyDbClusterOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked, owned_tags};

    const IDENT: &str = "s-db";

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    fn cluster(status: &str, tags: &Tags) -> SdkCluster {
        SdkCluster::builder()
            .db_cluster_identifier(IDENT)
            .db_cluster_arn(format!("arn:aws:rds:us-east-1:123456789012:cluster:{IDENT}"))
            .status(status)
            .engine("aurora-postgresql")
            .engine_version("16.4")
            .master_username("app")
            .storage_encrypted(true)
            .backup_retention_period(7)
            .deletion_protection(false)
            .copy_tags_to_snapshot(true)
            .iam_database_authentication_enabled(false)
            .endpoint("s-db.cluster-x.us-east-1.rds.amazonaws.com")
            .port(5432)
            .set_tag_list(Some(rds::to_sdk(tags)))
            .build()
    }

    fn described(status: &'static str) -> impl Fn() -> DescribeDbClustersOutput + Send + Sync + 'static {
        move || DescribeDbClustersOutput::builder().db_clusters(cluster(status, &tags())).build()
    }

    fn tags() -> Tags {
        owned_tags("s", "db", "t")
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_rds, RuleMode::MatchAny, rules))
    }

    fn props() -> Props {
        let mut p = crate::kinds::testing::props(&[
            ("engine", Value::str("aurora-postgresql")),
            ("master_username", Value::str("app")),
            ("master_password", Value::str("correct-horse-1")),
            ("storage_encrypted", Value::Bool(true)),
            ("backup_retention_days", Value::Int(7)),
            ("skip_final_snapshot", Value::Bool(false)),
        ]);
        DbCluster.normalise("s", "db", &mut p);
        p
    }

    fn create_ok() -> Rule {
        mock!(Client::create_db_cluster)
            .match_requests(|r| {
                r.db_cluster_identifier() == Some(IDENT)
                    && r.master_user_password() == Some("correct-horse-1")
                    && r.manage_master_user_password().is_none()
                    && r.tags().len() == 3
            })
            .then_output(|| CreateDbClusterOutput::builder().db_cluster(cluster("creating", &tags())).build())
    }

    async fn create(cx: &Cx) -> Result<Live, AwsError> {
        let (p, t) = (props(), tags());
        DbCluster.create(cx, &CreateReq { id: "db", props: &p, tags: &t, token: "t" }).await
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_from_creating_to_available() {
        let (create_rule, describe) = (
            create_ok(),
            mock!(Client::describe_db_clusters)
                .sequence()
                .output(described("creating"))
                .times(2)
                .output(described("backing-up"))
                .output(described("available"))
                .repeatedly()
                .build(),
        );
        let (cx, seen) = cx(&[&create_rule, &describe]);
        let l = create(&cx).await.unwrap();
        assert_eq!(l.physical_id, IDENT);
        assert_eq!(l.attrs["endpoint"], Value::str("s-db.cluster-x.us-east-1.rds.amazonaws.com"));
        assert_eq!(l.attrs["master_user_secret_arn"], Value::Null);
        assert!(!l.props.contains_key("master_password"), "a secret is never read back");
        let seen = seen.lock().unwrap();
        assert!(seen.iter().any(|m| m.ends_with("(now creating)")), "{seen:?}");
        assert!(seen.iter().any(|m| m.ends_with("(now backing-up)")), "{seen:?}");
        assert_eq!(describe.num_calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_state_it_will_not_leave_ends_the_wait() {
        for state in ["failed", "inaccessible-encryption-credentials"] {
            let describe = mock!(Client::describe_db_clusters)
                .then_output(move || DescribeDbClustersOutput::builder().db_clusters(cluster(state, &tags())).build());
            let create_rule = create_ok();
            let (cx, _) = cx(&[&create_rule, &describe]);
            let err = create(&cx).await;
            assert!(matches!(err, Err(AwsError::Failed(ref m)) if m.contains(state)), "{err:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn create_times_out_when_never_available() {
        let (create_rule, describe) =
            (create_ok(), mock!(Client::describe_db_clusters).then_output(described("creating")));
        let (cx, _) = cx(&[&create_rule, &describe]);
        assert!(matches!(create(&cx).await, Err(AwsError::WaitTimeout { .. })));
    }

    /// The resend after a lost answer meets DBClusterAlreadyExistsFault: the cluster is taken
    /// when it carries this resource's ownership tags, and only then.
    #[tokio::test(start_paused = true)]
    async fn a_repeated_create_takes_the_cluster_only_with_its_ownership_tags() {
        let exists = || {
            mock!(Client::create_db_cluster).then_error(|| {
                CreateDBClusterError::DbClusterAlreadyExistsFault(
                    aws_sdk_rds::types::error::DbClusterAlreadyExistsFault::builder()
                        .message("DB Cluster already exists")
                        .meta(meta("DBClusterAlreadyExistsFault", "DB Cluster already exists"))
                        .build(),
                )
            })
        };
        let (create_rule, describe) =
            (exists(), mock!(Client::describe_db_clusters).then_output(described("available")));
        let (cx1, seen) = cx(&[&create_rule, &describe]);
        assert_eq!(create(&cx1).await.unwrap().physical_id, IDENT);
        assert!(seen.lock().unwrap().iter().any(|m| m.contains("created by an earlier attempt")));

        let theirs = mock!(Client::describe_db_clusters).then_output(|| {
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster("available", &owned_tags("other", "db", "t")))
                .build()
        });
        let create_rule = exists();
        let (cx2, _) = cx(&[&create_rule, &theirs]);
        let err = create(&cx2).await;
        assert!(matches!(err, Err(AwsError::AlreadyExists(ref m)) if m.contains("not created for db")), "{err:?}");
    }

    fn delete_req(p: &Props) -> DeleteReq<'_> {
        DeleteReq { id: "db", physical_id: IDENT, props: p, attrs: p }
    }

    #[tokio::test(start_paused = true)]
    async fn delete_takes_a_final_snapshot_and_waits_until_not_found() {
        let delete = mock!(Client::delete_db_cluster)
            .match_requests(|r| {
                r.skip_final_snapshot() == Some(false)
                    && r.final_db_snapshot_identifier().is_some_and(|s| s.starts_with("s-db-final-2") && s.len() == 25)
            })
            .then_output(|| DeleteDbClusterOutput::builder().build());
        let describe = mock!(Client::describe_db_clusters)
            .sequence()
            .output(described("deleting"))
            .times(2)
            .error(|| DescribeDBClustersError::generic(meta("DBClusterNotFoundFault", "DBCluster s-db not found.")))
            .build();
        let (cx, seen) = cx(&[&delete, &describe]);
        let p = props();
        DbCluster.delete(&cx, &delete_req(&p)).await.unwrap();
        assert_eq!((delete.num_calls(), describe.num_calls()), (1, 3));
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now deleting)")));
    }

    #[tokio::test(start_paused = true)]
    async fn refused_deletes_say_why() {
        let p = props();
        let members = mock!(Client::delete_db_cluster).then_error(|| {
            DeleteDBClusterError::generic(meta(
                "InvalidDBClusterStateFault",
                "Cluster cannot be deleted, it still contains DB instances in non-deleting state.",
            ))
        });
        let (cx1, _) = cx(&[&members]);
        assert!(matches!(DbCluster.delete(&cx1, &delete_req(&p)).await, Err(AwsError::InUse(_))));

        let protected = mock!(Client::delete_db_cluster).then_error(|| {
            DeleteDBClusterError::generic(meta(
                "InvalidParameterCombination",
                "Cannot delete protected Cluster, please disable deletion protection and try again.",
            ))
        });
        let (cx2, _) = cx(&[&protected]);
        let err = DbCluster.delete(&cx2, &delete_req(&p)).await;
        assert!(
            matches!(err, Err(AwsError::Blocked(ref m)) if m.contains("`deletion_protection: false` on `db`")),
            "{err:?}"
        );

        let gone = mock!(Client::delete_db_cluster)
            .then_error(|| DeleteDBClusterError::generic(meta("DBClusterNotFoundFault", "not found")));
        let (cx3, _) = cx(&[&gone]);
        assert_eq!(DbCluster.delete(&cx3, &delete_req(&p)).await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn updates_send_only_what_changed_and_wait_until_available() {
        let modify = mock!(Client::modify_db_cluster)
            .match_requests(|r| {
                r.backup_retention_period() == Some(14)
                    && r.deletion_protection() == Some(true)
                    && r.apply_immediately() == Some(true)
                    && r.master_user_password().is_none()
                    && r.engine_version().is_none()
            })
            .then_output(|| ModifyDbClusterOutput::builder().build());
        let describe = mock!(Client::describe_db_clusters)
            .sequence()
            .output(described("modifying"))
            .output(described("available"))
            .repeatedly()
            .build();
        let (cx1, seen) = cx(&[&modify, &describe]);
        let old = props();
        let mut new = old.clone();
        new.insert("backup_retention_days".into(), Value::Int(14));
        new.insert("deletion_protection".into(), Value::Bool(true));
        new.insert("skip_final_snapshot".into(), Value::Bool(true));
        let changed: Vec<String> =
            ["backup_retention_days", "deletion_protection", "skip_final_snapshot"].map(String::from).to_vec();
        let t = tags();
        let req =
            UpdateReq { id: "db", physical_id: IDENT, old: &old, new: &new, changed: &changed, old_tags: &t, tags: &t };
        DbCluster.update(&cx1, &req).await.unwrap();
        assert_eq!(modify.num_calls(), 1);
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now modifying)")));

        // rprov's own settings alone: nothing to send, the cluster is read back.
        let never = mock!(Client::modify_db_cluster).then_output(|| ModifyDbClusterOutput::builder().build());
        let describe = mock!(Client::describe_db_clusters).then_output(described("available"));
        let (cx2, _) = cx(&[&never, &describe]);
        let changed = vec!["skip_final_snapshot".to_string()];
        let req =
            UpdateReq { id: "db", physical_id: IDENT, old: &old, new: &new, changed: &changed, old_tags: &t, tags: &t };
        DbCluster.update(&cx2, &req).await.unwrap();
        assert_eq!(never.num_calls(), 0);
    }

    #[test]
    fn final_snapshot_names_carry_the_time() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        assert_eq!(default_final_snapshot("s-db", t), "s-db-final-20270115080000");
        assert_eq!(rds::identifier_problem_max(&default_final_snapshot(&"a".repeat(63), t), 255), None);
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const OK: &str = "engine: aurora-postgresql, master_username: app, manage_master_password: true";

    fn cluster(extra: &str) -> String {
        format!("db: {{ type: db_cluster, {OK}{extra} }}")
    }

    #[test]
    fn passwords_exactly_one_way() {
        check_rules(&cluster(""), &[]);
        check_rules(
            "db: { type: db_cluster, engine: aurora-mysql, master_username: app, master_password: \"abcdefgh12\" }",
            &[],
        );
        check_rules(
            &cluster(", master_password: \"abcdefgh12\""),
            &["4: | give `master_password` or `manage_master_password: true`, not both"],
        );
        check_rules(
            "db: { type: db_cluster, engine: aurora-mysql, master_username: app }",
            &["missing `master_password` | `manage_master_password: true`"],
        );
        check_rules(
            "db: { type: db_cluster, engine: aurora-mysql, master_username: app, master_password: \"short\" }",
            &["the password is 5 characters: AWS takes 8 to 41"],
        );
        let found = crate::kinds::testing::problems(
            "db: { type: db_cluster, engine: aurora-mysql, master_username: app, master_password: \"abc@defgh12\" }",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].contains("abc@defgh12"), "a password is never shown: {found:?}");
        check_rules(
            "db: { type: db_cluster, engine: aurora-mysql, master_username: app, master_password: \"abcdefgh12\", master_user_secret_kms_key: k }",
            &["only with `manage_master_password: true`"],
        );
    }

    #[test]
    fn identifiers() {
        check_rules(&cluster(", identifier: Main-DB"), &[]);
        check_rules(&cluster(", identifier: 1db"), &["does not begin with a letter"]);
        check_rules(&cluster(", identifier: a--b"), &["two hyphens in a row"]);
        check_rules(
            &format!("{}\nother: {{ type: db_cluster, {OK}, identifier: s-db }}", cluster("")),
            &["db_cluster `db` has the identifier `s-db` too"],
        );
        check_rules(
            &format!("{}: {{ type: db_cluster, {OK} }}", "d".repeat(62)),
            &["the default identifier (`<stack>-<id>`)"],
        );
    }

    #[test]
    fn capacity_retention_versions_windows() {
        check_rules(&cluster(", serverless_v2: { min_capacity: 0.5, max_capacity: 16 }"), &[]);
        check_rules(&cluster(", serverless_v2: { min_capacity: 0, max_capacity: 1 }"), &[]);
        check_rules(
            &cluster(", serverless_v2: { min_capacity: 0.7, max_capacity: 300 }"),
            &["0.7 ACUs: AWS takes 0 to 256 in steps of 0.5", "300 ACUs"],
        );
        check_rules(&cluster(", serverless_v2: { min_capacity: 8, max_capacity: 4 }"), &["above the maximum"]);
        check_rules(
            &cluster(", serverless_v2: { min_capacity: 0, max_capacity: 0.5 }"),
            &["the maximum is at least 1"],
        );
        check_rules(&cluster(", backup_retention_days: 0"), &["0 days: Aurora keeps backups 1 to 35 days"]);
        check_rules(&cluster(", backup_retention_days: 36"), &["36 days"]);
        check_rules(&cluster(", engine_version: \"16.4\""), &[]);
        check_rules(
            &cluster(", engine_version: 8.0.mysql_aurora.3.08.0"),
            &["not an aurora-postgresql engine version"],
        );
        check_rules(&cluster(", preferred_backup_window: \"03:00-03:30\""), &[]);
        check_rules(&cluster(", preferred_backup_window: \"23:50-00:10\""), &["20 minutes"]);
        check_rules(&cluster(", preferred_backup_window: 3am"), &["`hh24:mi-hh24:mi`"]);
        check_rules(
            &cluster(", storage_encrypted: false, kms_key: k"),
            &["AWS refuses one with `storage_encrypted: false`"],
        );
        check_rules(
            &cluster(", skip_final_snapshot: true, final_snapshot_identifier: last"),
            &["give one or the other"],
        );
        check_rules(&cluster(", final_snapshot_identifier: last-"), &["two hyphens in a row or ends with one"]);
        check_rules(
            "db: { type: db_cluster, engine: aurora-mysql, master_username: 9x, manage_master_password: true }",
            &["`9x`: AWS takes a letter"],
        );
    }
}
