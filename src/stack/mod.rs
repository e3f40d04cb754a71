//! Stack files: YAML -> a typed, validated [`Stack`] with every problem reported at once.

mod load;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;

// Diagnostics and expressions are the core's own modules; the stack's API names them too.
pub use crate::diag::{self, Diagnostic, Source, Span};
pub use crate::expr::{self, Expr, ExprMap, Ref};
pub use load::{Imported, Inputs, ParamOverrides, is_resource_id, load, load_file, load_str, load_with, yaml_to_json};

use crate::model::{TAG_ID, TAG_LINEAGE, TAG_STACK, Tags};
use crate::spec::{Catalog, KindSpec};
use crate::value::Value;

#[derive(Clone)]
pub struct Stack {
    /// The kinds its resources' types were looked up in.
    pub kinds: &'static dyn Catalog,
    pub name: String,
    pub region: String,
    pub tags: Tags,
    pub params: IndexMap<String, Param>,
    pub resources: IndexMap<String, Resource>,
    pub outputs: IndexMap<String, Expr>,
    /// Other stacks whose outputs this one reads (`imports:`), by alias.
    pub imports: IndexMap<String, Import>,
    /// Where the stack's state lives when `--state` does not say (`backend: { s3: ... }`).
    pub backend: Option<crate::state::S3Location>,
    /// Which AWS accounts the stack may be applied in (`allowed_account_ids`,
    /// `forbidden_account_ids`), checked before any call but STS's.
    pub accounts: AccountGuard,
    pub source: Source,
    /// What it was loaded with: loading again with the imports read binds them.
    pub inputs: Inputs,
}

/// The lineage tag's value in a plan of a stack that has no state yet.
pub const LINEAGE_NOT_YET: &str = "(known after apply)";

/// `allowed_account_ids` / `forbidden_account_ids` (at most one of them is non-empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountGuard {
    pub allowed: Vec<String>,
    pub forbidden: Vec<String>,
}

impl AccountGuard {
    /// Why the stack may not act in `account`, if it may not.
    pub fn refusal(&self, account: &str) -> Option<String> {
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == account) {
            return Some(format!(
                "the credentials are for account {account}, which is not in the stack's allowed_account_ids ({})",
                self.allowed.join(", ")
            ));
        }
        if self.forbidden.iter().any(|a| a == account) {
            return Some(format!(
                "the credentials are for account {account}, which the stack's forbidden_account_ids names"
            ));
        }
        None
    }
}

/// `imports: { net: { stack: network } }`: `${net.outputs.NAME}` reads an output recorded in
/// the state of stack `network` (read-only: no lock, never written by this stack's runs but for
/// the list of its consumers).
#[derive(Clone, Debug)]
pub struct Import {
    pub alias: String,
    /// The exporting stack's name.
    pub stack: String,
    /// Its state's location when written explicitly (`state:`); else beside this stack's state.
    pub state: Option<String>,
    pub span: Span,
    /// The outputs referenced, with their values once bound (`Unknown` while unbound).
    pub used: BTreeMap<String, Value>,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub value: Value,
    pub secret: bool,
    pub description: Option<String>,
}

#[derive(Clone)]
pub struct Resource {
    pub id: String,
    pub kind: &'static dyn KindSpec,
    /// Every property of the kind that has a value (defaults filled in).
    pub props: ExprMap,
    /// Where each property's value was written, for diagnostics after loading.
    pub prop_spans: Vec<(String, Span)>,
    pub depends_on: Vec<String>,
    pub depends_spans: Vec<Span>,
    /// Properties whose drift is accepted (reported as ignored, never as drift).
    pub ignore_drift: Vec<String>,
    /// `adopt: true`: an existing resource of the same identity that rprov did not create (a
    /// DNS record made by hand) is taken under management instead of being a conflict.
    pub adopt: bool,
    /// Properties whose value contains a secret param: shown as `(sensitive)`, stored as digests.
    pub sensitive: BTreeSet<String>,
    pub span: Span,
}

impl Resource {
    pub fn kind_name(&self) -> &'static str {
        self.kind.schema().name
    }

    /// Where a property's value was written.
    pub fn prop_span(&self, name: &str) -> Option<Span> {
        self.prop_spans.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }
    /// Logical ids this resource needs to exist first: references and `depends_on`.
    pub fn dependencies(&self) -> Vec<String> {
        let mut deps: Vec<String> = self.props.values().flat_map(|e| e.refs()).map(|r| r.target.clone()).collect();
        deps.extend(self.depends_on.iter().cloned());
        deps.sort();
        deps.dedup();
        deps
    }
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("id", &self.id)
            .field("kind", &self.kind_name())
            .field("props", &self.props)
            .finish()
    }
}

/// Secret params' values never appear in a message, whatever quoted them: a check of the stack
/// file, or an AWS error that echoes the value it refused ("Value '...' at 'value' failed to
/// satisfy constraint").
pub fn redact(params: &IndexMap<String, Param>, mut msg: String) -> String {
    for p in params.values().filter(|p| p.secret) {
        let texts: Vec<String> = match &p.value {
            Value::List(items) => {
                items.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string())).collect()
            }
            Value::Str(s) => vec![s.clone()],
            v => vec![v.to_string()],
        };
        for t in texts.iter().filter(|t| !t.is_empty()) {
            msg = msg.replace(t.as_str(), "***");
        }
    }
    msg
}

impl Stack {
    /// [`redact`] with this stack's params.
    pub fn redact(&self, msg: String) -> String {
        redact(&self.params, msg)
    }

    /// Ownership tags plus the stack's and the resource's own tags: what a resource must carry.
    /// `lineage`: that of the state the stack is planned against (`rprov:lineage`, which tells
    /// two deployments of one stack name apart); none before the stack has a state.
    pub fn tags_for(&self, id: &str, own: Option<&Value>, lineage: Option<&str>) -> Tags {
        let mut tags = self.tags.clone();
        if let Some(Value::Map(m)) = own {
            for (k, v) in m {
                if let Some(s) = v.as_str() {
                    tags.insert(k.clone(), s.to_owned());
                }
            }
        }
        tags.insert(TAG_STACK.into(), self.name.clone());
        tags.insert(TAG_ID.into(), id.to_owned());
        // Before its state exists (a plan of a new stack), the lineage is not decided yet.
        tags.insert(TAG_LINEAGE.into(), lineage.unwrap_or(LINEAGE_NOT_YET).to_owned());
        tags
    }
}
