//! The command line: clap types, settings resolved in one place, one file per command.

pub(crate) mod out;

mod apply;
mod common;
mod drift;
mod graph;
mod import;
mod imports;
mod output;
mod plan;
mod progress;
mod state;
mod teardown;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use out::{errln, out, outln};

use clap::{Args, Parser, Subcommand};

pub use common::{Failure, Settings};

#[derive(Parser, Debug)]
#[command(
    name = "rprov",
    version,
    about = "Declarative AWS stacks: validate, plan, apply, destroy",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// AWS region. A stack lives in its `region:`: a different --region is refused (AWS_REGION
    /// and the profile's region are ignored for it). `teardown` takes several.
    #[arg(long, global = true, action = clap::ArgAction::Append)]
    pub region: Vec<String>,
    /// AWS shared-config profile.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (a local emulator).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// State location: a file path or s3://BUCKET/KEY (a KEY ending in `/` is a prefix); wins
    /// over the stack file's `backend:` block (default `.rprov/<stack>.json`).
    #[arg(long, global = true, env = "RPROV_STATE")]
    pub state: Option<String>,
    /// Accept an S3 state bucket without versioning (no earlier state to roll back to).
    #[arg(long, global = true)]
    pub allow_unversioned: bool,
    /// Set a param: `--param name=value` (repeatable); also `RPROV_PARAM_name`.
    #[arg(long = "param", global = true, value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Params from a YAML or JSON file (`name: value`); `--param` and `RPROV_PARAM_*` win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub param_file: Option<PathBuf>,
    /// No colours in output (colour is used only on a terminal, and never when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More output (-v: debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and check a stack file; no AWS call.
    #[command(
        after_help = "Examples:\n  rprov validate stacks/network.yaml\n  rprov validate stack.yaml --param cidr=10.1.0.0/16"
    )]
    Validate { stack: PathBuf },
    /// Show what apply would change.
    #[command(
        after_help = "Examples:\n  rprov plan stack.yaml\n  rprov plan stack.yaml --out net.plan            # then: rprov apply net.plan\n  rprov plan stack.yaml --markdown plan.md        # a pull-request comment\n  rprov plan stack.yaml --json --detailed-exitcode"
    )]
    Plan {
        stack: PathBuf,
        /// Save the plan for `rprov apply FILE`.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Exit 2 when there are changes, 0 when none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also write the plan as Markdown for a pull-request comment (summary table, a
        /// collapsible section per resource, at most 65,536 characters).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
    /// Bring AWS to the stack's declared state (or run a saved plan).
    #[command(
        after_help = "Examples:\n  rprov apply stack.yaml                          # shows the plan, asks on a terminal\n  rprov apply net.plan                            # exactly the saved actions\n  rprov apply stack.yaml --yes --parallelism 8\n  rprov apply stack.yaml --refresh-only           # accept drift into the state"
    )]
    Apply {
        /// A stack file or a plan saved with `plan --out`.
        target: PathBuf,
        #[arg(long)]
        yes: bool,
        #[arg(long, default_value_t = 32)]
        parallelism: usize,
        /// Change nothing in AWS: accept the live values (drift) into the state.
        #[arg(long)]
        refresh_only: bool,
    },
    /// What changed in AWS behind rprov's back (exit 2 when anything did).
    #[command(
        after_help = "Examples:\n  rprov drift stack.yaml\n  rprov drift stack.yaml --json > drift.json\n  rprov drift stack.yaml --markdown \"$GITHUB_STEP_SUMMARY\""
    )]
    Drift {
        stack: PathBuf,
        #[arg(long)]
        json: bool,
        /// Also write a Markdown report (for a CI job summary).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
    /// Delete everything the stack's state records, dependents first.
    #[command(after_help = "Examples:\n  rprov destroy stack.yaml\n  rprov destroy stack.yaml --yes")]
    Destroy {
        stack: PathBuf,
        #[arg(long)]
        yes: bool,
        #[arg(long, default_value_t = 32)]
        parallelism: usize,
    },
    /// Delete everything carrying a stack's (or the given) tags, without state; without --yes a
    /// dry run that lists what would go. `--region` repeatable.
    #[command(
        after_help = "Examples:\n  rprov teardown --account 123456789012 --stack sandbox-42            # dry run\n  rprov teardown --account 123456789012 --stack sandbox-42 --yes\n  rprov teardown --account 123456789012 --tag env=sandbox --older-than 24h --yes --json"
    )]
    Teardown {
        /// The stack whose resources go (`rprov:stack=NAME`).
        #[arg(long)]
        stack: Option<String>,
        /// Only resources carrying this tag (repeatable; all must match).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// The AWS account teardown may delete in (repeatable: any of them); it refuses to run
        /// when the credentials are for another.
        #[arg(long = "account", value_name = "ID")]
        accounts: Vec<String>,
        /// Delete every deployment (lineage) of a stack name that matches; without it, a stack
        /// name matching several is refused (pick one with --tag rprov:lineage=LINEAGE).
        #[arg(long)]
        all_instances: bool,
        /// Only deployments created longer ago than this (e.g. 24h).
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        #[arg(long)]
        yes: bool,
        /// Print a JSON report (format_version 1) on stdout.
        #[arg(long)]
        json: bool,
        /// Every region the account has (EC2 DescribeRegions); `--region` then only picks
        /// where that list is asked for.
        #[arg(long)]
        all_regions: bool,
        #[arg(long, default_value_t = 32)]
        parallelism: usize,
    },
    /// Write a stack file declaring resources that exist in AWS (made by hand or another tool):
    /// references instead of ids, defaults left out. Reads AWS, never changes it.
    #[command(
        after_help = "Examples:\n  rprov import --vpc vpc-0abc1234 --stack portal-net --out portal-net.yaml\n  rprov import --vpc vpc-0abc1234 --stack portal-net --out portal-net.yaml --adopt   # then: rprov apply portal-net.yaml\n  rprov import --tag team=portal --stack portal\n  rprov import --id subnet:subnet-0abc1234 --id security_group:sg-0def5678"
    )]
    Import {
        /// A VPC and what is in or attached to it: subnets, gateways, route tables, network ACLs,
        /// security groups, endpoints, instances with their Elastic IPs and key pairs, load
        /// balancers with their target groups and listeners, file systems with their mount
        /// targets and access points, ECS services with their clusters and task definitions.
        #[arg(long, value_name = "VPC_ID")]
        vpc: Option<String>,
        /// Everything carrying this tag (repeatable: all must match), found by the Tagging API.
        /// `rprov:stack=NAME` finds a whole stack whose state was lost, as `teardown` does
        /// (resources without tags with their owner), and adopts it back into its deployment.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// One resource (repeatable), e.g. `subnet:subnet-0abc1234`.
        #[arg(long = "id", value_name = "KIND:ID")]
        ids: Vec<String>,
        /// The generated stack's name.
        #[arg(long, default_value = "imported")]
        stack: String,
        /// Write the stack file here (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the stack's state, recording what was imported as it is: the first apply of
        /// the generated file then only adds rprov's ownership tags.
        #[arg(long)]
        adopt: bool,
    },
    /// Print the stack's outputs from its state.
    #[command(
        after_help = "Examples:\n  rprov output stack.yaml\n  rprov output stack.yaml url\n  rprov output stack.yaml --json"
    )]
    Output {
        stack: PathBuf,
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the dependency graph.
    #[command(
        after_help = "Examples:\n  rprov graph stack.yaml | dot -Tsvg > graph.svg\n  rprov graph stack.yaml --format mermaid"
    )]
    Graph {
        stack: PathBuf,
        #[arg(long, value_enum, default_value = "dot")]
        format: graph::Format,
    },
    /// Remove a state lock left by a run that is gone.
    #[command(
        after_help = "Examples:\n  rprov force-unlock 3f2c... --state s3://acme-rprov-state/envs/network.json\n  rprov force-unlock 3f2c... --stack stack.yaml"
    )]
    ForceUnlock {
        lock_id: String,
        /// The stack whose lock it is (default: the `--state` location, else every local state lock).
        #[arg(long)]
        stack: Option<PathBuf>,
        /// Remove an unreadable lock (`LOCK_ID` `unknown`) without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Print the JSON Schema of stack files (for editors).
    #[command(after_help = "Examples:\n  rprov schema > schema/stack.schema.json")]
    Schema,
    /// Describe a resource kind: properties, types, defaults, replacement, attributes.
    #[command(after_help = "Examples:\n  rprov explain task_definition\n  rprov explain security_group")]
    Explain { kind: String },
    /// Print a shell completion script: `rprov completions bash > /etc/bash_completion.d/rprov`.
    #[command(
        after_help = "Examples:\n  rprov completions bash > ~/.local/share/bash-completion/completions/rprov\n  rprov completions zsh > \"${fpath[1]}/_rprov\"\n  rprov completions fish > ~/.config/fish/completions/rprov.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Inspect state.
    #[command(
        after_help = "Examples:\n  rprov state show stack.yaml\n  rprov state list-versions stack.yaml\n  rprov state pull stack.yaml --version VERSION_ID\n  rprov state migrate stack.yaml --to s3://acme-rprov-state/envs/"
    )]
    State {
        #[command(subcommand)]
        command: state::StateCommand,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let filter = match cli.global.verbose {
        0 => "warn",
        1 => "rprov=debug,info",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let settings = Settings::from_global(&cli.global);
    let result = rt.block_on(run(cli.command, settings));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            f.print(cli.global.verbose > 0);
            ExitCode::from(1)
        }
    }
}

async fn run(cmd: Command, s: Settings) -> Result<u8, Failure> {
    match cmd {
        Command::Validate { stack } => validate::run(&s, &stack).await,
        Command::Plan { stack, out, json, detailed_exitcode, markdown } => {
            let args = plan::Args { out: out.as_deref(), json, markdown: markdown.as_deref(), detailed_exitcode };
            plan::run(&s, &stack, args).await
        }
        Command::Apply { target, yes, parallelism, refresh_only: false } => {
            apply::run(&s, &target, yes, parallelism).await
        }
        Command::Apply { target, yes, refresh_only: true, .. } => apply::refresh_only(&s, &target, yes).await,
        Command::Drift { stack, json, markdown } => drift::run(&s, &stack, json, markdown.as_deref()).await,
        Command::Destroy { stack, yes, parallelism } => apply::destroy(&s, &stack, yes, parallelism).await,
        Command::Teardown { stack, tags, accounts, all_instances, older_than, yes, json, all_regions, parallelism } => {
            let args = teardown::Args {
                stack,
                tags,
                accounts,
                all_instances,
                older_than,
                yes,
                json,
                all_regions,
                parallelism,
            };
            teardown::run(&s, args).await
        }
        Command::Import { vpc, tags, ids, stack, out, adopt } => {
            import::run(&s, import::Args { vpc, tags, ids, stack, out, adopt }).await
        }
        Command::Output { stack, name, json } => output::run(&s, &stack, name.as_deref(), json).await,
        Command::Graph { stack, format } => graph::run(&s, &stack, format).await,
        Command::ForceUnlock { lock_id, stack, yes } => state::force_unlock(&s, &lock_id, stack.as_deref(), yes).await,
        Command::State { command } => state::run(&s, command).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "rprov", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            Ok(0)
        }
        Command::Schema => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&crate::docs::json_schema(&crate::kinds::KINDS)).unwrap_or_default()
            );
            Ok(0)
        }
        Command::Explain { kind } => match crate::kinds::kind(&kind) {
            Some(k) => {
                out!("{}", crate::docs::explain(k));
                Ok(0)
            }
            None => Err(Failure::User(format!(
                "unknown kind `{kind}`; kinds: {}",
                crate::spec::Catalog::names(&crate::kinds::KINDS).join(", ")
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_subcommand_shows_examples() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            let help = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.starts_with("Examples:\n  rprov "), "`rprov {} --help` has no examples", sub.get_name());
            for line in help.lines().skip(1) {
                assert!(line.starts_with(&format!("  rprov {}", sub.get_name())), "{line}");
            }
        }
    }

    #[test]
    fn completions_for_three_shells() {
        for (shell, marker) in [
            (clap_complete::Shell::Bash, "complete -F _rprov"),
            (clap_complete::Shell::Zsh, "#compdef rprov"),
            (clap_complete::Shell::Fish, "complete -c rprov"),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rprov", &mut script);
            let script = String::from_utf8(script).unwrap();
            assert!(script.contains(marker), "{shell}: {script}");
            for sub in ["validate", "plan", "drift", "teardown", "completions"] {
                assert!(script.contains(sub), "{shell} completes no `{sub}`");
            }
            assert!(script.contains("markdown"), "{shell} completes no --markdown");
        }
    }
}
