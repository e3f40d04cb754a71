use async_trait::async_trait;
use aws_sdk_ec2::types::{KeyPairInfo, ResourceType};

use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct KeyPair;

static SCHEMA: KindSchema = KindSchema {
    name: "key_pair",
    doc: "An EC2 key pair imported from a public key (ImportKeyPair), e.g. for SSH to a bastion. rprov never \
          generates key pairs: the private key stays with whoever made it and never reaches the state.",
    props: &[
        Prop::new("name", Ty::Str, "Key pair name, unique in the region. Default: `<stack>-<id>`.")
            .aws("ec2:ImportKeyPairRequest.KeyName")
            .replaces(),
        Prop::new(
            "public_key",
            Ty::Str,
            "The public key in OpenSSH format (`ssh-ed25519 AAAA... comment`, as in `id_ed25519.pub`); RSA, \
             ED25519 and ECDSA keys. Compared without its comment.",
        )
        // Sent as ImportKeyPairRequest.PublicKeyMaterial, a blob: no string constraints to map.
        .required()
        .replaces(),
    ],
    attrs: &[
        Attr::new("id", "The key pair id (key-...)."),
        Attr::new("name", "The key pair name, what an instance's `key_name` takes."),
        Attr::new("fingerprint", "The fingerprint AWS computed (MD5 for RSA, SHA-256 for ED25519)."),
        Attr::new("type", "rsa or ed25519."),
    ],
    taggable: true,
};

/// Key types AWS imports (ImportKeyPair: RSA 1024-4096 bits, ED25519, ECDSA).
const TYPES: &[&str] =
    &["ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"];

/// A public key as rprov compares it: type and key, no comment, single spaces. AWS returns the
/// key it stores (DescribeKeyPairs with IncludePublicKey), which need not carry the comment
/// that was imported.
fn canonical_key(text: &str) -> String {
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn live(k: &KeyPairInfo) -> Live {
    let name = k.key_name().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    if let Some(key) = k.public_key() {
        props.insert("public_key".into(), Value::Str(canonical_key(key)));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(k.key_pair_id().unwrap_or_default()));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("fingerprint".into(), Value::str(k.key_fingerprint().unwrap_or_default()));
    attrs.insert("type".into(), k.key_type().map(|t| Value::str(t.as_str())).unwrap_or(Value::Null));
    super::set_created(&mut attrs, super::sdk_time(k.create_time()));
    // The name is the physical id: DeleteKeyPair and instances name a key pair by it.
    Live { physical_id: name, props, attrs, tags: ec2::from_sdk(k.tags()) }
}

async fn describe_one(cx: &Cx, name: &str) -> Result<KeyPairInfo, AwsError> {
    let out = client(cx)
        .describe_key_pairs()
        .key_names(name)
        .include_public_key(true)
        .send()
        .await
        .map_err(classify)?;
    out.key_pairs().iter().find(|k| k.key_name() == Some(name)).cloned().ok_or_else(|| AwsError::NotFound(name.into()))
}

/// Why AWS would refuse `text` as the key material, if it would.
fn key_problem(text: &str) -> Option<Problem> {
    if text.contains("PRIVATE KEY") {
        return Some(
            Problem::new("public_key", "this is a private key: rprov imports public keys only, and a private key must never be in a stack or its state")
                .help("give the `.pub` file's content, e.g. from `ssh-keygen -y -f KEY`"),
        );
    }
    let mut parts = text.split_whitespace();
    let (ty, body) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !TYPES.contains(&ty) {
        return Some(
            Problem::new("public_key", format!("`{ty}` is not a key type AWS imports"))
                .help(format!("an OpenSSH public key starting with one of {}", TYPES.join(", "))),
        );
    }
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if body.len() < 16 || !body.chars().all(base64) {
        return Some(Problem::new("public_key", "the key after its type is not base64: not an OpenSSH public key"));
    }
    None
}

impl KindSpec for KeyPair {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (ImportKeyPair): the key material is a public key of a supported type in a format it
    /// reads (OpenSSH here); names are up to 255 ASCII characters.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(key) = s.str("public_key") {
            out.extend(key_problem(key));
        }
        if let Some(name) = s.str("name")
            && (name.len() > 255 || !name.is_ascii() || name.is_empty())
        {
            out.push(Problem::new("name", "a key pair name is 1-255 ASCII characters"));
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        super::ecs::default_name_into(props, "name", stack, id);
        if let Some(Value::Str(key)) = props.get_mut("public_key") {
            *key = canonical_key(key);
        }
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "key-pair"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "ImportKeyPair")])
    }
}

#[async_trait]
impl Kind for KeyPair {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        // DescribeKeyPairs is not paginated: one call returns every key pair of the region.
        let out = client(cx).describe_key_pairs().include_public_key(true).send().await.map_err(classify)?;
        Ok(out.key_pairs().iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = req.props.get("name").and_then(Value::as_str).unwrap_or(req.id).to_owned();
        let key = req.props.get("public_key").and_then(Value::as_str).unwrap_or_default();
        // ImportKeyPair takes no idempotency token; a resend after a lost answer meets
        // InvalidKeyPair.Duplicate, and the key pair is ours if it carries our ownership tags.
        let sent = client(cx)
            .import_key_pair()
            .key_name(&name)
            .public_key_material(aws_smithy_types::Blob::new(key.as_bytes()))
            .tag_specifications(ec2::tag_spec(ResourceType::KeyPair, req.tags))
            .customize()
            .config_override(ec2::no_resend())
            .send()
            .await
            .map_err(crate::aws::classify_unretried);
        super::created_or_ours(cx, req, sent, &format!("key pair {name:?}"), "choose another `name`", || async {
            match describe_one(cx, &name).await {
                Ok(k) => Ok(Some(ec2::from_sdk(k.tags()))),
                Err(AwsError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        let mut l = live(&ec2::settle(cx, req.id, &format!("key pair {name}"), || describe_one(cx, &name)).await?);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        // Name and key force a replacement: only tags change in place, on the key pair id.
        let k = describe_one(cx, req.physical_id).await?;
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, k.key_pair_id().unwrap_or_default(), req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // By name: moto 5.2.5 ignores DeleteKeyPair's KeyPairId. AWS answers success for a
        // name that does not exist.
        ec2::gone_ok(
            client(cx).delete_key_pair().key_name(req.physical_id).send().await.map(|_| ()).map_err(classify),
        )
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::describe_key_pairs::DescribeKeyPairsOutput;
    use aws_sdk_ec2::operation::import_key_pair::{ImportKeyPairError, ImportKeyPairOutput};
    use aws_sdk_ec2::types::Tag;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::mocked;
    use crate::kinds::{TAG_ID, TAG_STACK, Tags};

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF";

    fn ours() -> Tags {
        Tags::from([(TAG_STACK.to_string(), "s".to_string()), (TAG_ID.to_string(), "key".to_string())])
    }

    fn info(tags: &Tags) -> KeyPairInfo {
        KeyPairInfo::builder()
            .key_name("s-key")
            .key_pair_id("key-1")
            .key_fingerprint("fp")
            .public_key(format!("{KEY} someone@host\n"))
            .set_tags(Some(ec2::to_sdk(tags)))
            .build()
    }

    fn duplicate() -> ImportKeyPairError {
        ImportKeyPairError::generic(
            ErrorMetadata::builder().code("InvalidKeyPair.Duplicate").message("The keypair 's-key' already exists.").build(),
        )
    }

    fn props() -> Props {
        let mut p = Props::from([("public_key".to_string(), Value::str(format!("{KEY}   me@laptop")))]);
        KeyPair.normalise("s", "key", &mut p);
        p
    }

    #[test]
    fn live_shape_equals_the_normalised_stack_shape() {
        let l = live(&info(&ours()));
        assert_eq!(l.props, props());
        assert_eq!(l.physical_id, "s-key");
        assert_eq!(l.attrs["fingerprint"], Value::str("fp"));
    }

    /// A resend after a lost answer meets the first import: it carries our tags, so it is ours.
    #[tokio::test(start_paused = true)]
    async fn duplicate_name_with_our_tags_is_our_earlier_import() {
        let import = mock!(Client::import_key_pair).then_error(duplicate);
        let describe = mock!(Client::describe_key_pairs)
            .then_output(|| DescribeKeyPairsOutput::builder().key_pairs(info(&ours())).build());
        let (cx, seen) = mocked(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&import, &describe]));
        let (p, tags) = (props(), ours());

        let l = KeyPair.create(&cx, &CreateReq { id: "key", props: &p, tags: &tags, token: "t" }).await.unwrap();

        assert_eq!(l.physical_id, "s-key");
        assert_eq!(seen.lock().unwrap().len(), 1, "{seen:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn duplicate_name_of_someone_else_is_refused() {
        let import = mock!(Client::import_key_pair).then_error(duplicate);
        let describe = mock!(Client::describe_key_pairs).then_output(|| {
            DescribeKeyPairsOutput::builder()
                .key_pairs(KeyPairInfo::builder().key_name("s-key").tags(Tag::builder().key("x").value("y").build()).build())
                .build()
        });
        let (cx, _) = mocked(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&import, &describe]));
        let (p, tags) = (props(), ours());

        let err = KeyPair.create(&cx, &CreateReq { id: "key", props: &p, tags: &tags, token: "t" }).await.unwrap_err();

        assert!(matches!(&err, AwsError::AlreadyExists(m) if m.contains("choose another `name`")), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn import_sends_the_key_and_the_tags() {
        let import = mock!(Client::import_key_pair)
            .match_requests(|r| {
                r.key_name() == Some("s-key")
                    && r.public_key_material().map(|b| b.as_ref()) == Some(KEY.as_bytes())
                    && r.tag_specifications().len() == 1
            })
            .then_output(|| ImportKeyPairOutput::builder().key_name("s-key").build());
        let describe = mock!(Client::describe_key_pairs)
            .then_output(|| DescribeKeyPairsOutput::builder().key_pairs(info(&ours())).build());
        let (cx, _) = mocked(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&import, &describe]));
        let (p, tags) = (props(), ours());

        let l = KeyPair.create(&cx, &CreateReq { id: "key", props: &p, tags: &tags, token: "t" }).await.unwrap();

        assert_eq!(import.num_calls(), 1);
        assert_eq!(l.props, p);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    #[test]
    fn public_keys_only() {
        valid("  k: { type: key_pair, public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33 me@host' }");
        let p = problems(
            "  a: { type: key_pair, public_key: \"-----BEGIN OPENSSH PRIVATE KEY-----\" }\n  b: { type: key_pair, public_key: 'ssh-dss AAAAB3NzaC1kc3MAAACBAP' }\n  c: { type: key_pair, public_key: 'ssh-rsa not*base64*at*all' }",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("this is a private key"), "{p:?}");
        assert!(p[1].contains("`ssh-dss` is not a key type AWS imports"), "{p:?}");
        assert!(p[2].contains("not base64"), "{p:?}");
    }
}
