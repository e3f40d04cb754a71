//! `rprov import`: live resources, as the kinds' describes return them (already in the stack's
//! shape), -> the text of a stack file that declares them: references instead of literal ids,
//! only what differs from the kinds' defaults, the tags all of them share hoisted to the stack's
//! `tags:`, and what was seen but not imported said in comments. Also what the state records
//! of each resource when the import adopts them. Pure: `cli/import.rs` reads AWS and writes the
//! file and the state. (A stack's `imports:` of other stacks' outputs are `stack::load::imports`.)

use std::collections::{BTreeSet, HashMap};

use crate::model::{Live, Tags};
use crate::plan::compared_props;
use crate::schema::{KindSchema, Ty};
use crate::spec::KindSpec;
use crate::value::{Props, Value};

/// One live resource to import, with its kind.
pub struct Found {
    pub kind: &'static dyn KindSpec,
    pub live: Live,
}

/// Something seen that is not imported: listed in a comment at the end of the file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// What it is (`network interface`, an ARN's `service:type`).
    pub what: String,
    pub id: String,
    pub why: String,
}

/// A resource of the generated stack, as the state records one adopted by the import.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub id: String,
    pub kind: &'static str,
    pub physical_id: String,
    /// The properties as the planner compares them (defaults filled in, normalised): what a plan
    /// of the generated file wants, so a plan against this record shows no change.
    pub props: Props,
    pub attrs: Props,
    pub tags: Tags,
    /// The resources it refers to, by logical id.
    pub depends_on: Vec<String>,
}

/// What [`generate`] makes.
pub struct Generated {
    /// The stack file.
    pub text: String,
    /// Its resources, in the file's order.
    pub resources: Vec<Imported>,
    /// The deployment the resources already belong to: every one is tagged as of this stack
    /// and one lineage (a state lost, its resources imported back). Adopted under it, their
    /// ownership tags are already right and the first plan changes nothing.
    pub lineage: Option<String>,
}

/// What the stack file is called and how its resources were picked (for its header).
pub struct Request<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    /// The command's selection, as given (`--vpc vpc-0abc`).
    pub selection: &'a str,
}

/// The identifiers others name a resource by: its physical id, `id` and `arn`.
fn identifiers(l: &Live) -> impl Iterator<Item = &str> {
    std::iter::once(l.physical_id.as_str())
        .chain(["id", "arn"].into_iter().filter_map(|a| l.attrs.get(a).and_then(Value::as_str)))
        .filter(|s| !s.is_empty())
}

fn strings<'v>(v: &'v Value, out: &mut BTreeSet<&'v str>) {
    match v {
        Value::Str(s) => {
            out.insert(s);
        }
        Value::List(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Map(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// The strings a resource's properties hold: where it names other resources.
fn named(l: &Live) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    l.props.values().for_each(|v| strings(v, &mut out));
    out
}

/// What of `found` belongs to VPC `vpc`, as indexes: the VPC; what names it, and what names
/// those, to the end (subnets, gateways, route tables, groups, ACLs, endpoints; NAT gateways and
/// instances in its subnets; the addresses of its instances); then, one step only, what those
/// name (a NAT gateway's Elastic IP, an instance's key pair, a mount target's file system, a
/// service's cluster and task definition) — one step, or a key pair shared with another VPC's
/// instance would bring that VPC in; last, what names nothing but what is picked (a file
/// system's access points).
pub fn in_vpc(vpc: &str, found: &[Found]) -> Vec<usize> {
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    let mut picked = vec![false; found.len()];
    for (i, f) in found.iter().enumerate() {
        if f.live.physical_id == vpc {
            picked[i] = true;
            ids.extend(identifiers(&f.live));
        }
    }
    let names: Vec<BTreeSet<&str>> = found.iter().map(|f| named(&f.live)).collect();
    loop {
        let more: Vec<usize> =
            (0..found.len()).filter(|&i| !picked[i] && names[i].iter().any(|n| ids.contains(n))).collect();
        if more.is_empty() {
            break;
        }
        for i in more {
            picked[i] = true;
            ids.extend(identifiers(&found[i].live));
        }
    }
    let wanted: BTreeSet<&str> =
        (0..found.len()).filter(|&i| picked[i]).flat_map(|i| names[i].iter().copied()).collect();
    // By name too, where the kind of what names it may hold it (a service's cluster).
    let held_by_picked = |f: &Found| {
        (0..found.len()).filter(|&i| picked[i]).any(|i| {
            found[i].kind.holds().contains(&f.kind.schema().name)
                && f.live.attrs.get("name").and_then(Value::as_str).is_some_and(|n| names[i].contains(n))
        })
    };
    let one_step: Vec<usize> = (0..found.len())
        .filter(|&i| {
            !picked[i] && (identifiers(&found[i].live).any(|id| wanted.contains(id)) || held_by_picked(&found[i]))
        })
        .collect();
    for i in one_step {
        picked[i] = true;
        ids.extend(identifiers(&found[i].live));
    }
    // Then what names only what is picked (a file system's access point): it cannot bring in
    // anything of another VPC.
    let known: BTreeSet<&str> = found.iter().flat_map(|f| identifiers(&f.live)).collect();
    loop {
        let more: Vec<usize> = (0..found.len())
            .filter(|&i| {
                let mut named = names[i].iter().filter(|n| known.contains(*n)).peekable();
                !picked[i] && named.peek().is_some() && named.all(|n| ids.contains(n))
            })
            .collect();
        if more.is_empty() {
            break;
        }
        for i in more {
            picked[i] = true;
            ids.extend(identifiers(&found[i].live));
        }
    }
    (0..found.len()).filter(|&i| picked[i]).collect()
}

/// A resource id as the loader takes it (lowercase letters, digits, `_`, `-`, starting with a
/// letter, at most 64), from a `Name` tag: `Portal VPC (prod)` -> `portal_vpc_prod`.
fn sanitise(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_');
    let out = if out.starts_with(|c: char| c.is_ascii_lowercase()) { out.to_owned() } else { return None };
    let mut out: String = out.chars().take(56).collect();
    while out.ends_with('_') {
        out.pop();
    }
    (out != "params").then_some(out)
}

/// Unique logical ids: the one a resource of this stack carries in `rprov:id` (made by rprov,
/// its state lost), else from its `Name` tag (`<name>_<kind>` where another kind's resource has
/// that name), else, for a resource that exists for another ([`KindSpec::owner`]: a mount
/// target for its file system), `<owner>_<kind>`, else `<kind>_<n>`.
fn logical_ids(found: &[Found], stack: &str) -> Vec<String> {
    let own = |f: &Found| -> Option<String> {
        let mine = f.live.logical_id().filter(|i| f.live.stack() == Some(stack) && crate::stack::is_resource_id(i));
        mine.map(str::to_owned).or_else(|| f.live.tags.get("Name").and_then(|n| sanitise(n)))
    };
    let owner_of = |f: &Found| -> Option<usize> {
        let r = f.kind.owner(&f.live)?;
        found.iter().position(|o| {
            identifiers(&o.live).any(|id| id == r || crate::teardown::arn_resource(id) == Some(r.as_str()))
        })
    };
    let mut taken: HashMap<String, &str> = HashMap::new();
    let mut per_kind: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<Option<String>> = vec![None; found.len()];
    let unique = |base: String, kind: &'static str, taken: &mut HashMap<String, &'static str>| {
        // A name another kind's resource took first: this one's kind tells them apart.
        let mut id = match taken.get(&base) {
            Some(k) if *k != kind => format!("{base}_{kind}"),
            _ => base.clone(),
        };
        let mut n = 1;
        while taken.contains_key(&id) {
            n += 1;
            id = format!("{base}_{n}");
        }
        taken.insert(id.clone(), kind);
        id
    };
    // Named resources first, so that those named after them know their names.
    for (i, f) in found.iter().enumerate() {
        if let Some(base) = own(f) {
            out[i] = Some(unique(base, f.kind.schema().name, &mut taken));
        }
    }
    for (i, f) in found.iter().enumerate().filter(|(_, f)| own(f).is_none()) {
        let kind = f.kind.schema().name;
        let base = match owner_of(f).and_then(|o| out[o].clone()) {
            Some(owner) => format!("{owner}_{kind}"),
            None => {
                let n = per_kind.entry(kind).or_default();
                *n += 1;
                format!("{kind}_{n}")
            }
        };
        out[i] = Some(unique(base, kind, &mut taken));
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// `given` without what the kind would fill in the same (schema defaults, nested ones too, and
/// what `normalise` derives: a default name, AWS's default egress rule): a property is left out
/// when the planner compares the resource the same without it.
fn minimal(kind: &dyn KindSpec, stack: &str, id: &str, given: &Props) -> Props {
    let full = compared_props(kind, stack, id, given);
    let same = |p: &Props| compared_props(kind, stack, id, p) == full;
    let mut out = given.clone();
    for prop in kind.schema().props {
        let fields: &[crate::schema::Prop] = match prop.ty {
            Ty::Obj(f) => f,
            Ty::List(Ty::Obj(f)) => f,
            _ => continue,
        };
        let items = match out.get(prop.name) {
            Some(Value::List(items)) => items.len(),
            Some(Value::Map(_)) => 0,
            _ => continue,
        };
        for item in (0..items).map(Some).chain((items == 0).then_some(None)) {
            // A required field stays, even where its default would do (the loader asks for it).
            for f in fields.iter().filter(|f| !f.required) {
                let mut trial = out.clone();
                let target = match (trial.get_mut(prop.name), item) {
                    (Some(Value::List(l)), Some(i)) => l.get_mut(i).and_then(|v| match v {
                        Value::Map(m) => Some(m),
                        _ => None,
                    }),
                    (Some(Value::Map(m)), None) => Some(m),
                    _ => None,
                };
                if target.and_then(|m| m.remove(f.name)).is_some() && same(&trial) {
                    out = trial;
                }
            }
        }
    }
    for prop in kind.schema().props.iter().filter(|p| !p.required) {
        let mut trial = out.clone();
        if trial.remove(prop.name).is_some() && same(&trial) {
            out = trial;
        }
    }
    out
}

/// Whether `s` has the shape of an AWS resource id (`subnet-0a1b2c3d`, `eipalloc-...`, `i-...`).
fn looks_like_id(s: &str) -> bool {
    let Some((prefix, hex)) = s.rsplit_once('-') else { return false };
    !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && (8..=17).contains(&hex.len())
        && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where the strings of one resource's properties can name other imported resources.
struct Names<'a> {
    /// Every identifier of an imported resource (physical id, `id`, `arn`): unique, so a
    /// reference wherever it appears.
    ids: &'a HashMap<String, (String, &'static str)>,
    /// Repository URLs: an image named `<url>@sha256:...` or `<url>:tag` is `${repo.url}...`.
    urls: &'a [(String, String)],
    /// Any other string attribute of the resources of kinds this one may hold on to
    /// ([`KindSpec::holds`]: a scalable target's service name, an alarm's load balancer ARN
    /// suffix, an alias record's DNS name and zone id), with every resource holding that value.
    held: &'a Held,
}

/// Values of what a kind may hold, each with the resources holding it and the attribute.
type Held = HashMap<String, Vec<(String, &'static str)>>;

impl Names<'_> {
    /// The references `s` may be, the first certain; a DNS name matches with or without its
    /// final dot.
    fn candidates(&self, s: &str) -> Vec<(String, &'static str)> {
        if let Some(t) = self.ids.get(s) {
            return vec![t.clone()];
        }
        let undotted = s.strip_suffix('.').filter(|u| u.contains('.')).unwrap_or(s);
        self.held.get(s).or_else(|| self.held.get(undotted)).cloned().unwrap_or_default()
    }
}

/// Replaces, at any depth, each string naming another imported resource by `${id.attr}`; the
/// ids referred to go into `refs`. A value several held resources share (two load balancers'
/// zone id) is the one a field beside it names (the alias's `dns_name`), else left literal.
fn reference(v: &mut Value, me: &str, names: &Names, refs: &mut BTreeSet<String>) {
    match v {
        Value::Str(s) => {
            one_reference(s, me, names, refs, &BTreeSet::new());
        }
        Value::List(items) => items.iter_mut().for_each(|i| reference(i, me, names, refs)),
        Value::Map(m) => {
            // Nested values and this map's certain references first, then its strings that
            // several resources hold, by what their neighbours name.
            for v in m.values_mut() {
                reference(v, me, names, refs);
            }
            let beside: BTreeSet<String> = m
                .values()
                .filter_map(|v| v.as_str()?.strip_prefix("${")?.split_once('.').map(|(t, _)| t.to_owned()))
                .collect();
            for v in m.values_mut() {
                if let Value::Str(s) = v
                    && !s.starts_with("${")
                {
                    one_reference(s, me, names, refs, &beside);
                }
            }
        }
        _ => {}
    }
}

fn one_reference(s: &mut String, me: &str, names: &Names, refs: &mut BTreeSet<String>, beside: &BTreeSet<String>) {
    let found = names.candidates(s);
    let pick = match found.as_slice() {
        [only] => Some(only.clone()),
        several => several.iter().find(|(t, _)| beside.contains(t)).cloned(),
    };
    if let Some((target, attr)) = pick.filter(|(t, _)| t != me) {
        refs.insert(target.clone());
        *s = format!("${{{target}.{attr}}}");
        return;
    }
    for (url, target) in names.urls.iter().filter(|(_, t)| t != me) {
        if let Some(rest) = s.strip_prefix(url.as_str()).filter(|r| r.starts_with(['@', ':'])) {
            refs.insert(target.clone());
            *s = format!("${{{target}.url}}{rest}");
            return;
        }
    }
}

/// The attribute of `l` (declared by its kind) that holds `value`, `id` first.
fn attr_holding(schema: &KindSchema, l: &Live, value: &str) -> Option<&'static str> {
    let declared = |a: &str| schema.attrs.iter().find(|x| x.name == a).map(|x| x.name);
    // An ARN by its `arn`, as stacks write it.
    let first: [&str; 2] = if value.starts_with("arn:") { ["arn", "id"] } else { ["id", "arn"] };
    first
        .into_iter()
        .chain(schema.attrs.iter().map(|a| a.name))
        .find(|a| l.attrs.get(*a).and_then(Value::as_str) == Some(value))
        .and_then(declared)
}

/// The string attributes of the resources `kind` may hold on to, each with the resources holding
/// it (values of fewer than 3 characters left out: too likely a coincidence).
fn held(kind: &dyn KindSpec, found: &[Found], ids: &[String]) -> Held {
    let mut out = Held::new();
    for (f, id) in found.iter().zip(ids).filter(|(f, _)| kind.holds().contains(&f.kind.schema().name)) {
        for a in f.kind.schema().attrs {
            if let Some(v) = f.live.attrs.get(a.name).and_then(Value::as_str).filter(|v| v.len() >= 3) {
                let v = v.strip_suffix('.').filter(|u| u.contains('.')).unwrap_or(v);
                let holders = out.entry(v.to_owned()).or_default();
                if !holders.iter().any(|(t, _)| t == id) {
                    holders.push((id.clone(), a.name));
                }
            }
        }
    }
    out
}

/// Properties that carry no reference even when their text equals an id: free text.
const FREE_TEXT: &[&str] = &["name", "description"];

/// The stack file declaring `found` (in dependency order, the order of `found` otherwise), and
/// what the state records of each. Resources AWS makes along with another (`KindSpec::made_by_aws`:
/// a VPC's main route table, its default security group) are not declared, only named in a
/// comment, like everything in `skipped`.
pub fn generate(req: &Request, found: Vec<Found>, skipped: &[Skipped]) -> Generated {
    let (made_by_aws, found): (Vec<Found>, Vec<Found>) =
        found.into_iter().partition(|f| f.kind.made_by_aws(&f.live).is_some());
    let ids = logical_ids(&found, req.stack);
    // Resources that carry no tags (mount targets, records, scalable targets) say nothing of it.
    let tagged = || found.iter().filter(|f| !f.live.tags.is_empty());
    let lineage = tagged()
        .next()
        .and_then(|f| f.live.lineage())
        .filter(|l| tagged().all(|f| f.live.stack() == Some(req.stack) && f.live.lineage() == Some(*l)));
    let lineage = lineage.map(str::to_owned);
    // Every identifier of an imported resource -> the reference that names it.
    let mut index: HashMap<String, (String, &'static str)> = HashMap::new();
    for (f, id) in found.iter().zip(&ids) {
        for value in identifiers(&f.live) {
            if let Some(attr) = attr_holding(f.kind.schema(), &f.live, value) {
                index.entry(value.to_owned()).or_insert((id.clone(), attr));
            }
        }
    }
    let urls: Vec<(String, String)> = found
        .iter()
        .zip(&ids)
        .filter_map(|(f, id)| Some((f.live.attrs.get("url")?.as_str()?.to_owned(), id.clone())))
        .filter(|(u, _)| u.contains('/'))
        .collect();
    let mut notes: HashMap<String, String> = made_by_aws
        .iter()
        .map(|f| (f.live.physical_id.clone(), f.kind.made_by_aws(&f.live).unwrap_or_default().to_owned()))
        .collect();

    let mut resources = Vec::new();
    let mut written: Vec<Props> = Vec::new();
    // What each kind's resources may name by value, computed once per kind.
    let mut held_by_kind: HashMap<&'static str, Held> = HashMap::new();
    for (f, id) in found.iter().zip(&ids) {
        let schema = f.kind.schema();
        let mut given = f.kind.imported_props(&f.live);
        // Secrets are never written (nor readable back); what the schema does not know is no
        // property of the stack.
        given.retain(|name, _| schema.props.iter().any(|p| p.name == name && !p.secret));
        let props = compared_props(f.kind, req.stack, id, &given);
        let mut min = minimal(f.kind, req.stack, id, &given);
        let mut refs = BTreeSet::new();
        let held = held_by_kind.entry(schema.name).or_insert_with(|| held(f.kind, &found, &ids));
        let names = Names { ids: &index, urls: &urls, held };
        let props_named: Vec<String> = min.keys().filter(|n| !FREE_TEXT.contains(&n.as_str())).cloned().collect();
        for name in props_named {
            if let Some(v) = min.get_mut(name.as_str()) {
                reference(v, id, &names, &mut refs);
            }
        }
        let mut attrs = f.live.attrs.clone();
        attrs.entry("id".into()).or_insert_with(|| Value::str(&f.live.physical_id));
        let tags: Tags =
            f.live.tags.iter().filter(|(k, _)| !k.starts_with("rprov:")).map(|(k, v)| (k.clone(), v.clone())).collect();
        resources.push(Imported {
            id: id.clone(),
            kind: schema.name,
            physical_id: f.live.physical_id.clone(),
            props,
            attrs,
            tags,
            depends_on: refs.into_iter().collect(),
        });
        written.push(min);
    }
    // What another resource changes while it runs (a service's desired count, set by its
    // scalable target) is no drift.
    let mut ignores: HashMap<String, Vec<&'static str>> = HashMap::new();
    for (f, props) in found.iter().zip(&written) {
        for (own, theirs) in f.kind.governs() {
            let target = props.get(*own).and_then(Value::as_str).and_then(|v| v.strip_prefix("${")?.split_once('.'));
            if let Some((target, _)) = target {
                ignores.entry(target.to_owned()).or_default().push(theirs);
            }
        }
    }
    for f in &found {
        // Its own id where it stays literal (a key pair's `name`) is no "not imported" literal.
        notes.entry(f.live.physical_id.clone()).or_default();
    }

    // Tags every taggable resource carries (but its `Name`) are the stack's.
    let taggable: Vec<&Imported> = resources
        .iter()
        .filter(|r| found.iter().any(|f| f.kind.schema().name == r.kind && f.kind.schema().taggable))
        .collect();
    let mut common: Tags = Tags::new();
    if taggable.len() > 1 {
        common = taggable[0].tags.clone();
        common.retain(|k, v| k != "Name" && taggable.iter().all(|r| r.tags.get(k) == Some(v)));
    }

    let order = dependency_order(&resources);
    let mut out = String::new();
    out.push_str(&format!(
        "# Generated by `rprov import {}` from what AWS has in {}: {} resource{}.\n",
        req.selection,
        req.region,
        resources.len(),
        if resources.len() == 1 { "" } else { "s" }
    ));
    out.push_str("# Properties equal to the kinds' defaults are left out; ids of imported resources are references.\n");
    out.push_str(&format!("stack: {}\nregion: {}\n", scalar(req.stack), scalar(req.region)));
    if !common.is_empty() {
        out.push_str("tags:\n");
        for (k, v) in common.iter() {
            out.push_str(&format!("  {}: {}\n", scalar(k), scalar(v)));
        }
    }
    out.push_str("resources:");
    out.push_str(if order.is_empty() { " {}\n" } else { "\n" });
    let note = |s: &str| -> Option<String> {
        if s.starts_with("${") && s.contains(".url}@sha256:") {
            return Some(
                "an image by digest: what it was built from is not in AWS, so no container_image is declared".into(),
            );
        }
        match notes.get(s) {
            Some(n) if !n.is_empty() => Some(format!("{n}, not imported")),
            Some(_) => None,
            None if looks_like_id(s) && !s.starts_with("ami-") => Some("not imported".into()),
            // An ARN of this account's (not AWS's own: `arn:aws:iam::aws:policy/...`).
            None if s.starts_with("arn:") && s.split(':').nth(4).is_some_and(|a| !a.is_empty() && a != "aws") => {
                Some("not imported".into())
            }
            None => None,
        }
    };
    for &i in &order {
        let (r, props, f) = (&resources[i], &written[i], &found[i]);
        let schema = f.kind.schema();
        out.push_str(&format!("  {}:\n    type: {}\n", r.id, r.kind));
        for p in schema.props {
            if let Some(v) = props.get(p.name) {
                entry(&mut out, 4, p.name, v, Some(&p.ty), &note);
            }
        }
        if schema.taggable {
            let own: Props = r
                .tags
                .iter()
                .filter(|(k, v)| common.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect();
            if !own.is_empty() {
                entry(&mut out, 4, "tags", &Value::Map(own), Some(&Ty::StrMap), &note);
            }
        }
        if let Some(props) = ignores.get(&r.id) {
            let names = props.iter().map(|p| Value::str(*p)).collect();
            entry(&mut out, 4, "ignore_drift", &Value::List(names), None, &note);
        }
    }
    if !made_by_aws.is_empty() {
        out.push_str(
            "\n# Made by AWS with the VPC and deleted with it, so not declared (what uses them stays as AWS has it):\n",
        );
        for f in &made_by_aws {
            out.push_str(&format!(
                "#   {} {}: {}\n",
                f.kind.schema().name,
                f.live.physical_id,
                f.kind.made_by_aws(&f.live).unwrap_or_default()
            ));
        }
    }
    if !skipped.is_empty() {
        out.push_str("\n# Seen but not imported:\n");
        let mut skipped = skipped.to_vec();
        skipped.sort();
        for s in &skipped {
            out.push_str(&format!("#   {} {}: {}\n", s.what, s.id, s.why));
        }
    }
    let resources = order.iter().map(|&i| resources[i].clone()).collect();
    Generated { text: out, resources, lineage }
}

/// Indexes of `resources`, each after those it refers to; otherwise in the given order.
fn dependency_order(resources: &[Imported]) -> Vec<usize> {
    let pos: HashMap<&str, usize> = resources.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let mut waiting: Vec<usize> =
        resources.iter().map(|r| r.depends_on.iter().filter(|d| pos.contains_key(d.as_str())).count()).collect();
    let mut done = vec![false; resources.len()];
    let mut out = Vec::new();
    while out.len() < resources.len() {
        // The first ready one; a cycle (not expected of live references) is broken in order.
        let next = (0..resources.len())
            .find(|&i| !done[i] && waiting[i] == 0)
            .or_else(|| (0..resources.len()).find(|&i| !done[i]))
            .unwrap_or_default();
        done[next] = true;
        out.push(next);
        for (i, r) in resources.iter().enumerate() {
            if r.depends_on.iter().any(|d| *d == resources[next].id) {
                waiting[i] = waiting[i].saturating_sub(1);
            }
        }
    }
    out
}

/// `key: value` at `indent`, in block style (so each literal can carry its comment); the fields
/// of an object in its schema's order.
fn entry(
    out: &mut String,
    indent: usize,
    key: &str,
    v: &Value,
    ty: Option<&Ty>,
    note: &dyn Fn(&str) -> Option<String>,
) {
    let pad = " ".repeat(indent);
    match v {
        Value::Map(m) if !m.is_empty() => {
            out.push_str(&format!("{pad}{}:\n", scalar(key)));
            map_entries(out, indent + 2, m, ty, note);
        }
        Value::List(items) if !items.is_empty() => {
            out.push_str(&format!("{pad}{}:\n", scalar(key)));
            let item_ty = match ty {
                Some(Ty::List(t)) => Some(*t),
                _ => None,
            };
            for item in items {
                list_item(out, indent + 2, item, item_ty, note);
            }
        }
        _ => {
            out.push_str(&format!("{pad}{}: {}", scalar(key), value_text(v)));
            end_line(out, v, note);
        }
    }
}

fn map_entries(out: &mut String, indent: usize, m: &Props, ty: Option<&Ty>, note: &dyn Fn(&str) -> Option<String>) {
    let fields: &[crate::schema::Prop] = match ty {
        Some(Ty::Obj(f)) => f,
        _ => &[],
    };
    let rank = |k: &str| fields.iter().position(|f| f.name == k).unwrap_or(usize::MAX);
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by_key(|k| (rank(k), k.as_str()));
    for k in keys {
        let field_ty = fields.iter().find(|f| f.name == k.as_str()).map(|f| &f.ty);
        entry(out, indent, k, &m[k.as_str()], field_ty, note);
    }
}

fn list_item(out: &mut String, indent: usize, v: &Value, ty: Option<&Ty>, note: &dyn Fn(&str) -> Option<String>) {
    let pad = " ".repeat(indent);
    match v {
        Value::Map(m) if !m.is_empty() => {
            // The item's first line starts with `- `, its other lines two spaces further in.
            let mut body = String::new();
            map_entries(&mut body, indent + 2, m, ty, note);
            out.push_str(&pad);
            out.push_str("- ");
            out.push_str(&body[indent + 2..]);
        }
        _ => {
            out.push_str(&format!("{pad}- {}", value_text(v)));
            end_line(out, v, note);
        }
    }
}

fn end_line(out: &mut String, v: &Value, note: &dyn Fn(&str) -> Option<String>) {
    if let Some(n) = v.as_str().and_then(note) {
        out.push_str(&format!("  # {n}"));
    }
    out.push('\n');
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null | Value::Unknown => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Num(n) => n.to_string(),
        Value::Str(s) => scalar(s),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
    }
}

/// A string as a YAML scalar: plain where YAML reads it back as the same string, else quoted.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./@+= ,()".contains(&b))
        && !s.ends_with(' ')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~" | ".inf" | ".nan"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with("0x")
        && !s.starts_with("0o");
    if plain {
        return s.to_owned();
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if c.is_control() => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests;
