//! The `sbx` binary: parse the command line, run the sandbox (or a subcommand), exit with its
//! status.
#![forbid(unsafe_code)]

use clap::FromArgMatches;
use sbx::cli::{Cli, Subcommand};
use sbx::error::{Error, EXIT_SBX_FAILURE};
use sbx::plan::{Caller, Plan};

fn main() {
    // Installed as `unshare` or `nsenter`, or called as `sbx unshare ...`: the compatibility
    // tools, dispatched before the sandbox's own command line is parsed.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.is_empty() {
        // execve(2) with an empty argv: there is no program name to dispatch on.
        eprintln!("sbx: started without arguments (not even a program name); run it as `sbx ...`");
        std::process::exit(EXIT_SBX_FAILURE);
    }
    let argv0 = std::path::Path::new(&args[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tool = match argv0.as_str() {
        "unshare" | "nsenter" => Some((argv0.clone(), args.split_off(1))),
        _ => match args.get(1).and_then(|a| a.to_str()) {
            Some(t @ ("unshare" | "nsenter")) => {
                let name = format!("sbx {t}");
                Some((name, args.split_off(2)))
            }
            _ => None,
        },
    };
    if let Some((name, rest)) = tool {
        let code = if name.ends_with("unshare") {
            sbx::compat::unshare::main(&name, rest)
        } else {
            sbx::compat::nsenter::main(&name, rest)
        };
        std::process::exit(code);
    }
    // `sbx -- COMMAND...` takes no option: plan it without building the parser.
    if args.len() > 2 && args[1] == "--" {
        let caller = Caller::current();
        let code = Plan::for_command(args.split_off(2), &caller)
            .and_then(|plan| sbx::run::run(&plan))
            .unwrap_or_else(|e: Error| sbx::run::report(&e));
        std::process::exit(code);
    }
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
        Some(Subcommand::Ns { pid }) => sbx::compat::ns::main(pid),
        Some(Subcommand::Ps) => {
            let xdg = std::env::var("XDG_RUNTIME_DIR").ok();
            match sbx::registry::runtime_dir(caller.uid, xdg.as_deref()) {
                Ok(dir) => sbx::registry::ps(&dir),
                Err(e) => sbx::run::report(&e),
            }
        }
        Some(Subcommand::Enter { target, command }) => {
            let xdg = std::env::var("XDG_RUNTIME_DIR").ok();
            sbx::enter::enter(&target, command, caller.uid, xdg.as_deref())
                .unwrap_or_else(|e| sbx::run::report(&e))
        }
        // Dispatched above, before parsing.
        Some(Subcommand::Unshare { .. } | Subcommand::Nsenter { .. }) => EXIT_SBX_FAILURE,
        None => Plan::from_matches(&matches, &caller)
            .and_then(|plan| sbx::run::run(&plan))
            .unwrap_or_else(|e: Error| sbx::run::report(&e)),
    };
    std::process::exit(code);
}
