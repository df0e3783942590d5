//! Fuzzes the /etc/subuid parser and shadow's matching rules (`sbx::idmap::subid`).
//!
//! Run from the repository root: `cargo fuzz run subid` (on a stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run subid`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbx::idmap::subid::{
    auto_map, check_mapping, check_mappings, matching_entries, nsswitch_subid_source, parse,
    parse_bytes, parse_getsubids, ranges_for, Diagnostic, Entry, IdKind, IdMapping, SubIdRange,
    ID_END,
};
use uzers::mock::{MockUsers, User};

/// Who is asking: a plain user, a user whose *name* is digits, root, and an unknown name.
const QUERIES: [&str; 4] = ["alice", "1000", "root", "ghost"];

fn users() -> MockUsers {
    let mut db = MockUsers::with_current_uid(1000);
    for (uid, name) in [
        (1000, "alice"),
        (1001, "1000"),
        (0, "root"),
        (65534, "nobody"),
    ] {
        db.add_user(User::new(uid, name, uid));
    }
    db
}

/// Every range holds at least one id and ends at or below `ID_END`.
fn assert_sound(ranges: &[SubIdRange]) {
    for r in ranges {
        assert!(r.count > 0, "empty range {r:?}");
        assert!(
            r.start
                .checked_add(r.count)
                .is_some_and(|end| end <= ID_END),
            "range {r:?} overflows"
        );
    }
}

/// Ranges are pairwise disjoint.
fn assert_disjoint(ranges: &[SubIdRange]) {
    let mut sorted = ranges.to_vec();
    sorted.sort();
    for pair in sorted.windows(2) {
        assert!(pair[0].end() <= pair[1].start, "overlap: {pair:?}");
    }
}

/// Every id of `inner` is in the union of `outer` (checked through the mapping validator).
fn assert_covered(inner: &[SubIdRange], outer: &[SubIdRange]) {
    for r in inner {
        let asked = IdMapping {
            inner: 1,
            outer: r.start,
            count: r.count.min(ID_END - 1),
        };
        // ID_END is never a range start, so the own-id exception cannot hide a gap.
        if let Err(e) = check_mapping(IdKind::Uid, &asked, outer, ID_END) {
            panic!("{r:?} not covered by {outer:?}: {e}");
        }
    }
}

fn check_entries(entries: &[Entry], diagnostics: &[Diagnostic], lines: usize) {
    let mut previous = 0;
    for e in entries {
        assert!(
            e.line > previous && e.line <= lines,
            "line numbers: {entries:?}"
        );
        previous = e.line;
        assert!(!e.owner.is_empty() && !e.owner.contains([':', '\n', '\0']));
        assert_sound(&[e.range()]);
    }
    for d in diagnostics {
        assert!(
            d.line >= 1 && d.line <= lines,
            "diagnostic line {d:?} of {lines}"
        );
        assert!(!d.reason.is_empty());
        let _ = d.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();

    let (raw_entries, raw_diagnostics) = parse_bytes(data);
    check_entries(&raw_entries, &raw_diagnostics, lines);

    let text = String::from_utf8_lossy(data);
    let (entries, diagnostics) = parse(&text);
    check_entries(&entries, &diagnostics, lines);

    let db = users();
    for name in QUERIES {
        let ranges = ranges_for(&entries, name, &db);
        assert_sound(&ranges);
        assert_disjoint(&ranges);
        // The ranges are exactly the union of the matching lines.
        let matched: Vec<SubIdRange> = matching_entries(&entries, name, &db)
            .iter()
            .map(|m| m.entry.range())
            .collect();
        assert_covered(&matched, &ranges);
        assert_covered(&ranges, &matched);

        // The --map-auto map is accepted by the same rules newuidmap applies.
        let caller = entries.first().map_or(1000, |e| e.start);
        let map = auto_map(caller, &ranges);
        assert_eq!(
            map[0],
            IdMapping {
                inner: 0,
                outer: caller,
                count: 1
            }
        );
        if let Err(e) = check_mappings(IdKind::Uid, &map, &ranges, caller) {
            panic!("auto map {map:?} for {ranges:?} refused: {e}");
        }
    }

    let (ranges, diagnostics) = parse_getsubids(&text);
    assert_sound(&ranges);
    assert_disjoint(&ranges);
    for d in &diagnostics {
        assert!(d.line >= 1 && d.line <= lines);
    }

    if let Some(source) = nsswitch_subid_source(&text) {
        assert!(!source.is_empty() && source != "files" && !source.contains([' ', '\t', '\n']));
    }

    for line in text.lines() {
        if let Ok(mapping) = line.parse::<IdMapping>() {
            let _ = check_mapping(IdKind::Gid, &mapping, &ranges, 1000);
        }
    }
});
