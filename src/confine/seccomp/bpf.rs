//! The classic-BPF code generator: a filter program out of a per-syscall decision table.
//!
//! Layout of every program (instruction numbers for x86_64; aarch64 has no 4 to 6):
//!
//! ```text
//!  0  ld  arch
//!  1  jeq AUDIT_ARCH_X86_64 ? 3 : 2
//!  2  ret KILL_PROCESS                   ; i386 (int 0x80) or any other foreign arch
//!  3  ld  nr
//!  4  jge 0x40000000 ? 5 : 7             ; x86_64 only: the x32 bit, ...
//!  5  jeq 0xffffffff ? 7 : 6             ; ... except nr -1 (a tracer skipping a syscall)
//!  6  ret KILL_PROCESS                   ; x32 syscall
//!  7  binary search tree on nr (jge), whose leaves are `ret ACTION` or, for a syscall with
//!     argument rules, that syscall's block: per rule `ld arg`, `jxx` (and `and` for
//!     masked-eq) and `ret RULE_ACTION`; then `ret BASE_ACTION`.
//!  .. blocks shared by several syscalls (rules given for a group, or equal rules), after the
//!     tree, reached by `ja`.
//! ```
//!
//! [`disassemble`] prints a program in this notation (see `precomputed.rs`).
//!
//! The tree partitions the whole range of `nr` into intervals of equal outcome, so that each
//! path loads only `arch` and `nr` until it reaches the block of a syscall with argument rules.
//! That is what lets the kernel's constant-action cache (Linux 5.11+) emulate the filter for
//! every syscall number and skip running it for the syscalls it always allows: only syscalls
//! with argument rules (and denied ones, and foreign ABIs) ever execute the filter.

use seccompiler::sock_filter;

// From <linux/bpf_common.h>, <linux/filter.h> and <linux/seccomp.h>.
/// BPF_LD | BPF_W | BPF_ABS (all but BPF_ABS are 0).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
const BPF_JA: u16 = 0x05;
const BPF_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JGT_K: u16 = 0x05 | 0x20;
const BPF_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
/// BPF_MAXINSNS: the kernel refuses longer programs.
pub const MAX_INSNS: usize = 4096;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// Offsets in `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const OFF_ARGS: u32 = 16;

/// The x32 ABI bit of x86_64 syscall numbers (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The architectures sbx compiles filters for (both little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture sbx is built for, if it is one of them.
    pub const fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// `AUDIT_ARCH_*`, the value of `seccomp_data.arch` for native syscalls.
    pub const fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => 0xc000_003e,
            Arch::Aarch64 => 0xc000_00b7,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

pub const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Comparison of one syscall argument, already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    MaskedEq(u64),
    Gt,
    Ge,
    Lt,
    Le,
}

/// `arg[index] <cmp> value`, on the low 32 bits of the argument or on all 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub cmp: Cmp,
    pub value: u64,
    pub full64: bool,
}

/// A first-match rule of a syscall: if every condition holds, return `ret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub conds: Vec<Cond>,
    pub ret: u32,
}

/// What the filter does with one syscall number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Always this action.
    Ret(u32),
    /// The first rule that matches decides; `base` when none does.
    Rules { rules: Vec<Rule>, base: u32 },
}

/// Where a jump of a condition goes: the next instruction, past the condition (it holds) or
/// past the rule's `ret` (it does not).
#[derive(Clone, Copy)]
enum Target {
    Next,
    Pass,
    Fail,
}

type Insn = (u16, u32, Target, Target);

fn cond_code(c: &Cond) -> Vec<Insn> {
    use Target::{Fail, Next, Pass};
    let lo_off = OFF_ARGS + 8 * u32::from(c.index);
    let hi_off = lo_off + 4;
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let ld = |off| (BPF_LD_W_ABS, off, Next, Next);
    let j = |code, k, jt, jf| (code, k, jt, jf);
    if !c.full64 {
        return match c.cmp {
            Cmp::Eq => vec![ld(lo_off), j(BPF_JEQ_K, lo, Pass, Fail)],
            Cmp::Ne => vec![ld(lo_off), j(BPF_JEQ_K, lo, Fail, Pass)],
            Cmp::MaskedEq(m) => vec![
                ld(lo_off),
                (BPF_ALU_AND_K, m as u32, Next, Next),
                j(BPF_JEQ_K, lo, Pass, Fail),
            ],
            Cmp::Gt => vec![ld(lo_off), j(BPF_JGT_K, lo, Pass, Fail)],
            Cmp::Ge => vec![ld(lo_off), j(BPF_JGE_K, lo, Pass, Fail)],
            Cmp::Lt => vec![ld(lo_off), j(BPF_JGE_K, lo, Fail, Pass)],
            Cmp::Le => vec![ld(lo_off), j(BPF_JGT_K, lo, Fail, Pass)],
        };
    }
    // 64-bit unsigned comparisons: decide on the high word unless it is equal.
    match c.cmp {
        Cmp::Eq => vec![
            ld(hi_off),
            j(BPF_JEQ_K, hi, Next, Fail),
            ld(lo_off),
            j(BPF_JEQ_K, lo, Pass, Fail),
        ],
        Cmp::Ne => vec![
            ld(hi_off),
            j(BPF_JEQ_K, hi, Next, Pass),
            ld(lo_off),
            j(BPF_JEQ_K, lo, Fail, Pass),
        ],
        Cmp::MaskedEq(m) => vec![
            ld(hi_off),
            (BPF_ALU_AND_K, (m >> 32) as u32, Next, Next),
            j(BPF_JEQ_K, hi, Next, Fail),
            ld(lo_off),
            (BPF_ALU_AND_K, m as u32, Next, Next),
            j(BPF_JEQ_K, lo, Pass, Fail),
        ],
        Cmp::Gt | Cmp::Ge | Cmp::Lt | Cmp::Le => {
            // Gt and Ge hold when the high word is greater; Lt and Le when it is smaller.
            let (above, below) = match c.cmp {
                Cmp::Gt | Cmp::Ge => (Pass, Fail),
                _ => (Fail, Pass),
            };
            let low = match c.cmp {
                Cmp::Gt => j(BPF_JGT_K, lo, Pass, Fail),
                Cmp::Ge => j(BPF_JGE_K, lo, Pass, Fail),
                Cmp::Lt => j(BPF_JGE_K, lo, Fail, Pass),
                _ => j(BPF_JGT_K, lo, Fail, Pass),
            };
            vec![
                ld(hi_off),
                j(BPF_JGT_K, hi, above, Next),
                j(BPF_JEQ_K, hi, Next, below),
                ld(lo_off),
                low,
            ]
        }
    }
}

/// Code for one rule: its conditions, then `ret`. A failed condition jumps to the instruction
/// after the rule. Errors when a jump would not fit the 8-bit offsets of conditional jumps.
fn rule_code(rule: &Rule) -> Result<Vec<sock_filter>, usize> {
    let mut pending: Vec<(Insn, usize)> = Vec::new();
    for c in &rule.conds {
        let code = cond_code(c);
        let end = pending.len() + code.len();
        pending.extend(code.into_iter().map(|i| (i, end)));
    }
    let rule_end = pending.len() + 1;
    let mut out = Vec::with_capacity(rule_end);
    for (at, ((code, k, jt, jf), cond_end)) in pending.into_iter().enumerate() {
        let resolve = |t| -> Result<u8, usize> {
            let to = match t {
                Target::Next => at + 1,
                Target::Pass => cond_end,
                Target::Fail => rule_end,
            };
            u8::try_from(to - at - 1).map_err(|_| rule_end)
        };
        out.push(jump(code, k, resolve(jt)?, resolve(jf)?));
    }
    out.push(stmt(BPF_RET_K, rule.ret));
    Ok(out)
}

/// A syscall's block: each rule in turn, then `ret base`.
fn block_code(rules: &[Rule], base: u32) -> Result<Vec<sock_filter>, usize> {
    let mut out = Vec::new();
    for rule in rules {
        if rule.conds.is_empty() {
            // Unconditional: the rules after it can never run.
            out.push(stmt(BPF_RET_K, rule.ret));
            return Ok(out);
        }
        out.extend(rule_code(rule)?);
    }
    out.push(stmt(BPF_RET_K, base));
    Ok(out)
}

/// What an interval of syscall numbers leads to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf {
    /// `ret` this action.
    Ret(u32),
    /// This block, inline (its only user).
    Inline(usize),
    /// `ja` to this block, after the tree (it has several users).
    Shared(usize),
}

/// A balanced binary search on `nr` over intervals, each `(first nr, leaf)`, sorted and
/// covering every number from the first one up. Every jump is forward into a subtree whose
/// size is known, so a too-long jump becomes a `ja` (32-bit offset) trampoline.
struct Tree<'a> {
    blocks: &'a [Vec<sock_filter>],
    /// Where each shared block starts in the program.
    shared_at: &'a [usize],
}

impl Tree<'_> {
    fn size(&self, intervals: &[(u32, Leaf)]) -> usize {
        match intervals {
            [(_, Leaf::Inline(id))] => self.blocks[*id].len(),
            [_] => 1,
            _ => {
                let (left, right) = intervals.split_at(intervals.len() / 2);
                let left = self.size(left);
                usize::from(left > 255) + 1 + left + self.size(right)
            }
        }
    }

    fn emit(&self, intervals: &[(u32, Leaf)], out: &mut Vec<sock_filter>) {
        match intervals {
            [(_, Leaf::Ret(ret))] => out.push(stmt(BPF_RET_K, *ret)),
            [(_, Leaf::Inline(id))] => out.extend_from_slice(&self.blocks[*id]),
            [(_, Leaf::Shared(id))] => {
                let from = out.len() + 1;
                out.push(stmt(BPF_JA, (self.shared_at[*id] - from) as u32));
            }
            _ => {
                let (left, right) = intervals.split_at(intervals.len() / 2);
                let pivot = right[0].0;
                let skip = self.size(left);
                match u8::try_from(skip) {
                    Ok(skip) => out.push(jump(BPF_JGE_K, pivot, skip, 0)),
                    Err(_) => {
                        out.push(jump(BPF_JGE_K, pivot, 0, 1));
                        out.push(stmt(BPF_JA, skip as u32));
                    }
                }
                self.emit(left, out);
                self.emit(right, out);
            }
        }
    }
}

/// Why a program could not be generated.
#[derive(Debug, PartialEq, Eq)]
pub enum GenError {
    /// The rules of syscall `nr` make a rule longer than a conditional jump can skip.
    RuleTooLong { nr: u32, len: usize },
    /// The whole program is longer than BPF_MAXINSNS.
    TooLong(usize),
}

/// The filter program for `arch`: `outcomes` for the listed syscall numbers, `default` for the
/// others; foreign architectures and (on x86_64) x32 syscalls are killed.
pub fn generate(
    arch: Arch,
    outcomes: &std::collections::BTreeMap<u32, Outcome>,
    default: u32,
) -> Result<Vec<sock_filter>, GenError> {
    let mut prog = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, arch.audit_arch(), 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    if arch == Arch::X86_64 {
        prog.extend([
            jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 2),
            jump(BPF_JEQ_K, u32::MAX, 1, 0),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
        ]);
    }

    // The code of each distinct block of rules; a block used by several syscalls (rules given
    // for a group) is emitted once, after the tree, and their leaves jump to it.
    let mut blocks: Vec<Vec<sock_filter>> = Vec::new();
    let mut users: Vec<usize> = Vec::new();
    let mut leaves: Vec<(u32, Leaf)> = Vec::with_capacity(outcomes.len());
    for (&nr, outcome) in outcomes {
        let leaf = match outcome {
            Outcome::Ret(ret) => Leaf::Ret(*ret),
            Outcome::Rules { rules, base } => {
                let code =
                    block_code(rules, *base).map_err(|len| GenError::RuleTooLong { nr, len })?;
                let id = blocks.iter().position(|b| *b == code).unwrap_or_else(|| {
                    blocks.push(code);
                    users.push(0);
                    blocks.len() - 1
                });
                users[id] += 1;
                Leaf::Inline(id)
            }
        };
        leaves.push((nr, leaf));
    }

    // Intervals of equal outcome over all of u32; neighbours that return the same, or jump to
    // the same shared block, merge.
    let mut intervals: Vec<(u32, Leaf)> = Vec::with_capacity(2 * leaves.len() + 1);
    let mut push = |first: u32, leaf: Leaf| {
        let leaf = match leaf {
            Leaf::Inline(id) if users[id] > 1 => Leaf::Shared(id),
            other => other,
        };
        match intervals.last() {
            Some((_, last)) if *last == leaf && !matches!(leaf, Leaf::Inline(_)) => {}
            _ => intervals.push((first, leaf)),
        }
    };
    let mut next: u64 = 0;
    for (nr, leaf) in leaves {
        if u64::from(nr) > next {
            push(next as u32, Leaf::Ret(default));
        }
        push(nr, leaf);
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(u32::MAX) {
        push(next as u32, Leaf::Ret(default));
    }

    // Sizes first (the shared blocks go after the tree), then the code in one pass.
    let mut shared_at = vec![0; blocks.len()];
    let mut tree = Tree {
        blocks: &blocks,
        shared_at: &[],
    };
    let mut len = prog.len() + tree.size(&intervals);
    for (id, block) in blocks.iter().enumerate() {
        if users[id] > 1 {
            shared_at[id] = len;
            len += block.len();
        }
    }
    if len > MAX_INSNS {
        return Err(GenError::TooLong(len));
    }
    prog.reserve_exact(len - prog.len());
    tree.shared_at = &shared_at;
    tree.emit(&intervals, &mut prog);
    for (id, block) in blocks.iter().enumerate() {
        if users[id] > 1 {
            prog.extend_from_slice(block);
        }
    }
    debug_assert_eq!(prog.len(), len);
    Ok(prog)
}

/// One line per instruction, `pc: instruction`, with absolute jump targets and the names of
/// syscall numbers that `nr` is compared with (`name` maps a number to a name).
pub fn disassemble(
    prog: &[sock_filter],
    name: impl Fn(u32) -> Option<&'static str>,
) -> Vec<String> {
    // What the accumulator holds on entry to each instruction: the offset last loaded, found
    // by following the (forward-only) jumps; MIXED where paths disagree.
    const MIXED: u32 = u32::MAX;
    let mut holds: Vec<Option<u32>> = vec![None; prog.len() + 1];
    holds[0] = Some(MIXED);
    let mut out = Vec::with_capacity(prog.len());
    for (pc, insn) in prog.iter().enumerate() {
        let k = insn.k;
        let loaded = holds[pc].unwrap_or(MIXED);
        let mut flow = |to: usize, value: u32| {
            if let Some(slot) = holds.get_mut(to) {
                *slot = match *slot {
                    None => Some(value),
                    Some(old) if old == value => Some(old),
                    Some(_) => Some(MIXED),
                };
            }
        };
        let text = match insn.code {
            BPF_LD_W_ABS => {
                flow(pc + 1, k);
                match k {
                    OFF_NR => "ld nr".to_string(),
                    OFF_ARCH => "ld arch".to_string(),
                    _ if k >= OFF_ARGS => {
                        let half = if (k - OFF_ARGS) % 8 == 0 { "lo" } else { "hi" };
                        format!("ld arg{}.{half}", (k - OFF_ARGS) / 8)
                    }
                    _ => format!("ld [{k}]"),
                }
            }
            BPF_ALU_AND_K => {
                flow(pc + 1, MIXED);
                format!("and {k:#x}")
            }
            BPF_JA => {
                flow(pc + 1 + k as usize, loaded);
                format!("ja {}", pc + 1 + k as usize)
            }
            BPF_JEQ_K | BPF_JGT_K | BPF_JGE_K => {
                let op = match insn.code {
                    BPF_JEQ_K => "jeq",
                    BPF_JGT_K => "jgt",
                    _ => "jge",
                };
                let value = match (loaded, name(k)) {
                    (OFF_NR, Some(n)) => format!("{k} ({n})"),
                    (OFF_NR, None) if k < X32_SYSCALL_BIT => format!("{k}"),
                    (OFF_ARCH, _) if k == Arch::X86_64.audit_arch() => "AUDIT_ARCH_X86_64".into(),
                    (OFF_ARCH, _) if k == Arch::Aarch64.audit_arch() => "AUDIT_ARCH_AARCH64".into(),
                    _ => format!("{k:#x}"),
                };
                let (t, f) = (pc + 1 + usize::from(insn.jt), pc + 1 + usize::from(insn.jf));
                flow(t, loaded);
                flow(f, loaded);
                format!("{op} {value} ? {t} : {f}")
            }
            BPF_RET_K => match k {
                RET_ALLOW => "ret ALLOW".to_string(),
                RET_KILL_PROCESS => "ret KILL_PROCESS".to_string(),
                RET_TRAP => "ret TRAP".to_string(),
                RET_LOG => "ret LOG".to_string(),
                _ if k & 0xffff_0000 == RET_ERRNO => {
                    let errno = nix::errno::Errno::from_raw((k & 0xffff) as i32);
                    format!("ret ERRNO({errno:?})")
                }
                _ => format!("ret {k:#x}"),
            },
            code => format!("{code:#06x} {k:#x} {} {}", insn.jt, insn.jf),
        };
        out.push(format!("{pc}: {text}"));
    }
    out
}

/// A classic-BPF interpreter for seccomp programs, for tests: what the kernel would return for
/// this `seccomp_data`, or, with `args == None`, the kernel's constant-action emulation
/// (`seccomp_is_const_allow`): `Some(action)` when the path reads only `nr` and `arch`.
#[cfg(test)]
pub fn run(prog: &[sock_filter], arch: u32, nr: u32, args: Option<[u64; 6]>) -> Option<u32> {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let insn = prog.get(pc)?;
        let k = insn.k;
        pc += 1;
        match insn.code {
            BPF_LD_W_ABS => {
                a = match k {
                    OFF_NR => nr,
                    OFF_ARCH => arch,
                    off if (OFF_ARGS..OFF_ARGS + 48).contains(&off) && off % 4 == 0 => {
                        let arg = args?[((off - OFF_ARGS) / 8) as usize];
                        if (off - OFF_ARGS) % 8 == 0 {
                            arg as u32
                        } else {
                            (arg >> 32) as u32
                        }
                    }
                    _ => panic!("load from offset {k}"),
                }
            }
            BPF_ALU_AND_K => a &= k,
            BPF_JA => pc += k as usize,
            BPF_JEQ_K | BPF_JGT_K | BPF_JGE_K => {
                let taken = match insn.code {
                    BPF_JEQ_K => a == k,
                    BPF_JGT_K => a > k,
                    _ => a >= k,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            BPF_RET_K => return Some(k),
            code => panic!("unexpected instruction {code:#x}"),
        }
    }
}

/// The structural checks of the kernel's `bpf_check_classic` that can fail for our programs:
/// every jump lands inside the program and the last instruction returns.
#[cfg(test)]
pub fn check(prog: &[sock_filter]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(format!("length {}", prog.len()));
    }
    for (pc, insn) in prog.iter().enumerate() {
        let targets = match insn.code {
            BPF_JA => vec![pc + 1 + insn.k as usize],
            BPF_JEQ_K | BPF_JGT_K | BPF_JGE_K => {
                vec![pc + 1 + usize::from(insn.jt), pc + 1 + usize::from(insn.jf)]
            }
            _ => vec![],
        };
        if let Some(t) = targets.into_iter().find(|&t| t >= prog.len()) {
            return Err(format!("instruction {pc} jumps to {t}"));
        }
    }
    match prog.last() {
        Some(last) if last.code == BPF_RET_K => Ok(()),
        _ => Err("does not end with ret".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const X86: u32 = 0xc000_003e;

    fn eval(prog: &[sock_filter], nr: u32, args: [u64; 6]) -> u32 {
        run(prog, X86, nr, Some(args)).expect("ran off the end")
    }

    #[test]
    fn every_condition_matches_a_reference_model() {
        let values = [
            0u64,
            1,
            5,
            6,
            7,
            0xffff_ffff,
            1 << 32,
            (1 << 32) | 6,
            u64::MAX,
            6 << 32,
        ];
        let cmps = [
            Cmp::Eq,
            Cmp::Ne,
            Cmp::MaskedEq(0x0000_000f_0000_0006),
            Cmp::Gt,
            Cmp::Ge,
            Cmp::Lt,
            Cmp::Le,
        ];
        for full64 in [false, true] {
            for cmp in cmps {
                for value in [6u64, (1 << 32) | 6] {
                    if !full64 && value > u64::from(u32::MAX) {
                        continue;
                    }
                    let cond = Cond {
                        index: 2,
                        cmp,
                        value: match cmp {
                            Cmp::MaskedEq(m) => value & m,
                            _ => value,
                        },
                        full64,
                    };
                    let mut outcomes = BTreeMap::new();
                    let rules = vec![Rule {
                        conds: vec![cond],
                        ret: RET_ERRNO | 1,
                    }];
                    outcomes.insert(
                        7,
                        Outcome::Rules {
                            rules,
                            base: RET_ALLOW,
                        },
                    );
                    let prog = generate(Arch::X86_64, &outcomes, RET_ALLOW).unwrap();
                    check(&prog).unwrap();
                    for arg in values {
                        let seen = if full64 { arg } else { arg & 0xffff_ffff };
                        let want = match cmp {
                            Cmp::Eq => seen == cond.value,
                            Cmp::Ne => seen != cond.value,
                            Cmp::MaskedEq(m) => {
                                let m = if full64 { m } else { m & 0xffff_ffff };
                                seen & m == cond.value & m
                            }
                            Cmp::Gt => seen > cond.value,
                            Cmp::Ge => seen >= cond.value,
                            Cmp::Lt => seen < cond.value,
                            Cmp::Le => seen <= cond.value,
                        };
                        let got = eval(&prog, 7, [0, 0, arg, 0, 0, 0]) == RET_ERRNO | 1;
                        assert_eq!(got, want, "{cond:?} on {arg:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn tree_matches_the_table_and_long_jumps_use_trampolines() {
        // 600 syscalls with alternating actions and a few rule blocks: the root's left subtree
        // is far longer than 255 instructions.
        let mut outcomes = BTreeMap::new();
        for nr in (0..1200).step_by(2) {
            outcomes.insert(nr, Outcome::Ret(RET_ERRNO | (nr % 7)));
        }
        let rule = Rule {
            conds: vec![Cond {
                index: 0,
                cmp: Cmp::Eq,
                value: 9,
                full64: true,
            }],
            ret: RET_TRAP,
        };
        for nr in [301, 901] {
            let rules = vec![rule.clone()];
            outcomes.insert(
                nr,
                Outcome::Rules {
                    rules,
                    base: RET_LOG,
                },
            );
        }
        let prog = generate(Arch::X86_64, &outcomes, RET_ALLOW).unwrap();
        check(&prog).unwrap();
        assert!(prog.iter().any(|i| i.code == BPF_JA), "no trampoline");
        for nr in (0..1300).chain([0x3fff_ffff, u32::MAX]) {
            let want = match outcomes.get(&nr) {
                Some(Outcome::Ret(r)) => *r,
                Some(Outcome::Rules { .. }) => RET_LOG,
                None => RET_ALLOW,
            };
            assert_eq!(eval(&prog, nr, [0; 6]), want, "nr {nr}");
        }
        assert_eq!(eval(&prog, 901, [9, 0, 0, 0, 0, 0]), RET_TRAP);
    }

    #[test]
    fn foreign_arch_and_x32_are_killed() {
        let prog = generate(Arch::X86_64, &BTreeMap::new(), RET_ALLOW).unwrap();
        check(&prog).unwrap();
        assert_eq!(prog.len(), 8);
        const I386: u32 = 0x4000_0003;
        assert_eq!(run(&prog, I386, 20, None), Some(RET_KILL_PROCESS));
        assert_eq!(run(&prog, X86, 39, None), Some(RET_ALLOW));
        assert_eq!(
            run(&prog, X86, X32_SYSCALL_BIT | 39, None),
            Some(RET_KILL_PROCESS)
        );
        assert_eq!(run(&prog, X86, u32::MAX - 1, None), Some(RET_KILL_PROCESS));
        assert_eq!(run(&prog, X86, u32::MAX, None), Some(RET_ALLOW));
        let arm = generate(Arch::Aarch64, &BTreeMap::new(), RET_ALLOW).unwrap();
        assert_eq!(arm.len(), 5);
        assert_eq!(run(&arm, 0xc000_00b7, 0x4000_0000, None), Some(RET_ALLOW));
        assert_eq!(run(&arm, 0x4000_0028, 1, None), Some(RET_KILL_PROCESS));
    }

    #[test]
    fn rules_shared_by_many_syscalls_are_emitted_once() {
        let rules = vec![Rule {
            conds: vec![Cond {
                index: 1,
                cmp: Cmp::Ne,
                value: 3,
                full64: false,
            }],
            ret: RET_KILL_PROCESS,
        }];
        let mut outcomes = BTreeMap::new();
        for nr in [10, 11, 12, 40, 300] {
            let rules = rules.clone();
            outcomes.insert(
                nr,
                Outcome::Rules {
                    rules,
                    base: RET_ERRNO | 1,
                },
            );
        }
        outcomes.insert(41, Outcome::Ret(RET_TRAP));
        let prog = generate(Arch::X86_64, &outcomes, RET_ALLOW).unwrap();
        check(&prog).unwrap();
        let loads = prog.iter().filter(|i| i.code == BPF_LD_W_ABS).count();
        assert_eq!(loads, 3, "arch, nr and one shared argument load");
        for nr in 0..400 {
            let (hit, miss) = match nr {
                10 | 11 | 12 | 40 | 300 => (RET_ERRNO | 1, RET_KILL_PROCESS),
                41 => (RET_TRAP, RET_TRAP),
                _ => (RET_ALLOW, RET_ALLOW),
            };
            assert_eq!(eval(&prog, nr, [0, 3, 0, 0, 0, 0]), hit, "nr {nr}");
            assert_eq!(eval(&prog, nr, [0, 4, 0, 0, 0, 0]), miss, "nr {nr}");
        }
    }
}
