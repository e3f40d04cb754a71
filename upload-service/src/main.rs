use std::process::ExitCode;

use clap::Parser;
use upload_service::{Cli, healthcheck, init_tracing, run, tune_allocator};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.healthcheck {
        return if healthcheck(cli.listen) { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    if cli.hash_password {
        return match upload_service::password::hash_from_stdin() {
            Ok(hash) => {
                println!("{hash}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("upload-service: error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    tune_allocator();
    init_tracing(cli.log_format);
    let config = match cli.resolve() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("upload-service: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("upload-service: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
