use std::path::PathBuf;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn source(name: &str, text: &str) -> Source {
    Source {
        name: name.into(),
        location: Location::File(PathBuf::from(format!("/p/{name}.toml"))),
        text: text.into(),
    }
}

fn check(text: &str) -> Result<Policy, PolicyError> {
    resolve_source(source("t", text), &no_env)
}

#[test]
fn every_shipped_policy_resolves_with_a_description() {
    for (name, _) in BUILTIN {
        let p = resolve(name, &no_env).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.description.is_some(), "{name} has no description");
        assert_eq!(p.chain.last().unwrap(), &format!("<builtin>/{name}.toml"));
    }
    let p = resolve("makepkg", &no_env).unwrap();
    assert_eq!(
        p.chain,
        vec![
            "<builtin>/default.toml",
            "<builtin>/build.toml",
            "<builtin>/makepkg.toml"
        ]
    );
    assert_eq!(p.map.unwrap().v, schema::MapMode::Root);
}

#[test]
fn unknown_keys_are_located_with_a_hint() {
    let e = check("[identity]\nhostnme = \"x\"\n").unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.col), ("/p/t.toml", 2, 1));
    assert!(e.message.contains("hostnme"), "{e}");
    assert_eq!(e.hint.as_deref(), Some("did you mean `hostname`?"));
    let e = check("[idenity]\n").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean `identity`?"));
}

#[test]
fn type_errors_are_located() {
    let e = check("[namespaces]\nnet = \"yes\"\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 7));
    assert!(e.message.contains("bool"), "{e}");
}

#[test]
fn unknown_syscalls_and_capabilities_get_suggestions() {
    let e = check("[seccomp]\ndeny = [\"keyctl\", \"ptrce\"]\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 19), "{e}");
    assert!(e.message.contains("ptrce"), "{e}");
    assert!(e.hint.as_deref().unwrap_or("").contains("ptrace"), "{e}");
    let e = check("[capabilities]\nkeep = [\"CAP_NET_RWA\"]\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 9));
    assert!(
        e.hint.as_deref().unwrap_or("").contains("CAP_NET_RAW"),
        "{e}"
    );
    let e = check("[seccomp]\nallow = [\"@mountt\"]\n").unwrap_err();
    assert!(e.hint.as_deref().unwrap_or("").contains("@mount"), "{e}");
}

#[test]
fn bad_enumerations_variables_and_mounts_are_located() {
    let e = check("[landlock]\nmode = \"strict\"\n").unwrap_err();
    assert_eq!(e.line, 2);
    let e = check("[landlock]\nread = [\"${HOEM}/x\"]\n").unwrap_err();
    assert!(
        e.message.contains("HOEM") && e.hint.as_deref() == Some("did you mean ${HOME}?"),
        "{e}"
    );
    let e = check("[filesystem]\nmounts = [{ tmpfs = \"/t\", bind = \"/x\" }]\n").unwrap_err();
    assert!(e.message.contains("exactly one kind"), "{e}");
    let e = check("[filesystem]\nmounts = [{ tmpfs = \"/t\", perms = \"999\" }]\n").unwrap_err();
    assert!(
        e.message.contains("--perms 999") || e.message.contains("999"),
        "{e}"
    );
}

#[test]
fn missing_parents_and_cycles_are_errors() {
    let e = check("extends = [\"no-such-policy\"]\n").unwrap_err();
    assert_eq!((e.line, e.col), (1, 12));
    assert!(e.message.contains("no such policy"), "{e}");
    let e = check("extends = [\"defualt\"]\n").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean default?"));

    let dir = std::env::temp_dir().join(format!("sbx-policy-cycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.toml");
    let b = dir.join("b.toml");
    std::fs::write(&a, format!("extends = [{:?}]\n", b.display().to_string())).unwrap();
    std::fs::write(
        &b,
        format!(
            "description = \"b\"\nextends = [{:?}]\n",
            a.display().to_string()
        ),
    )
    .unwrap();
    let e = resolve(a.to_str().unwrap(), &no_env).unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
    assert_eq!(e.file, b.display().to_string());
    assert_eq!(e.line, 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn lists_append_scalars_override_and_bang_removes() {
    let p = check(
        "extends = [\"default\"]\n[identity]\nhostname = \"h\"\n[seccomp]\ndeny = [\"!@mount\", \"ptrace\"]\n",
    )
    .unwrap();
    assert_eq!(p.hostname.as_ref().unwrap().v, "h");
    assert_eq!(p.hostname.as_ref().unwrap().at.to_string(), "/p/t.toml:3");
    let deny: Vec<&str> = p.seccomp_deny.iter().map(|v| v.v.as_str()).collect();
    assert!(
        !deny.contains(&"@mount") && deny.contains(&"ptrace") && deny.contains(&"@keyring"),
        "{deny:?}"
    );
    let p =
        check("extends = [\"build\"]\n[filesystem]\nmounts = [{ remove = \"/usr\" }]\n").unwrap();
    assert!(!p
        .mounts
        .iter()
        .any(|m| m.v.ro_bind.as_deref() == Some("/usr")));
}

#[test]
fn show_marks_each_value_with_its_file() {
    let text = show::render(&resolve("build", &no_env).unwrap());
    assert!(text.contains("<builtin>/build.toml"), "{text}");
    let hostname = text.lines().find(|l| l.starts_with("hostname")).unwrap();
    assert!(
        hostname.contains("\"build\"") && hostname.contains("# <builtin>/build.toml:"),
        "{hostname}"
    );
    let net = text.lines().find(|l| l.starts_with("net =")).unwrap();
    assert!(net.contains("<builtin>/default.toml"), "{net}");
}

#[test]
fn names_are_never_looked_up_in_the_current_directory() {
    let dir = std::env::temp_dir().join(format!("sbx-policy-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("evil.toml"), "description = \"x\"\n").unwrap();
    let env = |k: &str| (k == "HOME").then(|| "/nonexistent".to_string());
    let before = std::env::current_dir().unwrap();
    // Lookup depends on the search directories only, which never include "." or the cwd.
    assert!(search_dirs(&env).iter().all(|d| d.is_absolute()));
    assert!(lookup("evil", &env).is_err());
    assert_eq!(std::env::current_dir().unwrap(), before);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn line_col_counts_from_one() {
    assert_eq!(line_col("ab\ncd", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
}
