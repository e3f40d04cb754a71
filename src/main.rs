use std::process::ExitCode;

fn main() -> ExitCode {
    rprov::cli::main()
}
