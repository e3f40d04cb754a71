//! The vocabulary every layer shares, and nothing else: a resource as AWS has it ([`Live`]),
//! tags and the ownership tags rprov puts on what it makes. Imports nothing of the crate but
//! values; the core and the kinds both build on it.

use std::collections::HashMap;

use crate::value::Props;

pub type Tags = crate::sorted_map::SortedMap<String, String>;

/// Ownership tags: who owns a resource, so it can be adopted, reported as unmanaged, or torn
/// down without state.
pub const TAG_STACK: &str = "rprov:stack";
pub const TAG_ID: &str = "rprov:id";
/// The lineage of the state that made it: two deployments of one stack name (two sandboxes in
/// one account, each with its own state) are told apart by it.
pub const TAG_LINEAGE: &str = "rprov:lineage";

/// A resource as AWS has it, in the shape of the kind's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    pub physical_id: String,
    /// Properties read back, normalised for comparison with the stack's values. A property
    /// AWS cannot report (write-only, secret) is absent and compared with the recorded value.
    pub props: Props,
    /// Attributes other resources may reference (`${id.attr}`); `id` is always present.
    pub attrs: Props,
    /// Tags, without AWS's own `aws:` tags.
    pub tags: Tags,
}

impl Live {
    pub fn logical_id(&self) -> Option<&str> {
        self.tags.get(TAG_ID).map(String::as_str)
    }
    pub fn stack(&self) -> Option<&str> {
        self.tags.get(TAG_STACK).map(String::as_str)
    }
    pub fn lineage(&self) -> Option<&str> {
        self.tags.get(TAG_LINEAGE).map(String::as_str)
    }
    /// Whether it carries the ownership tags of logical id `id` of stack `stack` in `lineage`:
    /// a resource tagged without a lineage (made before lineages were tagged) counts as the
    /// stack's; one tagged with another lineage belongs to another deployment of that name.
    pub fn owned_by(&self, stack: &str, lineage: Option<&str>) -> bool {
        self.stack() == Some(stack) && self.lineage().is_none_or(|l| Some(l) == lineage)
    }
}

/// Whether `have` (a live resource's tags) marks it as the resource `wanted` (the tags a create
/// sends) would make: same stack and logical id, and the same lineage unless it carries none
/// (made before lineages were tagged). Used when a create meets a name already taken.
pub fn carries_ownership(have: &Tags, wanted: &Tags) -> bool {
    [TAG_STACK, TAG_ID].iter().all(|k| have.contains_key(*k) && have.get(*k) == wanted.get(*k))
        && have.get(TAG_LINEAGE).is_none_or(|l| wanted.get(TAG_LINEAGE) == Some(l))
}

/// Live resources by kind name, as each kind's describe returned them.
pub type LiveSet = HashMap<String, Vec<Live>>;

/// The attribute in which a kind reports when AWS says the resource was created (RFC 3339), where
/// the describe tells: `teardown --older-than` decides by it.
pub const ATTR_CREATED: &str = "created_at";

/// The attribute in which a kind reports the idempotency token a resource was created with,
/// where its describe tells (a hosted zone's caller reference): something holding a resource's
/// identity that was made with that resource's own token is its create's, from a run that
/// stopped before recording (or tagging) it — not a conflict.
pub const ATTR_CREATION_TOKEN: &str = "creation_token";

/// Tags as rprov compares them: AWS's own `aws:` tags left out.
pub fn without_aws_tags<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tags {
    pairs.into_iter().filter(|(k, _)| !k.starts_with("aws:")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// What turns `old` tags into `new`: the keys to remove, and the pairs to set (new or changed).
pub fn tag_changes(old: &Tags, new: &Tags) -> (Vec<String>, Tags) {
    let stale = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let set = new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    (stale, set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_changes_remove_what_went_and_set_what_is_new_or_different() {
        let t =
            |pairs: &[(&str, &str)]| -> Tags { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let (stale, set) =
            tag_changes(&t(&[("a", "1"), ("b", "2"), ("c", "3")]), &t(&[("a", "1"), ("b", "9"), ("d", "4")]));
        assert_eq!(stale, ["c"]);
        assert_eq!(set, t(&[("b", "9"), ("d", "4")]));
        assert_eq!(without_aws_tags([("aws:cloudformation:stack-name", "x"), ("team", "a")]), t(&[("team", "a")]));
    }
}
