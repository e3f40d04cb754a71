//! `rprov teardown`: delete everything carrying a stack's (or the given) tags, without a state
//! file. Discovery is the Resource Groups Tagging API plus each kind's own batched describe (the
//! Tagging API misses some types and lists deleted ones for a while); selection, order and the
//! report are in `crate::teardown`; deletion is the executor's, as for `destroy`.
//!
//! Bound to accounts named on the command line (`--account`): the credentials' account is
//! checked right after STS answers, before any other call.

use super::out::{err, errln, outln};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;

use super::apply::{cancel_on_ctrl_c, print_retries};
use super::common::{Failure, Settings, backend, caller};
use super::progress::printer;
use crate::apply::{ApplyConfig, Event, execute};
use crate::aws::{AwsError, AwsSettings, Cx, WaitConfig, classify, load_sdk_config};
use crate::kinds::{self, TAG_ID, TAG_STACK};
use crate::store::Unrecorded;
use crate::store::update_locked;
use crate::teardown::{self, Entry, Found, Report, TagFilter, Tagged};

pub struct Args {
    pub stack: Option<String>,
    pub tags: Vec<String>,
    /// `--account`: the accounts teardown may delete in.
    pub accounts: Vec<String>,
    /// `--all-instances`: take every deployment of a stack name, not only when there is one.
    pub all_instances: bool,
    pub older_than: Option<String>,
    pub yes: bool,
    pub json: bool,
    pub all_regions: bool,
    pub parallelism: usize,
}

pub async fn run(s: &Settings, a: Args) -> Result<u8, Failure> {
    let started = Instant::now();
    let mut filters = Vec::new();
    if let Some(name) = &a.stack {
        if name.trim().is_empty() {
            return Err(Failure::User("--stack: the stack name is empty".into()));
        }
        filters.push(TagFilter::stack(name));
    }
    for t in &a.tags {
        filters.push(t.parse::<TagFilter>().map_err(|e| Failure::User(format!("--tag {e}")))?);
    }
    if filters.is_empty() {
        return Err(Failure::User(
            "teardown needs --stack NAME or at least one --tag KEY=VALUE; it never deletes without a tag filter".into(),
        ));
    }
    let older_than = match &a.older_than {
        Some(d) => Some(
            humantime::parse_duration(d)
                .map_err(|e| Failure::User(format!("--older-than `{d}`: {e} (expected e.g. 24h, 90m, 7days)")))?,
        ),
        None => None,
    };
    let allowed = allowed_accounts(&a.accounts)?;

    let base = load_sdk_config(&s.aws, &default_region(s).await?).await;
    let (account, arn) = caller(&base).await?;
    if !allowed.contains(&account) {
        return Err(Failure::User(format!(
            "the credentials are for account {account} ({arn}), but --account allows only {}; nothing was read or deleted.\n  Use credentials for {}, or pass --account {account} if that is the account to tear down in",
            allowed.join(", "),
            if allowed.len() == 1 { "that account" } else { "one of them" }
        )));
    }
    let regions = regions(s, &base, a.all_regions).await?;
    let mut report = Report {
        format_version: teardown::FORMAT_VERSION,
        account: Some(account.clone()),
        allowed_accounts: allowed,
        regions: regions.clone(),
        filters: filters.clone(),
        older_than: a.older_than.clone(),
        dry_run: !a.yes,
        ..Report::default()
    };
    let say = |line: String| {
        if a.json {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    };
    say(format!("Account {account}, region{} {}", if regions.len() == 1 { "" } else { "s" }, regions.join(", ")));

    // Discovery: every region at once, every kind of every stack at once within a region.
    let mut found: Vec<Found> = Vec::new();
    let mut tagged: Vec<Tagged> = Vec::new();
    let mut sdks: BTreeMap<String, SdkConfig> = BTreeMap::new();
    let per_region = regions.iter().map(|r| discover(s, r, &filters, a.stack.as_deref()));
    for result in futures_util::future::join_all(per_region).await {
        let (region, sdk, f, t) = result?;
        found.extend(f);
        tagged.extend(t);
        sdks.insert(region, sdk);
    }
    // Global services (IAM, Route 53) answer the same in every region: keep one of each.
    let mut seen = BTreeSet::new();
    found.retain(|f| seen.insert((f.kind, f.live.physical_id.clone())));

    let now = SystemTime::now();
    let owners = teardown::settle_owners(&kinds::KINDS, &mut found);
    let before = teardown::order(&kinds::KINDS, &found, &owners);
    let selection = teardown::select(&kinds::KINDS, &found, &owners, &before, &filters, older_than, now);
    let keys = teardown::keys(&found);
    let waves = teardown::waves(&before, &selection.delete);
    let (gone, foreign) = teardown::tagged_only(&kinds::KINDS, &found, &tagged);
    report.order = waves.iter().map(|w| w.iter().map(|&i| keys[i].clone()).collect()).collect();
    report.planned = selection.delete.iter().map(|&i| Entry::of(&found[i], &keys[i], now)).collect();
    report.skipped =
        selection.skipped.iter().map(|(i, why)| Entry::of(&found[*i], &keys[*i], now).because(why)).collect();
    report.skipped.extend(foreign.into_iter().map(|(i, why)| Entry::tagged(&kinds::KINDS, &tagged[i], why)));
    report.ignored = gone.into_iter().map(|(i, why)| Entry::tagged(&kinds::KINDS, &tagged[i], why)).collect();
    report.not_matched =
        selection.unmatched.iter().map(|(i, why)| Entry::of(&found[*i], &keys[*i], now).because(why)).collect();
    report.instances = selection.instances.clone();
    // One stack name, several deployments: by name alone it cannot be told which is meant.
    if !a.all_instances {
        report.refused = teardown::several_instances(&report.instances);
    }

    if !a.json {
        print_found(&report);
    }
    if let Some(why) = report.refused.clone() {
        report.dry_run = true;
        if a.json {
            finish(report, started, true, false)?;
        }
        return Err(Failure::User(why));
    }
    let mut proceed = a.yes;
    if !a.yes && !report.planned.is_empty() && !a.json && s.tty && std::io::stdin().is_terminal() {
        proceed = ask(&account, report.planned.len())?;
    }
    if !proceed || report.planned.is_empty() {
        if !proceed && !report.planned.is_empty() {
            say(format!(
                "Dry run: nothing was deleted. Run again with --yes to delete these {} resource(s).",
                report.planned.len()
            ));
        }
        report.dry_run = !proceed;
        return finish(report, started, a.json, proceed);
    }
    report.dry_run = false;

    say(format!("Deleting {} resource(s) in account {account}, {}.", report.planned.len(), regions.join(", ")));
    let index: BTreeMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let mut deleted_pids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut planned = std::mem::take(&mut report.planned);
    for (region, sdk) in &sdks {
        let mine: Vec<usize> = selection.delete.iter().copied().filter(|&i| &found[i].region == region).collect();
        if mine.is_empty() {
            continue;
        }
        let (plan, state) = teardown::executor_input(&found, &before, &mine, &keys);
        let p = printer(s.color && !a.json, s.tty && !a.json);
        let progress = if a.json { stderr_progress() } else { p.progress.clone() };
        let status = progress.clone();
        let cx = Cx::new("teardown", sdk.clone(), WaitConfig::default())
            .purging()
            .with_status(Arc::new(move |id: &str, msg: &str| status(Event::Status { id, message: msg })));
        let cfg = ApplyConfig { parallelism: a.parallelism.max(1), ..ApplyConfig::default() };
        let backend = Arc::new(Unrecorded::default());
        let stack = teardown::empty_stack(&kinds::KINDS, region);
        let (_, outcome) =
            execute(Arc::new(cx), &stack, &plan, state, backend, cfg, progress, cancel_on_ctrl_c()).await?;
        if !a.json {
            print_retries(&outcome);
        }
        report.retries += outcome.retries;
        let done: BTreeSet<&str> = outcome.done.iter().map(|(k, _)| k.as_str()).collect();
        let failed: BTreeMap<&str, &str> = outcome.failed.iter().map(|(k, e)| (k.as_str(), e.as_str())).collect();
        for entry in planned.iter_mut().filter(|e| &e.region == region) {
            entry.retries = outcome.retried.get(&entry.key).map_or(0, |r| r.0);
            let e = entry.clone();
            if done.contains(entry.key.as_str()) {
                if let Some(&i) = index.get(entry.key.as_str()) {
                    deleted_pids.entry(found[i].stack.clone()).or_default().insert(e.physical_id.clone());
                }
                report.deleted.push(e);
            } else if let Some(err) = failed.get(entry.key.as_str()) {
                report.failed.push(e.because(*err));
            } else if outcome.interrupted {
                report.skipped.push(e.because("interrupted before it started"));
            } else {
                report.skipped.push(e.because("not attempted: a resource using it could not be deleted"));
            }
        }
    }
    report.planned = planned;
    forget_in_local_state(s, &deleted_pids, &say).await;
    finish(report, started, a.json, true)
}

fn finish(mut report: Report, started: Instant, json: bool, acted: bool) -> Result<u8, Failure> {
    report.wall_time_s = started.elapsed().as_secs_f64();
    if json {
        outln!("{}", serde_json::to_string_pretty(&report).map_err(|e| Failure::Unexpected(e.into()))?);
    } else if acted {
        outln!(
            "\nTeardown: {} deleted, {} kept, {} failed, {} retried call(s), in {:.1}s.",
            report.deleted.len(),
            report.skipped.len(),
            report.failed.len(),
            report.retries,
            report.wall_time_s
        );
        for e in &report.failed {
            outln!("  failed {} {}: {}", e.key, e.physical_id, e.reason.as_deref().unwrap_or_default());
        }
    }
    // A dry run lists; whatever it found, it did what was asked.
    if report.dry_run || report.complete() { Ok(0) } else { Ok(1) }
}

pub(super) async fn default_region(s: &Settings) -> Result<String, Failure> {
    if let Some(r) = s.regions.first() {
        return Ok(r.clone());
    }
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(p) = &s.aws.profile {
        chain = chain.profile_name(p);
    }
    match chain.build().region().await {
        Some(r) => Ok(r.to_string()),
        None => {
            Err(Failure::User("no AWS region: pass --region (repeatable) or --all-regions, or set AWS_REGION".into()))
        }
    }
}

/// `--account`, checked before any AWS call: at least one, each an account id (12 digits).
fn allowed_accounts(given: &[String]) -> Result<Vec<String>, Failure> {
    if given.is_empty() {
        return Err(Failure::User(
            "teardown needs --account ID (repeatable): the AWS account(s) it may delete in. The credentials' account is checked against them before anything is read, so credentials for another account delete nothing".into(),
        ));
    }
    let mut out = Vec::new();
    for a in given {
        let id = a.trim();
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::User(format!("--account `{a}`: an AWS account id is 12 digits")));
        }
        out.push(id.to_owned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn regions(s: &Settings, base: &SdkConfig, all: bool) -> Result<Vec<String>, Failure> {
    if !all {
        let mut r = s.regions.clone();
        if r.is_empty() {
            r.push(base.region().map(|r| r.to_string()).unwrap_or_default());
        }
        r.sort();
        r.dedup();
        return Ok(r);
    }
    let out = aws_sdk_ec2::Client::new(base)
        .describe_regions()
        .send()
        .await
        .map_err(|e| Failure::User(format!("AWS: listing regions: {}", classify(e))))?;
    let mut r: Vec<String> = out.regions().iter().filter_map(|r| r.region_name()).map(str::to_owned).collect();
    r.sort();
    Ok(r)
}

type Discovered = (String, SdkConfig, Vec<Found>, Vec<Tagged>);

/// One region: the stacks named by `--stack`, or else by the `rprov:stack` tag of what the
/// Tagging API lists with the filters; then, for each stack, every kind's describe and the
/// Tagging API's list of the stack's resources (one call per stack), whose tags complete those
/// of resources whose describe reports none (log groups, alarms, SSM parameters). Returns what
/// was found and what the Tagging API lists with the whole filter.
async fn discover(
    s: &Settings,
    region: &str,
    filters: &[TagFilter],
    stack: Option<&str>,
) -> Result<Discovered, Failure> {
    let settings = AwsSettings { region: Some(region.to_owned()), ..s.aws.clone() };
    let sdk = load_sdk_config(&settings, region).await;
    let failed = |e: AwsError| Failure::User(format!("AWS: Tagging API in {region}: {e}"));
    let mut stacks: BTreeSet<String> = filters.iter().filter(|f| f.key == TAG_STACK).map(|f| f.value.clone()).collect();
    let mut listed = None;
    if stack.is_none() {
        // The stacks the other tags select: those of which the Tagging API lists a resource. (A
        // stack made only of types it does not list, e.g. Elastic IPs or IAM roles, is found by
        // `--stack` or a `rprov:stack` filter only.)
        let by_filter: Vec<(&str, Option<&str>)> =
            filters.iter().map(|f| (f.key.as_str(), Some(f.value.as_str()))).collect();
        let l = tagging_api(&sdk, region, &by_filter).await.map_err(failed)?;
        stacks.extend(l.iter().filter_map(|t| t.tags.get(TAG_STACK).cloned()));
        listed = Some(l);
    }
    let per_stack = stacks.iter().map(|st| stack_found(&sdk, region, st));
    let mut index: Vec<Tagged> = Vec::new();
    let mut found = Vec::new();
    for result in futures_util::future::join_all(per_stack).await {
        let (f, t) = result?;
        found.extend(f);
        index.extend(t);
    }
    let tagged = listed.unwrap_or_else(|| {
        index.into_iter().filter(|t| filters.iter().all(|f| t.tags.get(&f.key) == Some(&f.value))).collect()
    });
    Ok((region.to_owned(), sdk, found, tagged))
}

/// What one stack has in one region: every kind's describe, the stack's resources kept
/// ([`kinds::read_owned`]), their tags completed from the Tagging API's list of the stack's
/// resources (one call), which is returned too. Shared with `rprov import --tag rprov:stack=`.
pub(super) async fn stack_found(
    sdk: &SdkConfig,
    region: &str,
    stack: &str,
) -> Result<(Vec<Found>, Vec<Tagged>), Failure> {
    let failed = |e: AwsError| Failure::User(format!("AWS: Tagging API in {region}: {e}"));
    // Reads several kinds need (IAM's authorization details, ECS clusters, EFS file systems)
    // made once; tags always from the services themselves.
    let scope = crate::aws::RefreshScope::shared_reads();
    let cx = Cx::new(stack, sdk.clone(), WaitConfig::default()).for_refresh(scope);
    let cx = &cx;
    let reads =
        kinds::KINDS.all().iter().map(|k| async move { (k.schema().name, kinds::read_owned(*k, cx, &[]).await) });
    let (index, reads) = futures_util::future::join(
        tagging_api(sdk, region, &[(TAG_STACK, Some(stack))]),
        futures_util::future::join_all(reads),
    )
    .await;
    let index = index.map_err(failed)?;
    let mut found = Vec::new();
    for (kind, result) in reads {
        let lives = result.map_err(|e| Failure::User(format!("reading {kind} resources in {region}: {e}")))?;
        for live in lives {
            let mut f = Found { region: region.to_owned(), stack: stack.to_owned(), kind, live };
            teardown::complete_tags(&kinds::KINDS, &mut f, &index);
            // Another stack's (a name prefix two stack names share): found for that stack, if
            // it is torn down.
            if f.live.stack().is_some_and(|st| st != stack) {
                continue;
            }
            found.push(f);
        }
    }
    Ok((found, index))
}

/// GetResources, paginated: resources carrying every `(key, value)` (any value where `None`).
async fn tagging_api(sdk: &SdkConfig, region: &str, filters: &[(&str, Option<&str>)]) -> Result<Vec<Tagged>, AwsError> {
    use aws_sdk_resourcegroupstagging::types::TagFilter as Filter;
    let mut req = aws_sdk_resourcegroupstagging::Client::new(sdk).get_resources();
    for (key, value) in filters {
        req = req.tag_filters(Filter::builder().key(*key).set_values(value.map(|v| vec![v.to_owned()])).build());
    }
    let items = crate::aws::all_items(req.into_paginator().items().send()).await?;
    Ok(items
        .into_iter()
        .filter_map(|m| {
            let tags = m.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
            Some(Tagged { region: region.to_owned(), arn: m.resource_arn()?.to_owned(), tags })
        })
        .collect())
}

fn print_found(r: &Report) {
    let row = |e: &Entry| {
        let name = match (&e.name, &e.id) {
            (Some(n), Some(id)) if n != id => format!("{n} ({id})"),
            (Some(n), _) => n.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => "-".into(),
        };
        let tags: Vec<String> =
            e.tags.iter().filter(|(k, _)| *k != TAG_ID && *k != TAG_STACK).map(|(k, v)| format!("{k}={v}")).collect();
        let age = e.age_s.map_or("?".into(), |s| humantime::format_duration(Duration::from_secs(s)).to_string());
        format!(
            "  {:<16} {:<48} {:<32} {:<10} {}={} {}",
            e.kind.as_deref().unwrap_or("?"),
            e.physical_id,
            name,
            age,
            TAG_STACK,
            e.stack.as_deref().unwrap_or("-"),
            tags.join(",")
        )
    };
    if !r.instances.is_empty() {
        outln!("\nInstances (deployments) matched:");
        outln!("  {:<24} {:<38} {:<16} {:>9}  OLDEST", "STACK", "LINEAGE", "REGION", "RESOURCES");
        for i in &r.instances {
            outln!(
                "  {:<24} {:<38} {:<16} {:>9}  {}",
                i.stack,
                i.lineage_label(),
                i.region,
                i.resources,
                i.oldest.as_deref().unwrap_or("?")
            );
        }
    }
    match r.refused {
        None => outln!("\n{} resource(s) to delete:", r.planned.len()),
        Some(_) => outln!("\n{} resource(s) matched; none will be deleted (see below):", r.planned.len()),
    }
    if !r.planned.is_empty() {
        outln!("  {:<16} {:<48} {:<32} {:<10} TAGS", "TYPE", "PHYSICAL ID", "NAME (ID)", "AGE");
    }
    for e in &r.planned {
        outln!("{}", row(e));
    }
    if !r.order.is_empty() {
        outln!("\nOrder (each step needs only the steps above it gone; within a step, in parallel):");
        for (n, wave) in r.order.iter().enumerate() {
            outln!("  {}. {}", n + 1, wave.join(", "));
        }
    }
    if !r.skipped.is_empty() {
        outln!("\n{} kept:", r.skipped.len());
        for e in &r.skipped {
            outln!("{}\n      why: {}", row(e), e.reason.as_deref().unwrap_or_default());
        }
    }
    if !r.not_matched.is_empty() {
        outln!("\n{} found with the stack(s) but not matching the filter, kept:", r.not_matched.len());
        for e in &r.not_matched {
            outln!("{}\n      why: {}", row(e), e.reason.as_deref().unwrap_or_default());
        }
    }
    if !r.ignored.is_empty() {
        outln!(
            "\n{} listed by the Tagging API only (already gone, or part of a resource above and deleted with it):",
            r.ignored.len()
        );
        for e in &r.ignored {
            outln!("  {}", e.physical_id);
        }
    }
    outln!();
}

/// On a terminal, after the dry run. (The account was settled by `--account` before anything
/// was read; this only confirms the list.)
fn ask(account: &str, n: usize) -> Result<bool, Failure> {
    err!("Delete these {n} resource(s) in account {account}? Only 'yes' will be accepted, anything else stops: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Failure::Unexpected(e.into()))?;
    Ok(answer.trim() == "yes")
}

/// Progress lines on stderr, for `--json` (stdout carries the report only).
fn stderr_progress() -> crate::apply::Progress {
    Arc::new(|e: Event<'_>| match e {
        Event::Started { id, step } => errln!("{id}: {}...", step.verb()),
        Event::Status { id, message } => errln!("{id}: {message}"),
        Event::Retrying { id, step, error, after } => {
            errln!("{id}: {} will retry in {:.1}s: {error}", step.verb(), after.as_secs_f64())
        }
        Event::Done { id, physical_id, .. } => errln!("{id}: deleted {}", physical_id.unwrap_or_default()),
        Event::Failed { id, step, error } => errln!("{id}: {} failed: {error}", step.verb()),
        Event::Skipped { id, because } => errln!("{id}: skipped because `{because}` failed"),
        Event::Interrupted { in_flight } => errln!("interrupted: waiting for {in_flight} operation(s) in flight"),
    })
}

/// A state file of a torn-down stack still lists what teardown deleted: those entries go, so a
/// later `plan` or `destroy` does not look for them.
async fn forget_in_local_state(s: &Settings, deleted: &BTreeMap<String, BTreeSet<String>>, say: &impl Fn(String)) {
    // `--state PATH` names one file: only meaningful when one stack was torn down.
    if s.state.is_some() && deleted.len() != 1 {
        return;
    }
    for (stack, pids) in deleted {
        let Ok(b) = backend(s, stack) else { continue };
        // Read without the lock first: most states name none of what was deleted.
        let Ok(Some(state)) = b.read().await else { continue };
        if !state.resources.values().any(|r| pids.contains(&r.physical_id)) {
            continue;
        }
        let mut removed = 0;
        let updated = update_locked(b.as_ref(), "teardown", |state| {
            let before = state.resources.len();
            state.resources.retain(|_, r| !pids.contains(&r.physical_id));
            removed = before - state.resources.len();
            if state.resources.is_empty() {
                state.outputs.clear();
            }
            removed > 0
        })
        .await;
        match updated {
            Ok(true) => say(format!("state {}: removed {removed} deleted resource(s)", b.describe())),
            Ok(false) => {}
            Err(e) => say(format!("state {}: not updated ({e}); it names resources teardown deleted", b.describe())),
        }
    }
}
