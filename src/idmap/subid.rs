//! Reading `/etc/subuid` and `/etc/subgid` the way shadow's `newuidmap` and `newgidmap` read
//! them, so that sbx grants exactly what those setuid helpers will accept, and says why a line
//! does not count.
//!
//! Everything here is pure (no process state, no global user database): name lookups go
//! through [`uzers::Users`], so tests use [`uzers::mock::MockUsers`]; only [`read_ranges`]
//! touches the filesystem.
//!
//! The rules below were taken from shadow's sources (shadow-maint/shadow): `lib/commonio.c`
//! (`commonio_open`, how lines are read), `lib/subordinateio.c` (`subordinate_parse`,
//! `find_range`, `have_range`, `list_owner_ranges`), `lib/atoi/` (`str2ul`, `strtou_noneg`:
//! how numbers are read), `lib/nss.c` (`nss_init`: the `subid:` line of nsswitch.conf),
//! `src/newuidmap.c` and `src/newgidmap.c` (`verify_range`) and `src/getsubids.c`.
//!
//! # Lines
//!
//! A line is `owner:start:count`, split at `\n` only. For each line, in order:
//!
//! * Blank lines and lines whose first non-blank character is `#` are ignored silently.
//!   (shadow has no comment syntax: such a line fails to parse, or names an owner no account
//!   has, so the effect is the same.)
//! * Skipped, with a [`Diagnostic`] of severity [`Severity::Skipped`]:
//!   - a NUL byte, or bytes that are not UTF-8 (sbx cannot compare such an owner);
//!   - 1024 bytes or more (shadow's `subordinate_parse` refuses such lines);
//!   - a first character `+` or `-` (shadow's `commonio_open` takes these as NIS entries);
//!   - fewer than three `:`-separated fields, or an empty owner, start or count;
//!   - a start or count that is not a number, is negative, does not fit in 64 bits, or has
//!     anything after its digits. A line that ends in `\r` (a DOS line ending) is one of these:
//!     the `\r` sticks to the count and shadow rejects the line, so sbx does too and says so;
//!   - a count of 0;
//!   - `start + count - 1` past 2^64 − 1: shadow's arithmetic wraps and the line matches
//!     nothing;
//!   - a start of 4294967295 or more: the kernel maps no such id.
//! * Used, with a note ([`Severity::Note`]):
//!   - more than three fields: shadow reads the first three and ignores the rest;
//!   - an owner with blanks around it: kept as it is (shadow compares owners byte for byte, so
//!     `alice ` is not `alice`);
//!   - numbers in hex (`0x186a0`) or octal (a leading zero: `0100000` is 32768), because shadow
//!     reads them with `strtoul(…, 0)`. Blanks before a number and a `+` or `-0` are accepted
//!     silently, as there;
//!   - a range that runs past 4294967294, the highest id the kernel maps: only the part up to
//!     it is kept;
//!   - no newline at the end of the file: recent shadow releases then refuse the whole file
//!     ("Non-text file") and `newuidmap` fails, older ones read the line.
//!
//! # Which lines are a user's (newuidmap's rule)
//!
//! `newuidmap` and `newgidmap` call `have_range(db, pw_name, start, count)`, which repeatedly
//! calls `find_range(db, pw_name, id)` from `start` on. `find_range` looks, in file order:
//!
//! 1. for a line whose owner is exactly the user's name and whose range holds `id`;
//! 2. only if there is none, and only if `getpwnam(name)` finds the user (its uid `U`): for a
//!    line holding `id` whose owner is the decimal text of `U` (`1000`, not `01000`), or whose
//!    owner is a name that `getpwnam` resolves to uid `U` (another account with the same uid,
//!    including an account literally *named* `1000` whose uid is `U`).
//!
//! `have_range` then continues from the end of the range it found. The result is that a
//! requested range is allowed exactly when every id in it lies in the **union** of the ranges
//! of all lines matching by rule 1 or 2: name lines and numeric lines are both used, overlaps
//! and duplicates change nothing, and a request may span several adjacent lines. The
//! first-match order only decides which line is reported, not the answer. [`matching_entries`]
//! returns those lines with the rule that matched, [`ranges_for`] the union.
//!
//! The same holds for `/etc/subgid`: `newgidmap` passes the *user's* name, and rule 2 compares
//! with the user's **uid** (shadow calls `getpwnam` there too), never with a gid or a group
//! name. So both files are matched with the same arguments here.
//!
//! Besides, `newuidmap` accepts the caller's own uid (`newgidmap`: its own gid) but only as a
//! mapping of exactly one id. [`check_mapping`] applies these rules.
//!
//! ## Deliberate differences from shadow, all towards refusing
//!
//! * `alice:0:0` is skipped. In shadow a count of 0 makes the range's last id `start − 1`,
//!   which for start 0 wraps to 2^64 − 1: that line lets alice map *every* id.
//! * Ranges are cut at 4294967294, which the kernel would refuse anyway.
//! * Lines that are not UTF-8 or hold a NUL byte are skipped.
//!
//! ## What other tools read from the same file
//!
//! * `getsubids` and libsubid (`list_owner_ranges`): lines whose owner is the name, or the
//!   decimal uid (for `-g`: the gid of the *group* named like the user), in file order; other
//!   names with the same uid are not listed, and a line that matches both ways is listed twice.
//! * `unshare --map-auto` (util-linux 2.39, `read_subid_range`): only the *first* line whose
//!   owner is the name or which `strtoul(owner, NULL, 10)` reads as the uid (so `1000abc`
//!   counts for uid 1000, and for root any owner that does not start with a digit).
//! * Rootless podman (containers/storage `pkg/idtools`): all lines whose owner is the name or
//!   the decimal uid, sorted by start.
//!
//! # nsswitch
//!
//! When `/etc/nsswitch.conf` has a `subid:` line naming a source other than `files`, shadow
//! asks that module (`libsubid_NAME.so`) instead of reading the files. [`nsswitch_subid_source`]
//! tells whether that is so; sbx then runs `getsubids USER` (`getsubids -g USER`) and reads its
//! output with [`parse_getsubids`].
//!
//! # Maps
//!
//! [`auto_map`] builds the map of `--map-auto`: the caller's id is 0 inside, the subordinate
//! ranges follow from inner id 1 on, contiguously, sorted by outer id as rootless podman does
//! (`unshare --map-root-user --map-auto` gives the same for a single range). [`check_mappings`]
//! checks mappings given by hand.
//!
//! # Putting it together
//!
//! For each of [`IdKind::Uid`] and [`IdKind::Gid`], with the caller's passwd name:
//!
//! 1. If [`nsswitch_subid_source`] of `/etc/nsswitch.conf` is `Some`, run `getsubids` with
//!    [`IdKind::getsubids_args`] and read its output with [`parse_getsubids`]; otherwise
//!    [`read_ranges`] of [`IdKind::file`] (a missing file means no subordinate ids).
//! 2. Print the diagnostics under `-v`.
//! 3. For `--map-auto`, [`auto_map`] with the caller's uid (gid); for explicit mappings,
//!    [`check_mappings`] with the same id, before handing the lines to [`IdKind::helper`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use uzers::Users;

/// No range may reach past this: ranges end (exclusively) at or below it, so the last id that
/// can be mapped is 4294967294. The kernel never maps 4294967295, which is `(uid_t) -1`.
pub const ID_END: u32 = u32::MAX;

/// The kernel accepts at most this many lines in a `uid_map` or `gid_map` (Linux 4.15 on).
pub const MAX_MAP_LINES: usize = 340;

/// shadow's `subordinate_parse` refuses lines of this many bytes or more.
pub const SHADOW_LINE_LIMIT: usize = 1024;

/// User ids or group ids: which file, which helper, which words in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// `/etc/subuid`, `newuidmap`, `uid_map`.
    Uid,
    /// `/etc/subgid`, `newgidmap`, `gid_map`.
    Gid,
}

impl IdKind {
    /// `"uid"` or `"gid"`.
    pub fn name(self) -> &'static str {
        match self {
            IdKind::Uid => "uid",
            IdKind::Gid => "gid",
        }
    }

    /// The file shadow reads: `/etc/subuid` or `/etc/subgid`.
    pub fn file(self) -> &'static str {
        match self {
            IdKind::Uid => "/etc/subuid",
            IdKind::Gid => "/etc/subgid",
        }
    }

    /// The setuid helper that writes the map: `newuidmap` or `newgidmap`.
    pub fn helper(self) -> &'static str {
        match self {
            IdKind::Uid => "newuidmap",
            IdKind::Gid => "newgidmap",
        }
    }

    /// The arguments of `getsubids` for this kind: `[USER]` or `["-g", USER]`.
    pub fn getsubids_args(self, user: &str) -> Vec<&str> {
        match self {
            IdKind::Uid => vec![user],
            IdKind::Gid => vec!["-g", user],
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A range of outer (host) ids: `start .. start + count`.
///
/// The ranges this module returns have `count > 0` and `start + count <= ID_END`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubIdRange {
    /// The first id.
    pub start: u32,
    /// How many ids.
    pub count: u32,
}

impl SubIdRange {
    /// A range, if it holds at least one id and ends at or below [`ID_END`].
    pub fn new(start: u32, count: u32) -> Option<SubIdRange> {
        (count > 0 && start.checked_add(count).is_some()).then_some(SubIdRange { start, count })
    }

    /// One past the last id.
    pub fn end(self) -> u32 {
        self.start.saturating_add(self.count)
    }

    /// The last id.
    pub fn last(self) -> u32 {
        self.end().saturating_sub(1).max(self.start)
    }

    /// Whether `id` is in the range.
    pub fn contains(self, id: u32) -> bool {
        id >= self.start && id - self.start < self.count
    }
}

impl fmt::Display for SubIdRange {
    /// `100000-165535`, or `1000` for a single id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 1 {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.last())
        }
    }
}

/// A usable line of a subordinate id file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The owner field exactly as written: a user name or a decimal uid.
    pub owner: String,
    /// The first id.
    pub start: u32,
    /// How many ids (at least 1; cut so that `start + count <= ID_END`).
    pub count: u32,
    /// The line number, from 1.
    pub line: usize,
}

impl Entry {
    /// The entry's ids.
    pub fn range(&self) -> SubIdRange {
        SubIdRange {
            start: self.start,
            count: self.count,
        }
    }
}

/// Whether a [`Diagnostic`] line was dropped or only looks odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The line is ignored.
    Skipped,
    /// The line is used, but read in a way its author may not expect.
    Note,
}

/// Something to tell about one line (sbx's `-v` prints these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The line number, from 1.
    pub line: usize,
    /// Skipped or used.
    pub severity: Severity,
    /// Why, in words.
    pub reason: String,
}

impl Diagnostic {
    fn skipped(line: usize, reason: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line,
            severity: Severity::Skipped,
            reason: reason.into(),
        }
    }

    fn note(line: usize, reason: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line,
            severity: Severity::Note,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `line 3: skipped: the count is 0` or `line 4: note: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.severity {
            Severity::Skipped => "skipped",
            Severity::Note => "note",
        };
        write!(f, "line {}: {what}: {}", self.line, self.reason)
    }
}

/// Parses the text of `/etc/subuid` or `/etc/subgid` (see the module documentation for the
/// rules). Returns the usable lines in file order and what there is to say about the others.
pub fn parse(contents: &str) -> (Vec<Entry>, Vec<Diagnostic>) {
    parse_bytes(contents.as_bytes())
}

/// [`parse`] for raw file contents, which need not be UTF-8 throughout.
pub fn parse_bytes(contents: &[u8]) -> (Vec<Entry>, Vec<Diagnostic>) {
    let mut entries = Vec::new();
    let mut diagnostics = Vec::new();
    let mut rest = contents;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (line, newline) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = &[];
                (line, false)
            }
        };
        match parse_line(line) {
            Line::Ignored => {}
            Line::Skipped(reason) => diagnostics.push(Diagnostic::skipped(number, reason)),
            Line::Entry {
                owner,
                range,
                notes,
            } => {
                diagnostics.extend(notes.into_iter().map(|n| Diagnostic::note(number, n)));
                entries.push(Entry {
                    owner,
                    start: range.start,
                    count: range.count,
                    line: number,
                });
            }
        }
        if !newline {
            diagnostics.push(Diagnostic::note(
                number,
                "the file does not end with a newline; recent shadow releases then refuse \
                 the whole file (\"Non-text file\") and newuidmap/newgidmap fail, older ones \
                 read the line",
            ));
        }
    }
    (entries, diagnostics)
}

enum Line {
    Ignored,
    Skipped(String),
    Entry {
        owner: String,
        range: SubIdRange,
        notes: Vec<String>,
    },
}

/// The blanks of C's `isspace` in the "C" locale, which `strtoul` skips.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn parse_line(raw: &[u8]) -> Line {
    if raw.contains(&0) {
        return Line::Skipped("the line contains a NUL byte".into());
    }
    let Ok(line) = std::str::from_utf8(raw) else {
        return Line::Skipped("the line is not valid UTF-8".into());
    };
    let body = line.trim_matches(is_c_space);
    if body.is_empty() || body.starts_with('#') {
        return Line::Ignored;
    }
    if raw.len() >= SHADOW_LINE_LIMIT {
        return Line::Skipped(format!(
            "the line is {} bytes long; shadow ignores lines of {SHADOW_LINE_LIMIT} bytes or more",
            raw.len()
        ));
    }
    if line.starts_with(['+', '-']) {
        return Line::Skipped(
            "the line starts with '+' or '-', which shadow takes for a NIS entry and ignores"
                .into(),
        );
    }
    let mut fields = line.splitn(4, ':');
    let owner = fields.next().unwrap_or_default();
    let (Some(start_text), Some(count_text)) = (fields.next(), fields.next()) else {
        let n = line.split(':').count();
        return Line::Skipped(format!(
            "the line has {n} field{}; expected owner:start:count",
            if n == 1 { "" } else { "s" }
        ));
    };
    let extra = fields.next();
    for (name, text) in [
        ("owner", owner),
        ("start", start_text),
        ("count", count_text),
    ] {
        if text.is_empty() {
            return Line::Skipped(format!("the {name} field is empty"));
        }
    }
    let start = match parse_c_ulong(start_text) {
        Ok(n) => n,
        Err(e) => return Line::Skipped(e.describe("start", start_text)),
    };
    let count = match parse_c_ulong(count_text) {
        Ok(n) => n,
        Err(e) => return Line::Skipped(e.describe("count", count_text)),
    };
    let mut notes = Vec::new();
    let range = match fit_range(start.value, count.value) {
        Ok((range, note)) => {
            notes.extend(note);
            range
        }
        Err(reason) => return Line::Skipped(reason),
    };
    if let Some(extra) = extra {
        notes.push(format!(
            "the line has more than three fields; shadow reads the first three and ignores \
             \":{extra}\""
        ));
    }
    let trimmed = owner.trim_matches(is_c_space);
    if trimmed != owner {
        notes.push(format!(
            "the owner {owner:?} has blanks around it; shadow compares owners byte for byte, \
             so it is not {trimmed:?}"
        ));
    }
    for (name, text, n) in [("start", start_text, start), ("count", count_text, count)] {
        if let Some(base) = n.unusual_base() {
            notes.push(format!(
                "the {name} {text:?} is read as {base}, so it is {}, as shadow's strtoul does",
                n.value
            ));
        }
    }
    Line::Entry {
        owner: owner.to_string(),
        range,
        notes,
    }
}

/// Checks a start and count read as shadow reads them (as 64-bit numbers) and makes the range
/// sbx uses: skips what shadow can never grant or the kernel never maps, cuts what runs past
/// [`ID_END`] (with a note).
fn fit_range(start: u64, count: u64) -> Result<(SubIdRange, Option<String>), String> {
    if count == 0 {
        return Err(
            "the count is 0; sbx grants nothing for it (shadow's newuidmap would even take \
             start 0 with count 0 as every id)"
                .into(),
        );
    }
    let Some(last) = start.checked_add(count - 1) else {
        return Err(format!(
            "start {start} + count {count} runs past 2^64; shadow's arithmetic wraps and the \
             line matches nothing"
        ));
    };
    let limit = u64::from(ID_END);
    let (Ok(start32), true) = (u32::try_from(start), start < limit) else {
        return Err(format!(
            "the start {start} is past 4294967294, the highest id the kernel maps"
        ));
    };
    let usable = count.min(limit - start);
    let count32 = u32::try_from(usable).unwrap_or(ID_END - start32);
    let range = SubIdRange {
        start: start32,
        count: count32,
    };
    let note = (usable < count).then(|| {
        format!(
            "the range {start}-{last} runs past 4294967294, the highest id the kernel maps; \
             only {range} ({count32} ids) can be used"
        )
    });
    Ok((range, note))
}

/// A number as C's `strtoul(text, &end, 0)` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CNumber {
    value: u64,
    /// 16 for `0x…`, 8 for `0…` with more than one digit, else 10.
    base: u32,
}

impl CNumber {
    fn unusual_base(self) -> Option<&'static str> {
        match self.base {
            16 => Some("hexadecimal"),
            8 => Some("octal"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NumberError {
    NoDigits,
    Negative,
    TooLarge,
    Trailing(String),
}

impl NumberError {
    fn describe(&self, field: &str, text: &str) -> String {
        match self {
            NumberError::NoDigits => format!("the {field} {text:?} is not a number"),
            NumberError::Negative => format!("the {field} {text:?} is negative"),
            NumberError::TooLarge => format!("the {field} {text:?} does not fit in 64 bits"),
            NumberError::Trailing(rest) if rest == "\r" => format!(
                "the line ends in a carriage return (a DOS line ending), so the {field} is \
                 {text:?}, which shadow rejects; convert the file with dos2unix"
            ),
            NumberError::Trailing(rest) => {
                format!("the {field} {text:?} has {rest:?} after its digits")
            }
        }
    }
}

/// Reads an unsigned number as shadow's `str2ul` does: `strtoul` with base 0 (so `0x` is hex
/// and a leading `0` octal), leading blanks and a sign allowed, the whole text consumed, no
/// overflow, and no negative value other than `-0` (shadow's `strtou_noneg`).
fn parse_c_ulong(text: &str) -> Result<CNumber, NumberError> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(char::from(b[i])) {
        i += 1;
    }
    let mut negative = false;
    if let Some(&sign @ (b'+' | b'-')) = b.get(i) {
        negative = sign == b'-';
        i += 1;
    }
    let mut base = 10;
    if b.get(i) == Some(&b'0') {
        base = 8;
        if matches!(b.get(i + 1), Some(b'x' | b'X'))
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            base = 16;
            i += 2;
        }
    }
    let digits = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|&c| char::from(c).to_digit(base)) {
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == digits {
        return Err(NumberError::NoDigits);
    }
    if negative && (value != 0 || overflow) {
        return Err(NumberError::Negative);
    }
    if overflow {
        return Err(NumberError::TooLarge);
    }
    if i != b.len() {
        return Err(NumberError::Trailing(text[i..].to_string()));
    }
    if base == 8 && i - digits == 1 {
        base = 10; // a plain "0"
    }
    Ok(CNumber { value, base })
}

/// Which of shadow's rules made a line the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// The owner is exactly the user's name.
    Name,
    /// The owner is the user's uid in decimal.
    Uid,
    /// The owner is another name that resolves to the user's uid.
    Alias,
}

/// A line that belongs to the user, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// The line.
    pub entry: &'a Entry,
    /// The rule that matched.
    pub kind: MatchKind,
}

/// The entries that are `user_name`'s under newuidmap's rules, in file order.
///
/// `user_name` is the caller's passwd name: `newuidmap` takes it from `getlogin()` if that
/// name's uid is the caller's, else from `getpwuid(getuid())`. The numeric and alias rules
/// apply only if `users` finds `user_name`, and use the uid it gives. Use the same arguments
/// for `/etc/subgid`: `newgidmap` matches it against the user's uid too.
///
/// Each distinct owner is looked up at most once.
pub fn matching_entries<'a>(
    entries: &'a [Entry],
    user_name: &str,
    users: &impl Users,
) -> Vec<Match<'a>> {
    let uid = users.get_user_by_name(user_name).map(|u| u.uid());
    let uid_text = uid.map(|u| u.to_string());
    let mut resolved: HashMap<&str, Option<u32>> = HashMap::new();
    let mut matches = Vec::new();
    for entry in entries {
        let kind = if entry.owner == user_name {
            Some(MatchKind::Name)
        } else if let (Some(uid), Some(uid_text)) = (uid, &uid_text) {
            if entry.owner == *uid_text {
                Some(MatchKind::Uid)
            } else {
                let owner = entry.owner.as_str();
                let other = *resolved
                    .entry(owner)
                    .or_insert_with(|| users.get_user_by_name(owner).map(|u| u.uid()));
                (other == Some(uid)).then_some(MatchKind::Alias)
            }
        } else {
            None
        };
        if let Some(kind) = kind {
            matches.push(Match { entry, kind });
        }
    }
    matches
}

/// The ids `user_name` may map under newuidmap's rules: the union of the ranges of
/// [`matching_entries`], as disjoint ranges in file order. A range that overlaps earlier ones
/// keeps only its new ids, and a range that continues the previous one is merged into it.
pub fn ranges_for(entries: &[Entry], user_name: &str, users: &impl Users) -> Vec<SubIdRange> {
    disjoint_in_order(
        matching_entries(entries, user_name, users)
            .iter()
            .map(|m| m.entry.range()),
    )
}

/// Reads a subordinate id file and returns [`ranges_for`] the user, with the diagnostics of
/// [`parse`]. A missing file is an error of kind [`std::io::ErrorKind::NotFound`].
pub fn read_ranges(
    path: &Path,
    user_name: &str,
    users: &impl Users,
) -> Result<(Vec<SubIdRange>, Vec<Diagnostic>), std::io::Error> {
    let contents = std::fs::read(path)?;
    let (entries, diagnostics) = parse_bytes(&contents);
    Ok((ranges_for(&entries, user_name, users), diagnostics))
}

/// The `subid:` source named in the text of `/etc/nsswitch.conf`, unless it is `files` (or
/// nothing), in which case shadow reads `/etc/subuid` and `/etc/subgid` itself.
///
/// As shadow's `nss_init`: the first line that starts (in column 0, any case) with `subid:`
/// and names something counts; lines starting with `#` do not; the source is the first word
/// after the colon. A name longer than 50 bytes makes shadow fall back to the files, so it gives
/// `None` here too. (shadow also falls back when `libsubid_NAME.so` cannot be loaded; sbx
/// learns that from `getsubids`.)
pub fn nsswitch_subid_source(conf: &str) -> Option<&str> {
    let blank = [' ', '\t', '\r'];
    for line in conf.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (Some(key), Some(rest)) = (line.get(..6), line.get(6..)) else {
            continue;
        };
        if !key.eq_ignore_ascii_case("subid:") {
            continue;
        }
        let rest = rest.trim_start_matches(blank);
        if rest.is_empty() {
            continue;
        }
        let source = rest.split(blank).next().unwrap_or(rest);
        return (source != "files" && source.len() <= 50).then_some(source);
    }
    None
}

/// Reads the output of `getsubids USER` or `getsubids -g USER`: lines `N: OWNER START COUNT`
/// (`0: alice 100000 65536`). Returns the ranges as [`ranges_for`] does (disjoint, in order;
/// the same checks as for file lines) and a diagnostic for each line that is not of that form.
pub fn parse_getsubids(output: &str) -> (Vec<SubIdRange>, Vec<Diagnostic>) {
    let mut ranges = Vec::new();
    let mut diagnostics = Vec::new();
    for (i, line) in output.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match parse_getsubids_line(line).and_then(|(start, count)| fit_range(start, count)) {
            Ok((range, note)) => {
                ranges.push(range);
                diagnostics.extend(note.map(|n| Diagnostic::note(number, n)));
            }
            Err(reason) => diagnostics.push(Diagnostic::skipped(number, reason)),
        }
    }
    (disjoint_in_order(ranges), diagnostics)
}

fn parse_getsubids_line(line: &str) -> Result<(u64, u64), String> {
    let form = || format!("{line:?} is not of the form \"N: OWNER START COUNT\"");
    let (index, rest) = line.split_once(':').ok_or_else(form)?;
    let index = index.trim();
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return Err(form());
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let [_owner @ .., start, count] = words.as_slice() else {
        return Err(form());
    };
    if words.len() < 3 {
        return Err(form());
    }
    let number = |text: &str, what: &str| -> Result<u64, String> {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u64>()
                .map_err(|_| format!("the {what} {text:?} does not fit in 64 bits"))
        } else {
            Err(format!("the {what} {text:?} is not a number"))
        }
    };
    Ok((number(start, "start")?, number(count, "count")?))
}

/// One line of a `uid_map` or `gid_map`: ids `inner..inner+count` inside the namespace are
/// `outer..outer+count` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdMapping {
    /// The first id inside.
    pub inner: u32,
    /// The first id outside.
    pub outer: u32,
    /// How many ids.
    pub count: u32,
}

impl IdMapping {
    /// The outside ids (saturating at [`ID_END`]).
    pub fn outer_range(self) -> SubIdRange {
        SubIdRange {
            start: self.outer,
            count: self.count.min(ID_END - self.outer),
        }
    }

    /// The inside ids (saturating at [`ID_END`]).
    pub fn inner_range(self) -> SubIdRange {
        SubIdRange {
            start: self.inner,
            count: self.count.min(ID_END - self.inner),
        }
    }

    /// The `INNER:OUTER:COUNT` form that [`FromStr`] reads.
    pub fn spec(self) -> String {
        format!("{}:{}:{}", self.inner, self.outer, self.count)
    }
}

impl fmt::Display for IdMapping {
    /// `inner outer count`: a `uid_map` line, or three arguments of `newuidmap`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inner, self.outer, self.count)
    }
}

/// A mapping that is not `INNER:OUTER:COUNT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id mapping {input:?}: {reason}; expected INNER:OUTER:COUNT, e.g. 1:100000:65536")]
pub struct ParseMappingError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for IdMapping {
    type Err = ParseMappingError;

    /// Reads `INNER:OUTER:COUNT`, three decimal ids.
    fn from_str(s: &str) -> Result<IdMapping, ParseMappingError> {
        let error = |reason: String| ParseMappingError {
            input: s.to_string(),
            reason,
        };
        let fields: Vec<&str> = s.split(':').collect();
        let [inner, outer, count] = fields.as_slice() else {
            return Err(error(format!("it has {} fields", fields.len())));
        };
        let number = |text: &str, what: &str| {
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                text.parse::<u32>()
                    .map_err(|_| error(format!("the {what} {text} is past 4294967295")))
            } else {
                Err(error(format!("the {what} {text:?} is not a number")))
            }
        };
        Ok(IdMapping {
            inner: number(inner, "inner id")?,
            outer: number(outer, "outer id")?,
            count: number(count, "count")?,
        })
    }
}

/// The map of `--map-auto`, as rootless podman builds it: `caller_id` is 0 inside; then the
/// subordinate ids (the union of `ranges`, without `caller_id`, sorted by outer id, adjacent
/// ranges merged) take the inner ids from 1 on, contiguously.
///
/// For the gid map pass the caller's gid and the ranges of `/etc/subgid`. The result stops at
/// [`MAX_MAP_LINES`] lines and before an inner id would pass 4294967294. Each line passes
/// [`check_mappings`] for the same `ranges` and `caller_id`.
pub fn auto_map(caller_id: u32, ranges: &[SubIdRange]) -> Vec<IdMapping> {
    let mut union = IntervalSet::default();
    for r in ranges {
        union.insert(r.start, r.end());
    }
    let mut lines = vec![IdMapping {
        inner: 0,
        outer: caller_id,
        count: 1,
    }];
    let mut next_inner: u32 = 1;
    for (start, end) in union.iter() {
        let pieces = if (start..end).contains(&caller_id) {
            [(start, caller_id), (caller_id + 1, end)]
        } else {
            [(start, end), (end, end)]
        };
        for (start, end) in pieces {
            if start >= end {
                continue;
            }
            let room = ID_END - next_inner;
            if room == 0 || lines.len() >= MAX_MAP_LINES {
                return lines;
            }
            let count = (end - start).min(room);
            lines.push(IdMapping {
                inner: next_inner,
                outer: start,
                count,
            });
            next_inner += count;
        }
    }
    lines
}

/// Why a requested mapping is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A count of 0.
    #[error("{kind} mapping {}: the count must be at least 1", .mapping.spec())]
    Empty {
        /// uid or gid.
        kind: IdKind,
        /// The mapping.
        mapping: IdMapping,
    },
    /// Inner or outer ids past 4294967294.
    #[error(
        "{kind} mapping {}: it runs past {kind} 4294967294, the highest id the kernel maps",
        .mapping.spec()
    )]
    TooHigh {
        /// uid or gid.
        kind: IdKind,
        /// The mapping.
        mapping: IdMapping,
    },
    /// Outer ids that are not the caller's.
    #[error("{}", not_allowed_message(*.kind, *.mapping, *.first_denied, .allowed, *.own_id))]
    NotAllowed {
        /// uid or gid.
        kind: IdKind,
        /// The mapping.
        mapping: IdMapping,
        /// The first outer id asked for that is not allowed.
        first_denied: u32,
        /// The subordinate ranges.
        allowed: Vec<SubIdRange>,
        /// The caller's own id.
        own_id: u32,
    },
    /// Two mappings share inner or outer ids.
    #[error(
        "{kind} mappings {} and {} overlap {side}; the kernel refuses overlapping lines",
        .first.spec(), .second.spec()
    )]
    Overlap {
        /// uid or gid.
        kind: IdKind,
        /// The earlier mapping.
        first: IdMapping,
        /// The later mapping.
        second: IdMapping,
        /// `"inside"` or `"outside"`.
        side: &'static str,
    },
    /// More lines than the kernel takes.
    #[error(
        "{count} {kind} mappings; the kernel accepts at most {}",
        MAX_MAP_LINES
    )]
    TooMany {
        /// uid or gid.
        kind: IdKind,
        /// How many were given.
        count: usize,
    },
}

fn not_allowed_message(
    kind: IdKind,
    mapping: IdMapping,
    first_denied: u32,
    allowed: &[SubIdRange],
    own_id: u32,
) -> String {
    let mut text = format!(
        "{kind} mapping {} asks for outer {kind}s {}, but {kind} {first_denied} is not yours to map",
        mapping.spec(),
        mapping.outer_range()
    );
    if first_denied == own_id {
        text.push_str(&format!(
            " ({} accepts your own {kind} only in a mapping of COUNT 1)",
            kind.helper()
        ));
    }
    let union = disjoint_sorted(allowed);
    text.push_str(&format!(
        "; allowed: your own {kind} {own_id} (in a mapping of COUNT 1)"
    ));
    if union.is_empty() {
        text.push_str(&format!(", and you have no subordinate {kind}s"));
    } else {
        let list: Vec<String> = union.iter().map(|r| r.to_string()).collect();
        text.push_str(&format!(" and the subordinate {kind}s {}", list.join(", ")));
    }
    text
}

/// Checks one requested mapping as `newuidmap`/`newgidmap` will: a count of at least 1, ids
/// the kernel can map, and outer ids that are all in `allowed` (the subordinate ranges), or
/// else exactly one id that is `own_id` (the caller's uid, or for gid maps its gid).
pub fn check_mapping(
    kind: IdKind,
    mapping: &IdMapping,
    allowed: &[SubIdRange],
    own_id: u32,
) -> Result<(), MappingError> {
    let m = *mapping;
    if m.count == 0 {
        return Err(MappingError::Empty { kind, mapping: m });
    }
    if m.inner.checked_add(m.count).is_none() || m.outer.checked_add(m.count).is_none() {
        return Err(MappingError::TooHigh { kind, mapping: m });
    }
    if m.count == 1 && m.outer == own_id {
        return Ok(());
    }
    let mut union = IntervalSet::default();
    for r in allowed {
        union.insert(r.start, r.end());
    }
    match union.gaps(m.outer, m.outer + m.count).first() {
        None => Ok(()),
        Some(&(first_denied, _)) => Err(MappingError::NotAllowed {
            kind,
            mapping: m,
            first_denied,
            allowed: allowed.to_vec(),
            own_id,
        }),
    }
}

/// Checks a whole map: each line with [`check_mapping`], no two lines sharing inner or outer
/// ids, and no more lines than the kernel accepts.
pub fn check_mappings(
    kind: IdKind,
    mappings: &[IdMapping],
    allowed: &[SubIdRange],
    own_id: u32,
) -> Result<(), MappingError> {
    if mappings.len() > MAX_MAP_LINES {
        return Err(MappingError::TooMany {
            kind,
            count: mappings.len(),
        });
    }
    for m in mappings {
        check_mapping(kind, m, allowed, own_id)?;
    }
    let overlap = |a: SubIdRange, b: SubIdRange| a.start < b.end() && b.start < a.end();
    for (i, a) in mappings.iter().enumerate() {
        for b in &mappings[i + 1..] {
            let side = if overlap(a.inner_range(), b.inner_range()) {
                "inside"
            } else if overlap(a.outer_range(), b.outer_range()) {
                "outside"
            } else {
                continue;
            };
            return Err(MappingError::Overlap {
                kind,
                first: *a,
                second: *b,
                side,
            });
        }
    }
    Ok(())
}

/// The union of `ranges` as disjoint ranges in their order: each keeps only ids no earlier one
/// had, and a piece that continues the previous output range is merged into it.
fn disjoint_in_order(ranges: impl IntoIterator<Item = SubIdRange>) -> Vec<SubIdRange> {
    let mut seen = IntervalSet::default();
    let mut out: Vec<SubIdRange> = Vec::new();
    for r in ranges {
        let (start, end) = (r.start, r.end());
        for (s, e) in seen.gaps(start, end) {
            match out.last_mut() {
                Some(last) if last.end() == s => last.count += e - s,
                _ => out.push(SubIdRange {
                    start: s,
                    count: e - s,
                }),
            }
        }
        seen.insert(start, end);
    }
    out
}

/// The union of `ranges`, sorted, with overlapping and adjacent ranges merged.
fn disjoint_sorted(ranges: &[SubIdRange]) -> Vec<SubIdRange> {
    let mut union = IntervalSet::default();
    for r in ranges {
        union.insert(r.start, r.end());
    }
    union
        .iter()
        .map(|(s, e)| SubIdRange {
            start: s,
            count: e - s,
        })
        .collect()
}

/// Disjoint, non-touching half-open intervals `[start, end)`, keyed by start.
#[derive(Default)]
struct IntervalSet(BTreeMap<u32, u32>);

impl IntervalSet {
    fn insert(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let (mut lo, mut hi) = (start, end);
        if let Some((&s, &e)) = self.0.range(..start).next_back() {
            if e >= start {
                lo = s;
                hi = hi.max(e);
            }
        }
        let inside: Vec<u32> = self.0.range(start..=end).map(|(&s, _)| s).collect();
        for s in inside {
            if let Some(e) = self.0.remove(&s) {
                hi = hi.max(e);
            }
        }
        self.0.insert(lo, hi);
    }

    /// The parts of `[start, end)` not in the set, in order.
    fn gaps(&self, start: u32, end: u32) -> Vec<(u32, u32)> {
        let mut gaps = Vec::new();
        if start >= end {
            return gaps;
        }
        let mut cursor = start;
        let before = self.0.range(..=start).next_back();
        let within = self.0.range(start..end).filter(|(&s, _)| s != start);
        for (&s, &e) in before.into_iter().chain(within) {
            if e <= cursor {
                continue;
            }
            if s > cursor {
                gaps.push((cursor, s.min(end)));
            }
            cursor = cursor.max(e);
            if cursor >= end {
                return gaps;
            }
        }
        if cursor < end {
            gaps.push((cursor, end));
        }
        gaps
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0.iter().map(|(&s, &e)| (s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::ffi::OsStr;
    use std::sync::Arc;

    use uzers::mock::{MockUsers, User};

    fn users(list: &[(u32, &str)]) -> MockUsers {
        let mut mock = MockUsers::with_current_uid(list.first().map_or(0, |u| u.0));
        for &(uid, name) in list {
            mock.add_user(User::new(uid, name, uid));
        }
        mock
    }

    /// A passwd with several names for one uid, which `MockUsers` (keyed by uid) cannot hold.
    struct Passwd(Vec<(u32, &'static str)>);

    impl Users for Passwd {
        fn get_user_by_uid(&self, uid: u32) -> Option<Arc<User>> {
            let &(uid, name) = self.0.iter().find(|u| u.0 == uid)?;
            Some(Arc::new(User::new(uid, name, uid)))
        }
        fn get_user_by_name<S: AsRef<OsStr> + ?Sized>(&self, name: &S) -> Option<Arc<User>> {
            let &(uid, name) = self.0.iter().find(|u| OsStr::new(u.1) == name.as_ref())?;
            Some(Arc::new(User::new(uid, name, uid)))
        }
        fn get_current_uid(&self) -> u32 {
            0
        }
        fn get_current_username(&self) -> Option<Arc<OsStr>> {
            None
        }
        fn get_effective_uid(&self) -> u32 {
            0
        }
        fn get_effective_username(&self) -> Option<Arc<OsStr>> {
            None
        }
    }

    fn r(start: u32, count: u32) -> SubIdRange {
        SubIdRange { start, count }
    }

    fn m(inner: u32, outer: u32, count: u32) -> IdMapping {
        IdMapping {
            inner,
            outer,
            count,
        }
    }

    fn skipped(diags: &[Diagnostic]) -> Vec<usize> {
        diags
            .iter()
            .filter(|d| d.severity == Severity::Skipped)
            .map(|d| d.line)
            .collect()
    }

    fn notes(diags: &[Diagnostic]) -> Vec<usize> {
        diags
            .iter()
            .filter(|d| d.severity == Severity::Note)
            .map(|d| d.line)
            .collect()
    }

    fn reason(diags: &[Diagnostic], line: usize) -> String {
        diags
            .iter()
            .filter(|d| d.line == line)
            .map(|d| d.reason.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn alice_ranges(text: &str) -> Vec<SubIdRange> {
        let (entries, _) = parse(text);
        ranges_for(&entries, "alice", &users(&[(1000, "alice"), (1001, "bob")]))
    }

    #[test]
    fn a_plain_file() {
        let (entries, diags) = parse("alice:100000:65536\nbob:165536:65536\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            entries,
            vec![
                Entry {
                    owner: "alice".into(),
                    start: 100000,
                    count: 65536,
                    line: 1
                },
                Entry {
                    owner: "bob".into(),
                    start: 165536,
                    count: 65536,
                    line: 2
                },
            ]
        );
        let db = users(&[(1000, "alice"), (1001, "bob")]);
        assert_eq!(ranges_for(&entries, "alice", &db), vec![r(100000, 65536)]);
        assert_eq!(ranges_for(&entries, "bob", &db), vec![r(165536, 65536)]);
        assert_eq!(ranges_for(&entries, "carol", &db), vec![]);
    }

    #[test]
    fn blanks_and_comments_are_ignored_silently() {
        let text =
            "\n   \n\t\n# a comment\n  # indented comment\n#alice:1:1\nalice:100000:65536\n\n";
        let (entries, diags) = parse(text);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 7);
    }

    #[test]
    fn crlf_lines_are_skipped_as_shadow_rejects_them() {
        let text = "# comment\r\n\r\nalice:100000:65536\r\nbob:200000:65536\n";
        let (entries, diags) = parse(text);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].owner, "bob");
        assert_eq!(skipped(&diags), vec![3]);
        let why = reason(&diags, 3);
        assert!(why.contains("carriage return"), "{why}");
        assert!(why.contains("dos2unix"), "{why}");
        // With a fourth field the CR is in the part shadow ignores: the line counts.
        let (entries, diags) = parse("alice:100000:65536:\r\n");
        assert_eq!(entries.len(), 1);
        assert_eq!(notes(&diags), vec![1]);
    }

    #[test]
    fn huge_numbers() {
        let text = "\
alice:18446744073709551616:1
alice:1:18446744073709551616
alice:18446744073709551615:1
alice:4294967295:1
alice:4294967294:1
bob:4294967290:100
bob:100000:4294967296
";
        let (entries, diags) = parse(text);
        assert_eq!(skipped(&diags), vec![1, 2, 3, 4]);
        assert!(reason(&diags, 1).contains("does not fit in 64 bits"));
        assert!(reason(&diags, 2).contains("does not fit in 64 bits"));
        assert!(reason(&diags, 3).contains("past 4294967294"));
        assert!(reason(&diags, 4).contains("past 4294967294"));
        assert_eq!(
            entries.iter().map(Entry::range).collect::<Vec<_>>(),
            vec![r(4294967294, 1), r(4294967290, 5), r(100000, 4294867295)]
        );
        assert_eq!(notes(&diags), vec![6, 7]);
        assert!(reason(&diags, 6).contains("only 4294967290-4294967294"));
        for e in &entries {
            assert!(e.start.checked_add(e.count).is_some());
        }
    }

    #[test]
    fn start_plus_count_overflowing_64_bits_is_skipped() {
        let (entries, diags) = parse(
            "alice:18446744073709551615:2\nalice:2:18446744073709551615\nalice:0:18446744073709551615\n",
        );
        assert_eq!(skipped(&diags), vec![1, 2]);
        assert!(reason(&diags, 1).contains("runs past 2^64"));
        // 0 + (2^64 - 1) - 1 does not wrap: shadow takes it; sbx cuts it to the kernel's ids.
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].range(), r(0, ID_END));
    }

    #[test]
    fn negative_numbers_are_skipped_but_minus_zero_is_zero() {
        let (entries, diags) = parse("alice:-1:65536\nalice:100000:-5\nalice: -7:1\nalice:-0:5\n");
        assert_eq!(skipped(&diags), vec![1, 2, 3]);
        assert!(reason(&diags, 1).contains("negative"));
        assert!(reason(&diags, 2).contains("negative"));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].range(), r(0, 5));
    }

    #[test]
    fn numbers_are_read_like_strtoul_base_0() {
        let text = "\
alice:0100000:0x10
alice: +200000:\t7
alice:08:1
alice:0x:1
alice:12abc:1
alice:100000:65536 
alice:abc:1
alice:300000:0
alice:0:0
";
        let (entries, diags) = parse(text);
        assert_eq!(
            entries.iter().map(Entry::range).collect::<Vec<_>>(),
            vec![r(32768, 16), r(200000, 7)]
        );
        assert_eq!(notes(&diags), vec![1, 1]);
        assert!(reason(&diags, 1).contains("octal"));
        assert!(reason(&diags, 1).contains("hexadecimal"));
        assert_eq!(skipped(&diags), vec![3, 4, 5, 6, 7, 8, 9]);
        assert!(reason(&diags, 3).contains("\"8\" after its digits"));
        assert!(reason(&diags, 6).contains("\" \" after its digits"));
        assert!(reason(&diags, 7).contains("is not a number"));
        assert!(reason(&diags, 8).contains("count is 0"));
        assert!(reason(&diags, 9).contains("count is 0"));
    }

    #[test]
    fn field_count_and_empty_fields() {
        let text = "alice\nalice:100000\n:1:2\nalice::2\nalice:1:\nalice:100000:65536:junk:more\n";
        let (entries, diags) = parse(text);
        assert_eq!(skipped(&diags), vec![1, 2, 3, 4, 5]);
        assert!(reason(&diags, 1).contains("1 field;"));
        assert!(reason(&diags, 2).contains("2 fields"));
        assert!(reason(&diags, 3).contains("owner field is empty"));
        assert!(reason(&diags, 4).contains("start field is empty"));
        assert!(reason(&diags, 5).contains("count field is empty"));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].range(), r(100000, 65536));
        assert_eq!(notes(&diags), vec![6]);
        assert!(reason(&diags, 6).contains(":junk:more"));
    }

    #[test]
    fn nis_long_nul_and_non_utf8_lines_are_skipped() {
        let long = format!("{}:1:1\n", "a".repeat(SHADOW_LINE_LIMIT));
        let text = format!("+alice:1:1\n-alice:1:1\n{long}alice:100000:65536\n");
        let (entries, diags) = parse(&text);
        assert_eq!(skipped(&diags), vec![1, 2, 3]);
        assert!(reason(&diags, 1).contains("NIS"));
        assert!(reason(&diags, 3).contains("1024 bytes"));
        assert_eq!(entries.len(), 1);

        let (entries, diags) = parse_bytes(b"alice:1:1\0x\n\xffalice:1:1\nalice:5:5\n");
        assert_eq!(skipped(&diags), vec![1, 2]);
        assert!(reason(&diags, 1).contains("NUL"));
        assert!(reason(&diags, 2).contains("UTF-8"));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 3);
    }

    #[test]
    fn a_missing_final_newline_is_noted() {
        let (entries, diags) = parse("alice:100000:65536");
        assert_eq!(entries.len(), 1);
        assert_eq!(notes(&diags), vec![1]);
        assert!(reason(&diags, 1).contains("Non-text file"));
        let (_, diags) = parse("alice:100000:65536\n");
        assert!(diags.is_empty());
        let (_, diags) = parse("");
        assert!(diags.is_empty());
    }

    #[test]
    fn owners_are_compared_byte_for_byte() {
        let (entries, diags) = parse("alice :100000:65536\nAlice:200000:1\n01000:300000:1\n");
        assert_eq!(entries.len(), 3);
        assert_eq!(notes(&diags), vec![1]);
        assert!(reason(&diags, 1).contains("blanks around it"));
        let db = users(&[(1000, "alice")]);
        assert_eq!(ranges_for(&entries, "alice", &db), vec![]);
    }

    #[test]
    fn rule_name_then_uid() {
        let text = "alice:100000:65536\n1000:300000:10\nbob:400000:10\n1001:500000:10\n";
        let (entries, _) = parse(text);
        let db = users(&[(1000, "alice"), (1001, "bob")]);
        let found = matching_entries(&entries, "alice", &db);
        let got: Vec<(usize, MatchKind)> = found.iter().map(|m| (m.entry.line, m.kind)).collect();
        assert_eq!(got, vec![(1, MatchKind::Name), (2, MatchKind::Uid)]);
        // Both the name line and the numeric line count: newuidmap's have_range uses the union.
        assert_eq!(
            ranges_for(&entries, "alice", &db),
            vec![r(100000, 65536), r(300000, 10)]
        );
        assert_eq!(
            ranges_for(&entries, "bob", &db),
            vec![r(400000, 10), r(500000, 10)]
        );
    }

    #[test]
    fn numeric_lines_only_when_the_name_resolves() {
        // shadow's find_range only tries the uid after getpwnam(name) succeeds.
        let (entries, _) = parse("alice:100000:10\n1000:200000:10\n");
        let db = users(&[(1001, "bob")]);
        assert_eq!(ranges_for(&entries, "alice", &db), vec![r(100000, 10)]);
    }

    #[test]
    fn numeric_lines_of_other_uids_do_not_match() {
        let (entries, _) = parse("1001:100000:10\n10000:200000:10\n100:300000:10\n");
        let db = users(&[(1000, "alice"), (1001, "bob")]);
        assert_eq!(ranges_for(&entries, "alice", &db), vec![]);
    }

    #[test]
    fn a_user_named_with_digits() {
        // A user literally named "1000" (uid 1001) and bob, whose uid is 1000. The line "1000:"
        // is the first's by name and bob's by uid: shadow gives it to both.
        let (entries, _) = parse("1000:100000:10\n1001:200000:10\n");
        let db = users(&[(1001, "1000"), (1000, "bob")]);
        let named: Vec<(usize, MatchKind)> = matching_entries(&entries, "1000", &db)
            .iter()
            .map(|m| (m.entry.line, m.kind))
            .collect();
        assert_eq!(named, vec![(1, MatchKind::Name), (2, MatchKind::Uid)]);
        let bob: Vec<(usize, MatchKind)> = matching_entries(&entries, "bob", &db)
            .iter()
            .map(|m| (m.entry.line, m.kind))
            .collect();
        // Line 1 is bob's by uid; line 2 ("1001") is not bob's uid, and the account named
        // "1001" does not exist.
        assert_eq!(bob, vec![(1, MatchKind::Uid)]);
    }

    #[test]
    fn a_numeric_owner_is_also_tried_as_a_name() {
        // carol has uid 1001; an account named "1000" also has uid 1001. The line "1000:" is
        // not carol's uid, but getpwnam("1000") resolves to her uid: shadow's pass 2 takes it.
        let (entries, _) = parse("1000:100000:10\n");
        let db = Passwd(vec![(1001, "carol"), (1001, "1000"), (1000, "bob")]);
        let carol: Vec<MatchKind> = matching_entries(&entries, "carol", &db)
            .iter()
            .map(|m| m.kind)
            .collect();
        assert_eq!(carol, vec![MatchKind::Alias]);
        let bob: Vec<MatchKind> = matching_entries(&entries, "bob", &db)
            .iter()
            .map(|m| m.kind)
            .collect();
        assert_eq!(bob, vec![MatchKind::Uid]);
    }

    #[test]
    fn rule_other_names_with_the_same_uid() {
        let text = "toor:100000:10\nroot:200000:10\nnobody:300000:10\nghost:400000:10\n";
        let (entries, _) = parse(text);
        let db = Passwd(vec![(0, "root"), (0, "toor"), (65534, "nobody")]);
        let got: Vec<(usize, MatchKind)> = matching_entries(&entries, "root", &db)
            .iter()
            .map(|m| (m.entry.line, m.kind))
            .collect();
        assert_eq!(got, vec![(1, MatchKind::Alias), (2, MatchKind::Name)]);
        assert_eq!(
            ranges_for(&entries, "toor", &db),
            vec![r(100000, 10), r(200000, 10)]
        );
    }

    #[test]
    fn duplicates_and_overlaps_give_disjoint_ranges() {
        let text = "\
alice:100000:65536
alice:100000:65536
alice:150000:65536
1000:120000:10
alice:90000:20000
";
        // Line 3 adds 165536..215536, merged into line 1's range; line 4 adds nothing; line 5
        // adds 90000..100000 (after, in file order).
        assert_eq!(alice_ranges(text), vec![r(100000, 115536), r(90000, 10000)]);
    }

    #[test]
    fn adjacent_ranges_are_combined() {
        assert_eq!(
            alice_ranges("alice:100000:1000\nalice:101000:1000\n1000:102000:1\n"),
            vec![r(100000, 2001)]
        );
        // Adjacent only out of file order: kept apart here, merged by auto_map.
        let ranges = alice_ranges("alice:100:100\nalice:300:100\nalice:200:100\n");
        assert_eq!(ranges, vec![r(100, 100), r(300, 100), r(200, 100)]);
        assert_eq!(auto_map(1000, &ranges), vec![m(0, 1000, 1), m(1, 100, 300)]);
    }

    #[test]
    fn a_request_may_span_adjacent_lines_like_have_range() {
        let allowed = alice_ranges("alice:100000:1000\nbob:101000:1000\n1000:101000:1000\n");
        assert_eq!(allowed, vec![r(100000, 2000)]);
        assert_eq!(
            check_mapping(IdKind::Uid, &m(1, 100000, 2000), &allowed, 1000),
            Ok(())
        );
        let err = check_mapping(IdKind::Uid, &m(1, 100000, 2001), &allowed, 1000).unwrap_err();
        assert!(matches!(
            err,
            MappingError::NotAllowed {
                first_denied: 102000,
                ..
            }
        ));
    }

    #[test]
    fn the_own_id_only_as_a_single_id() {
        let allowed = [r(1001, 10)];
        assert_eq!(
            check_mapping(IdKind::Uid, &m(0, 1000, 1), &allowed, 1000),
            Ok(())
        );
        assert_eq!(
            check_mapping(IdKind::Uid, &m(0, 1001, 10), &allowed, 1000),
            Ok(())
        );
        let err = check_mapping(IdKind::Uid, &m(0, 1000, 2), &allowed, 1000).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("uid mapping 0:1000:2"), "{text}");
        assert!(text.contains("COUNT 1"), "{text}");
        let err = check_mapping(IdKind::Gid, &m(0, 1000, 1), &[], 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gid mapping 0:1000:1 asks for outer gids 1000, but gid 1000 is not yours to map; \
             allowed: your own gid 100 (in a mapping of COUNT 1), and you have no subordinate gids"
        );
    }

    #[test]
    fn the_error_names_the_request_and_the_allowed_ranges() {
        let allowed = [r(200000, 10), r(100000, 65536)];
        let err = check_mapping(IdKind::Uid, &m(1, 100000, 70000), &allowed, 1000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "uid mapping 1:100000:70000 asks for outer uids 100000-169999, but uid 165536 is not \
             yours to map; allowed: your own uid 1000 (in a mapping of COUNT 1) and the \
             subordinate uids 100000-165535, 200000-200009"
        );
    }

    #[test]
    fn mapping_checks() {
        let allowed = [r(100000, 65536)];
        let check = |maps: &[IdMapping]| check_mappings(IdKind::Uid, maps, &allowed, 1000);
        assert_eq!(check(&[m(0, 1000, 1), m(1, 100000, 65536)]), Ok(()));
        assert!(matches!(
            check(&[m(0, 100000, 0)]),
            Err(MappingError::Empty { .. })
        ));
        assert!(matches!(
            check(&[m(4294967290, 100000, 10)]),
            Err(MappingError::TooHigh { .. })
        ));
        assert!(matches!(
            check(&[m(0, 100000, 10), m(5, 100100, 10)]),
            Err(MappingError::Overlap { side: "inside", .. })
        ));
        assert!(matches!(
            check(&[m(0, 100000, 10), m(100, 100005, 10)]),
            Err(MappingError::Overlap {
                side: "outside",
                ..
            })
        ));
        let many: Vec<IdMapping> = (0..341).map(|i| m(i, 100000 + i, 1)).collect();
        assert!(matches!(
            check(&many),
            Err(MappingError::TooMany { count: 341, .. })
        ));
        assert_eq!(check(&many[..340]), Ok(()));
        // The highest id the kernel maps, and one past it.
        let top = [r(4294967290, 5)];
        assert_eq!(
            check_mapping(IdKind::Uid, &m(1, 4294967290, 5), &top, 0),
            Ok(())
        );
        assert!(check_mapping(IdKind::Uid, &m(1, 4294967290, 6), &top, 0).is_err());
    }

    #[test]
    fn auto_map_like_podman() {
        assert_eq!(
            auto_map(1000, &[r(100000, 65536)]),
            vec![m(0, 1000, 1), m(1, 100000, 65536)]
        );
        assert_eq!(
            auto_map(1000, &[r(300000, 10), r(100000, 65536), r(100005, 3)])
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["0 1000 1", "1 100000 65536", "65537 300000 10"]
        );
        assert_eq!(auto_map(1000, &[]), vec![m(0, 1000, 1)]);
    }

    #[test]
    fn auto_map_leaves_out_the_callers_own_id() {
        assert_eq!(
            auto_map(1000, &[r(990, 20)]),
            vec![m(0, 1000, 1), m(1, 990, 10), m(11, 1001, 9)]
        );
        assert_eq!(auto_map(1000, &[r(1000, 1)]), vec![m(0, 1000, 1)]);
    }

    #[test]
    fn auto_map_stays_in_the_kernels_limits() {
        let big = [r(1, ID_END - 1)];
        let map = auto_map(0, &big);
        assert_eq!(map, vec![m(0, 0, 1), m(1, 1, ID_END - 1)]);
        assert_eq!(check_mappings(IdKind::Uid, &map, &big, 0), Ok(()));

        let scattered: Vec<SubIdRange> = (0..1000).map(|i| r(100000 + 2 * i, 1)).collect();
        let map = auto_map(1000, &scattered);
        assert_eq!(map.len(), MAX_MAP_LINES);
        assert_eq!(check_mappings(IdKind::Uid, &map, &scattered, 1000), Ok(()));
    }

    #[test]
    fn auto_map_passes_the_checks() {
        let ranges = alice_ranges("alice:100000:10\n1000:99990:20\nalice:995:10\n");
        let map = auto_map(1000, &ranges);
        assert_eq!(check_mappings(IdKind::Uid, &map, &ranges, 1000), Ok(()));
    }

    #[test]
    fn mapping_syntax() {
        assert_eq!("0:100000:65536".parse(), Ok(m(0, 100000, 65536)));
        assert_eq!(m(1, 100000, 65536).to_string(), "1 100000 65536");
        assert_eq!(m(1, 100000, 65536).spec(), "1:100000:65536");
        for bad in [
            "",
            "1:2",
            "1:2:3:4",
            "a:1:1",
            "1::1",
            "-1:1:1",
            "1:1:4294967296",
        ] {
            let err = bad.parse::<IdMapping>().unwrap_err();
            assert!(err.to_string().contains("INNER:OUTER:COUNT"), "{err}");
        }
    }

    #[test]
    fn nsswitch() {
        assert_eq!(
            nsswitch_subid_source("passwd: files\nsubid: sss\n"),
            Some("sss")
        );
        assert_eq!(nsswitch_subid_source("SUBID:\tsss files\n"), Some("sss"));
        assert_eq!(nsswitch_subid_source("subid:ldap"), Some("ldap"));
        assert_eq!(nsswitch_subid_source("subid: sss\r\n"), Some("sss"));
        assert_eq!(nsswitch_subid_source("subid:\nsubid: sss\n"), Some("sss"));
        assert_eq!(nsswitch_subid_source("subid: files\n"), None);
        assert_eq!(nsswitch_subid_source("subid: files sss\n"), None);
        assert_eq!(nsswitch_subid_source("#subid: sss\n"), None);
        assert_eq!(nsswitch_subid_source("  subid: sss\n"), None);
        assert_eq!(nsswitch_subid_source("subids: sss\n"), None);
        assert_eq!(nsswitch_subid_source("passwd: files\ngroup: files\n"), None);
        assert_eq!(nsswitch_subid_source(""), None);
        let long = format!("subid: {}\n", "x".repeat(51));
        assert_eq!(nsswitch_subid_source(&long), None);
    }

    #[test]
    fn getsubids_output() {
        let out = "0: alice 100000 65536\n1: alice 165536 10\n2: alice 300000 0\nError\n\n3: my user 400000 5\n4: alice -1 5\n";
        let (ranges, diags) = parse_getsubids(out);
        assert_eq!(ranges, vec![r(100000, 65546), r(400000, 5)]);
        assert_eq!(skipped(&diags), vec![3, 4, 7]);
        assert!(reason(&diags, 3).contains("count is 0"));
        assert!(reason(&diags, 4).contains("N: OWNER START COUNT"));
        assert!(reason(&diags, 7).contains("not a number"));
        let (ranges, diags) = parse_getsubids("");
        assert!(ranges.is_empty() && diags.is_empty());
    }

    #[test]
    fn read_ranges_from_a_file() {
        let dir = std::env::temp_dir().join(format!("sbx-subid-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("subuid");
        std::fs::write(&path, "alice:100000:65536\nalice:0:0\n").unwrap();
        let db = users(&[(1000, "alice")]);
        let (ranges, diags) = read_ranges(&path, "alice", &db).unwrap();
        assert_eq!(ranges, vec![r(100000, 65536)]);
        assert_eq!(skipped(&diags), vec![2]);
        let missing = read_ranges(&dir.join("absent"), "alice", &db).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn diagnostics_display() {
        let (_, diags) = parse("alice:1:0\nalice:0x10:1\n");
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with("line 1: skipped: the count is 0"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("line 2: note: the start \"0x10\""),
            "{text:?}"
        );
    }

    #[test]
    fn id_kinds() {
        assert_eq!(IdKind::Uid.file(), "/etc/subuid");
        assert_eq!(IdKind::Gid.helper(), "newgidmap");
        assert_eq!(IdKind::Gid.getsubids_args("alice"), vec!["-g", "alice"]);
        assert_eq!(IdKind::Uid.getsubids_args("alice"), vec!["alice"]);
    }

    #[test]
    fn interval_set() {
        let mut set = IntervalSet::default();
        set.insert(10, 20);
        set.insert(30, 40);
        assert_eq!(set.gaps(0, 50), vec![(0, 10), (20, 30), (40, 50)]);
        assert_eq!(set.gaps(10, 20), vec![]);
        assert_eq!(set.gaps(15, 35), vec![(20, 30)]);
        set.insert(20, 30);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![(10, 40)]);
        set.insert(5, 45);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![(5, 45)]);
        set.insert(50, ID_END);
        assert_eq!(set.gaps(0, ID_END), vec![(0, 5), (45, 50)]);
    }

    #[test]
    fn subid_range_helpers() {
        assert_eq!(SubIdRange::new(1, 0), None);
        assert_eq!(SubIdRange::new(ID_END, 1), None);
        assert_eq!(SubIdRange::new(ID_END - 1, 1), Some(r(ID_END - 1, 1)));
        assert!(r(10, 5).contains(14) && !r(10, 5).contains(15) && !r(10, 5).contains(9));
        assert_eq!(r(10, 5).to_string(), "10-14");
        assert_eq!(r(10, 1).to_string(), "10");
    }
}
