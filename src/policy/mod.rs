//! Policy files: strict TOML ([`schema`]), looked up by name or path, composed with `extends`,
//! and resolved into one [`Policy`] whose every value remembers the file and line it came from.
//!
//! Merge rules, applied parent first, in `extends` order, then the file itself:
//! - scalars (booleans, strings, numbers): the last file that sets one wins;
//! - lists (mounts, landlock paths, syscalls, capabilities, environment names): appended;
//!   an entry `"!VALUE"` removes every inherited entry equal to VALUE, and a mount
//!   `{ remove = "DEST" }` removes every inherited mount whose destination is DEST;
//! - tables of names (`environment.set`): keys are added, a later value for a key wins.
//!
//! Lookup of `--policy NAME|PATH`: a value containing `/` or ending in `.toml` is a file;
//! a name is looked up in `$XDG_CONFIG_HOME/sbx/policies` (default `~/.config/sbx/policies`),
//! then `/etc/sbx/policies`, then the policies built into sbx. Never the current directory.

pub mod command;
pub mod resolve;
pub mod schema;
pub mod show;
pub mod validate;

pub use resolve::{resolve, resolve_source, Policy};

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::suggest;

/// The policies shipped in `policies/`, embedded at build time.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../policies/default.toml")),
    ("build", include_str!("../../policies/build.toml")),
    ("devtool", include_str!("../../policies/devtool.toml")),
    ("untrusted", include_str!("../../policies/untrusted.toml")),
    ("makepkg", include_str!("../../policies/makepkg.toml")),
];

/// Where a policy's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Builtin,
    File(PathBuf),
}

/// One policy file's text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub location: Location,
    pub text: String,
}

impl Source {
    /// How messages name this file.
    pub fn display_name(&self) -> String {
        match &self.location {
            Location::Builtin => format!("<builtin>/{}.toml", self.name),
            Location::File(p) => p.display().to_string(),
        }
    }
}

/// A policy error, located when it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.col, self.message
            )?;
        } else {
            write!(f, "{}: {}", self.file, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

/// The 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Rc<str>,
    pub line: usize,
    pub col: usize,
}

impl Origin {
    /// `file:line:col`, for error messages.
    pub fn located(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.col)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Val<T> {
    pub v: T,
    pub at: Origin,
}

/// Finds a policy's text by name or path (see the module documentation).
pub fn lookup(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Source, PolicyError> {
    lookup_from(name, None, env)
}

/// Finds the parent `name` that the policy `from` extends. A built-in policy's parents are
/// always built-in, so a file of the user's named like a built-in overrides only `--policy` of
/// that name, never what other built-ins are made of. A file never finds itself: a user's
/// `default.toml` that `extends = ["default"]` gets the next `default` in the search order
/// (`/etc/sbx/policies`, then the built-in one).
pub fn lookup_parent(
    name: &str,
    from: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, PolicyError> {
    lookup_from(name, Some(from), env)
}

fn lookup_from(
    name: &str,
    from: Option<&Source>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, PolicyError> {
    let builtin_only = from.is_some_and(|f| f.location == Location::Builtin);
    let this_file = from.and_then(|f| match &f.location {
        Location::File(p) => std::fs::canonicalize(p).ok(),
        Location::Builtin => None,
    });
    let not_found = |message: String, hint: Option<String>| PolicyError {
        file: name.to_string(),
        line: 0,
        col: 0,
        message,
        hint,
    };
    if builtin_only {
        return match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Ok(Source {
                name: n.to_string(),
                location: Location::Builtin,
                text: text.to_string(),
            }),
            None => Err(not_found(
                "no such built-in policy (a built-in policy extends only built-in ones)".into(),
                None,
            )),
        };
    }
    if name.contains('/') || name.ends_with(".toml") {
        let path = PathBuf::from(name);
        return std::fs::read_to_string(&path)
            .map(|text| Source {
                name: stem(&path),
                location: Location::File(path.clone()),
                text,
            })
            .map_err(|e| not_found(format!("cannot read the policy file: {e}"), None));
    }
    for dir in search_dirs(env) {
        let path = dir.join(format!("{name}.toml"));
        if this_file.is_some() && std::fs::canonicalize(&path).ok() == this_file {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Ok(Source {
                name: name.to_string(),
                location: Location::File(path),
                text,
            });
        }
    }
    if let Some((n, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
        return Ok(Source {
            name: n.to_string(),
            location: Location::Builtin,
            text: text.to_string(),
        });
    }
    let known: Vec<String> = list(env).into_iter().map(|(n, _, _)| n).collect();
    let hint = suggest::closest(name, known.iter().map(String::as_str))
        .map(|s| format!("did you mean {s}?"))
        .or_else(|| Some(format!("known policies: {}", known.join(", "))));
    Err(not_found("no such policy".into(), hint))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The directories searched for policy names, in order.
pub fn search_dirs(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let config = env("XDG_CONFIG_HOME")
        .filter(|v| v.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")));
    let mut dirs = Vec::new();
    if let Some(c) = config {
        dirs.push(c.join("sbx/policies"));
    }
    dirs.push(PathBuf::from("/etc/sbx/policies"));
    dirs
}

/// Every policy that a name can reach: (name, where, description), the first of a name winning.
pub fn list(env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for dir in search_dirs(env) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        {
            let name = stem(&path);
            if out.iter().any(|(n, _, _)| *n == name) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push((name, path.display().to_string(), description_of(&text)));
        }
    }
    for (name, text) in BUILTIN {
        if !out.iter().any(|(n, _, _)| n == name) {
            out.push((name.to_string(), "built-in".into(), description_of(text)));
        }
    }
    out
}

fn description_of(text: &str) -> String {
    toml::from_str::<schema::File>(text)
        .ok()
        .and_then(|f| f.description.map(|d| d.into_inner()))
        .unwrap_or_else(|| "(invalid or no description)".into())
}

/// Parses one file strictly, turning serde's messages into located errors with hints.
pub fn parse(source: &Source) -> Result<schema::File, PolicyError> {
    if let Some(offset) = nul_escape(&source.text) {
        let (line, col) = line_col(&source.text, offset);
        return Err(PolicyError {
            file: source.display_name(),
            line,
            col,
            message: "a NUL character (\\u0000) is not allowed in a policy".into(),
            hint: Some("paths, names and values reach the kernel as C strings: remove it".into()),
        });
    }
    toml::from_str::<schema::File>(&source.text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(&source.text, s.start));
        let message = e.message().trim().to_string();
        PolicyError {
            file: source.display_name(),
            line,
            col,
            hint: unknown_key_hint(&message),
            message,
        }
    })
}

/// serde says "unknown field `x`, expected one of `a`, `b`" (or "unknown variant ..." for an
/// enumerated value): suggest the closest.
pub(crate) fn unknown_key_hint(message: &str) -> Option<String> {
    let (rest, variant) = match message.strip_prefix("unknown field `") {
        Some(rest) => (rest, false),
        None => (message.strip_prefix("unknown variant `")?, true),
    };
    let (word, expected) = rest.split_once('`')?;
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match (suggest::closest(word, names.iter().copied()), variant) {
        (Some(s), false) => Some(format!("did you mean `{s}`?")),
        (Some(s), true) => Some(format!("did you mean {s:?}?")),
        (None, false) => Some(format!("known keys here: {}", names.join(", "))),
        (None, true) => Some(format!("one of: {}", names.join(", "))),
    }
}

/// The offset of a `\u0000` or `\U00000000` escape (a NUL character once decoded), if any.
/// Conservative: an escaped backslash before it does not count, a literal string's text does.
fn nul_escape(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    for (i, w) in b.windows(2).enumerate() {
        if w[0] != b'\\' || (w[1] != b'u' && w[1] != b'U') {
            continue;
        }
        let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 1 {
            continue;
        }
        let digits = if w[1] == b'u' { 4 } else { 8 };
        let hex = text.get(i + 2..i + 2 + digits)?;
        if hex.bytes().all(|c| c == b'0') && hex.len() == digits {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests;
