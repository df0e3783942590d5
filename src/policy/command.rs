//! `sbx policy list | show NAME | check FILE...`.

use crate::cli::PolicyCommand;
use crate::error::EXIT_SBX_FAILURE;
use crate::plan::Caller;

use super::{list, lookup, resolve, resolve_source, show, Location, Source};

/// Runs a policy subcommand and returns its exit status.
pub fn run(cmd: PolicyCommand, caller: &Caller) -> i32 {
    let env = |k: &str| caller.var(k).map(|v| v.to_string_lossy().into_owned());
    match cmd {
        PolicyCommand::List => {
            let rows = list(&env);
            let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            let where_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
            for (name, place, description) in rows {
                println!("{name:<width$}  {place:<where_width$}  {description}");
            }
            0
        }
        PolicyCommand::Show { name } => match resolve(&name, &env) {
            Ok(policy) => {
                print!("{}", show::render(&policy));
                0
            }
            Err(e) => {
                eprintln!("sbx: {e}");
                EXIT_SBX_FAILURE
            }
        },
        PolicyCommand::Check { files } => {
            let mut failed = 0;
            for file in &files {
                // A bare name is checked as the policy it names; anything else is a file.
                let source = if file.contains('/') || file.ends_with(".toml") {
                    std::fs::read_to_string(file)
                        .map(|text| Source {
                            name: file.clone(),
                            location: Location::File(file.into()),
                            text,
                        })
                        .map_err(|e| format!("{file}: cannot read: {e}"))
                } else {
                    lookup(file, &env).map_err(|e| e.to_string())
                };
                let result =
                    source.and_then(|s| resolve_source(s, &env).map_err(|e| e.to_string()));
                match result {
                    Ok(_) => println!("{file}: ok"),
                    Err(e) => {
                        eprintln!("sbx: {e}");
                        failed += 1;
                    }
                }
            }
            if failed > 0 {
                EXIT_SBX_FAILURE
            } else {
                0
            }
        }
    }
}
