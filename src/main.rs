//! The `sbx` binary: parse the command line, run the sandbox (or a subcommand), exit with its
//! status.
#![forbid(unsafe_code)]

use clap::FromArgMatches;
use sbx::cli::{Cli, Subcommand};
use sbx::error::{Error, EXIT_SBX_FAILURE};
use sbx::plan::{Caller, Plan};

fn main() {
    let matches = match sbx::cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_SBX_FAILURE,
            };
            if code == 0 {
                let _ = e.print();
            } else {
                // clap's own text starts with "error: "; sbx's errors all start with "sbx: ".
                let text = e.render().to_string();
                eprint!("sbx: {}", text.strip_prefix("error: ").unwrap_or(&text));
            }
            std::process::exit(code);
        }
    };
    let caller = Caller::current();
    let subcommand = Cli::from_arg_matches(&matches)
        .ok()
        .and_then(|c| c.subcommand);
    let code = match subcommand {
        Some(Subcommand::Policy(cmd)) => sbx::policy::command::run(cmd, &caller),
        None => Plan::from_matches(&matches, &caller)
            .and_then(|plan| sbx::run::run(&plan))
            .unwrap_or_else(|e: Error| sbx::run::report(&e)),
    };
    std::process::exit(code);
}
