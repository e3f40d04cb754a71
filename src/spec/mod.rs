//! What a resource kind is, without talking to AWS: its schema, its rules, how it relates to
//! other kinds, how AWS names it. The core (loader, planner, drift, teardown decisions, docs)
//! sees kinds only through [`KindSpec`] and a [`Catalog`] of them; the operations that call AWS
//! are `kinds::Kind`, implemented beside each spec in the kind's own file.

pub mod constraints;
pub mod dns;
pub mod network;
pub mod regions;
pub mod rules;

pub use rules::{Problem, StackView, Subject};

use crate::model::Live;
use crate::schema::KindSchema;
use crate::value::Props;

/// How AWS refuses what matters for a kind (a delete while something uses the resource, a
/// second create of a name) and whether the strict local AWS models it: the operations, as
/// `service:Operation` (SigV4 signing name), that its rules or replays cover — or why AWS
/// refuses nothing that rprov relies on for this kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusals {
    Modelled(&'static [(&'static str, &'static str)]),
    None(&'static str),
}

pub trait KindSpec: Send + Sync + 'static {
    fn schema(&self) -> &'static KindSchema;

    /// Attributes that an in-place update of `changed` gives new values (a task definition's
    /// update registers a new revision: a new ARN). The planner shows them to dependents as
    /// "known after apply", so their own updates are planned too.
    fn attrs_changed_by_update(&self, _changed: &[String]) -> &'static [&'static str] {
        &[]
    }

    /// Attributes that follow from the desired properties alone, known before apply even when
    /// the resource is created, replaced or updated (an image's digest, computed from the local
    /// archive, and its URI): the planner shows them to dependents instead of "known after
    /// apply". Only what is certain: none where a property it needs is unknown.
    fn known_attrs(&self, _props: &Props) -> Props {
        Props::new()
    }

    /// What AWS would refuse that the schema's types and the AWS model's constraints cannot
    /// say: rules across properties (a route needs exactly one target), documented value sets
    /// and tables (Fargate task sizes), and rules across resources (one route table per
    /// subnet). Run by `validate` once every resource is read, before anything reaches AWS, on
    /// resources whose values passed their own checks.
    fn check(&self, _s: &Subject) -> Vec<Problem> {
        Vec::new()
    }

    /// Puts the stack's values for this kind into the canonical shape its describe reports, so
    /// equal configurations compare equal (e.g. `port: 443` -> `from_port`/`to_port`, generated
    /// names filled in). Called on resolved values before every comparison.
    fn normalise(&self, _stack: &str, _id: &str, _props: &mut Props) {}

    /// Whether a create that failed ambiguously (lost response) may simply be sent again: true
    /// where the API takes an idempotency token that the create sends. Otherwise the executor
    /// looks the resource up by its ownership tags before trying again.
    fn create_is_idempotent(&self) -> bool {
        false
    }

    /// The physical id a resource with these (resolved) properties has, for kinds whose
    /// identity is its properties and that carry no tags (a record: zone, name, type): after a
    /// create that got no answer, what holds that id with the content sent is the create's own.
    fn identity(&self, _props: &Props) -> Option<String> {
        None
    }

    /// Whether the kind can look up what already holds the identity of a resource to create
    /// (`kinds::Kind::occupants`), and so whether `adopt: true` is allowed.
    fn finds_occupants(&self) -> bool {
        false
    }

    /// Whether an existing resource holding the identity is simply used, without `adopt: true`
    /// (a hosted zone with `lookup: true`). Otherwise it is a conflict until the stack adopts it.
    fn takes_existing(&self, _props: &Props) -> bool {
        false
    }

    /// For a kind whose resources carry no tags: what `live` belongs to, from its live values:
    /// the physical id, ARN, or ARN resource part (`service/<cluster>/<name>`) of the resource
    /// it exists for. A teardown without state deletes an untagged resource only together with
    /// its owner.
    fn owner(&self, _live: &Live) -> Option<String> {
        None
    }

    /// The kinds a resource of this kind may hold on to within one stack, so it is deleted
    /// before them where live values do not tell (a NAT gateway holds its subnet and Elastic IP
    /// until it is `deleted`; a listener, its target group and certificate).
    fn holds(&self) -> &'static [&'static str] {
        &[]
    }

    /// ARN types, `(service, resource type)`, of what AWS makes along with a resource of this
    /// kind, tagged as it is and deleted with it (an instance's root volume: tagged by the
    /// instance's TagSpecifications, deleted when it terminates). Teardown lists such a leftover
    /// as going with its resource, not as something rprov cannot delete.
    fn parts(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// How its ARN names it: `(service, resource type)` in `arn:aws:SERVICE:REGION:ACCOUNT:TYPE/...`
    /// (the Tagging API reports ARNs only); the type is `""` where the resource part is the name
    /// alone (`arn:aws:s3:::<bucket>`). Every taggable kind has one.
    fn arn(&self) -> Option<(&'static str, &'static str)> {
        None
    }

    /// Why `live` is not declared by `rprov import`, where AWS made it along with another
    /// resource and deletes it with that one (a VPC's main route table, its default security
    /// group): rprov could neither create nor delete it.
    fn made_by_aws(&self, _live: &Live) -> Option<&'static str> {
        None
    }

    /// Properties of another resource that a resource of this kind changes while it runs:
    /// `(its own property naming that resource, the other's property)` — a scalable target sets
    /// its service's `desired_count`. `rprov import` declares them in the other's `ignore_drift`.
    fn governs(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The properties `rprov import` declares for `live`: what the describe reports, plus what
    /// its other values tell of what it does not report (an instance's `ami` is the image it
    /// runs).
    fn imported_props(&self, live: &Live) -> Props {
        live.props.clone()
    }

    /// What AWS refuses for this kind and the strict local AWS models.
    fn refusals(&self) -> Refusals;
}

/// The kinds a stack may use, by name.
pub trait Catalog: Send + Sync {
    fn spec(&self, name: &str) -> Option<&'static dyn KindSpec>;
    fn specs(&self) -> Vec<&'static dyn KindSpec>;

    fn names(&self) -> Vec<&'static str> {
        self.specs().iter().map(|k| k.schema().name).collect()
    }

    /// The kind an ARN names, by [`KindSpec::arn`].
    fn kind_of_arn(&self, arn: &str) -> Option<&'static str> {
        let t = arn_type(arn)?;
        self.specs().into_iter().find(|k| k.arn() == Some(t)).map(|k| k.schema().name)
    }

    /// The kind whose resources an ARN names a part of, by [`KindSpec::parts`].
    fn kind_with_part(&self, arn: &str) -> Option<&'static str> {
        let t = arn_type(arn)?;
        self.specs().into_iter().find(|k| k.parts().contains(&t)).map(|k| k.schema().name)
    }

    /// Whether a resource of kind `a` may hold on to one of kind `b` ([`KindSpec::holds`]).
    fn holds(&self, a: &str, b: &str) -> bool {
        self.spec(a).is_some_and(|k| k.holds().contains(&b))
    }
}

/// `(service, resource type)` of an ARN, as [`KindSpec::arn`] names them.
fn arn_type(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, _, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // A resource part without a type (`arn:aws:s3:::<bucket>`) has the empty type.
    // API Gateway's resource part is a path (`/apis/<id>`): its type is the first segment.
    let resource = resource.strip_prefix('/').unwrap_or(resource);
    let ty = if resource.contains(['/', ':']) { resource.split(['/', ':']).next().unwrap_or_default() } else { "" };
    Some((service, ty))
}

/// What keeps a catalog's kinds from being complete, one line each (empty when complete): a
/// kind, property or attribute without docs, a name used twice, a taggable kind without an ARN
/// rule (the Tagging API reports ARNs only: its leftovers would be "foreign" to teardown), two
/// kinds claiming one ARN type, a `holds` naming no kind or holding both ways, a refusal rule
/// `refusal_rules` (the strict local AWS's documented rules) does not list.
pub fn gaps(catalog: &dyn Catalog, refusal_rules: &str) -> Vec<String> {
    let mut out = Vec::new();
    let specs = catalog.specs();
    let mut names = std::collections::BTreeSet::new();
    let mut arns = std::collections::BTreeMap::new();
    for k in &specs {
        let s = k.schema();
        let name = s.name;
        if !names.insert(name) {
            out.push(format!("{name}: registered twice"));
        }
        if s.doc.trim().is_empty() {
            out.push(format!("{name}: no doc"));
        }
        for p in s.props.iter().filter(|p| p.doc.trim().is_empty()) {
            out.push(format!("{name}.{}: property without doc", p.name));
        }
        for a in s.attrs.iter().filter(|a| a.doc.trim().is_empty()) {
            out.push(format!("{name}.{}: attribute without doc", a.name));
        }
        match k.arn() {
            None if s.taggable => out.push(format!(
                "{name}: taggable but no ARN rule (KindSpec::arn): teardown could not tell its resources in the Tagging API"
            )),
            Some(arn) => {
                if let Some(other) = arns.insert(arn, name) {
                    out.push(format!("{name}: ARN type {arn:?} is {other}'s too"));
                }
            }
            None => {}
        }
        for held in k.holds() {
            match catalog.spec(held) {
                None => out.push(format!("{name}: holds `{held}`, which is no kind")),
                Some(h) if h.holds().contains(&name) => out.push(format!("{name} and {held} hold each other")),
                Some(_) => {}
            }
        }
        match k.refusals() {
            Refusals::Modelled([]) => {
                out.push(format!("{name}: no refusal rule named (Refusals::None says why there is none)"))
            }
            Refusals::Modelled(ops) => {
                for (service, op) in ops {
                    let listed = refusal_rules.lines().any(|l| {
                        l.contains(service) && l.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == *op)
                    });
                    if !listed {
                        out.push(format!("{name}: refusal rule {service} {op} is not in the strict local AWS's rules"));
                    }
                }
            }
            Refusals::None(why) if why.trim().is_empty() => {
                out.push(format!("{name}: Refusals::None without a reason"))
            }
            Refusals::None(_) => {}
        }
    }
    out
}
