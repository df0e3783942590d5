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
                        .map_err(|e| vec![format!("{file}: cannot read: {e}")])
                } else {
                    lookup(file, &env).map_err(|e| vec![e.to_string()])
                };
                let errors = source.and_then(|s| {
                    // Every problem of the file itself first; then what resolving its
                    // parents finds (missing, cyclic or invalid parents).
                    let all = problems(&s);
                    if !all.is_empty() {
                        return Err(all);
                    }
                    resolve_source(s, &env)
                        .map(drop)
                        .map_err(|e| vec![e.to_string()])
                });
                match errors {
                    Ok(()) => println!("{file}: ok"),
                    Err(all) => {
                        for e in all {
                            eprintln!("sbx: {e}");
                        }
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

/// Every error of one file that can be found without its parents: the syntax error, or all
/// of its semantic problems.
fn problems(source: &Source) -> Vec<String> {
    let file = match super::parse(source) {
        Ok(f) => f,
        Err(e) => return vec![e.to_string()],
    };
    let name = source.display_name();
    let err = |s: &toml::Spanned<()>, message: String, hint: Option<String>| {
        let (line, col) = super::line_col(&source.text, s.span().start);
        super::PolicyError {
            file: name.clone(),
            line,
            col,
            message,
            hint,
        }
    };
    super::validate::all(&file, &err)
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}
