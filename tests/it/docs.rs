//! The man page and shell completions are generated from the clap definition and committed;
//! these tests fail when they are stale. `SBX_UPDATE_DOCS=1 cargo test --test it docs` rewrites
//! them.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap_complete::Shell;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(sbx::cli::command())
        .render(&mut out)
        .unwrap();
    out
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut sbx::cli::command(), "sbx", &mut out);
    out
}

fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    vec![
        (root().join("man/sbx.1"), man_page()),
        (root().join("completions/sbx.bash"), completion(Shell::Bash)),
        (root().join("completions/_sbx"), completion(Shell::Zsh)),
        (root().join("completions/sbx.fish"), completion(Shell::Fish)),
    ]
}

#[test]
fn man_page_and_completions_are_fresh() {
    let update = std::env::var_os("SBX_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (path, want) in generated() {
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}; regenerate with `SBX_UPDATE_DOCS=1 cargo test --test it docs` and commit them"
    );
}

#[test]
fn man_page_renders() {
    if !crate::util::require(crate::util::have("man"), "man(1)", "apt-get install man-db") {
        return;
    }
    let out = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(root().join("man/sbx.1"))
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Justified text may hold double spaces.
    let text = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("--map-root"), "{text}");
    assert!(text.contains("EXIT STATUS"), "{text}");
}

#[test]
fn bash_completion_loads_and_completes_options() {
    let script = root().join("completions/sbx.bash");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p sbx && COMP_WORDS=(sbx --map-r) COMP_CWORD=1 COMP_LINE='sbx --map-r' COMP_POINT=11 && _sbx sbx --map-r sbx && echo \"${{COMPREPLY[@]}}\"",
            shell_quote(&script)
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("--map-root"), "{stdout}");
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}
