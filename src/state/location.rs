//! Where a state is kept in S3, as the stack file or `--state` names it: pure data, parsed and
//! checked without a call.

/// Where a state lives in S3: `s3://BUCKET/KEY`, plus what the URL cannot say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The exact object key, or a prefix (ending in `/`) under which each stack's state is
    /// `PREFIX<stack>.json`.
    pub key: String,
    /// The bucket's region when it differs from the AWS configuration's.
    pub region: Option<String>,
    /// SSE-KMS with this key instead of the default SSE-S3 (AES256).
    pub kms_key_id: Option<String>,
}

impl S3Location {
    /// Parses `s3://BUCKET/KEY` (the key may be a prefix ending in `/`).
    pub fn parse(url: &str) -> Result<S3Location, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("`{url}`: expected s3://BUCKET/KEY"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(problem) = bucket_problem(bucket) {
            return Err(format!("`{url}`: {problem}"));
        }
        if key.is_empty() {
            return Err(format!(
                "`{url}`: no key; expected s3://BUCKET/KEY (e.g. s3://{bucket}/rprov/ for one state per stack under a prefix)"
            ));
        }
        Ok(S3Location { bucket: bucket.to_owned(), key: key.to_owned(), region: None, kms_key_id: None })
    }

    /// The key of `stack`'s state: a prefix names a directory of states; an exact key is this
    /// stack's state.
    pub fn key_for(&self, stack: &str) -> String {
        if self.key.ends_with('/') { format!("{}{stack}.json", self.key) } else { self.key.clone() }
    }

    /// Where another stack's state is, beside this one: `PREFIX<other>.json` for a prefix,
    /// `<dir>/<other>.json` for an exact key.
    pub fn beside(&self, other: &str) -> S3Location {
        let key = match self.key.rsplit_once('/') {
            _ if self.key.ends_with('/') => self.key.clone(),
            Some((dir, _)) => format!("{dir}/{other}.json"),
            None => format!("{other}.json"),
        };
        S3Location { key, ..self.clone() }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Why `name` is not a valid S3 bucket name, if it is not.
pub fn bucket_problem(name: &str) -> Option<String> {
    let ok = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!ok).then(|| {
        format!(
            "invalid bucket name `{name}`: expected 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
        )
    })
}
