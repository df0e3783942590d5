#!/usr/bin/env python3
"""Turns the raw results of bench/run (a directory) into markdown tables on stdout.

Inputs in the directory, all written by bench/run:
  cases.tsv    key, label, command, status ("ok" or the reason it cannot be measured)
  hf-*.json    hyperfine exports (--export-json); the command names (-n) are the case keys
  rss.tsv      key, median KiB, max KiB        (or key, "-", reason)
  rate.tsv     key, parallel, launches/s, ok, failed, first failure status  (or key, P, "-", reason)
  seccomp.tsv  where, ns per getppid call     (or where, "-", reason)
  settings.tsv name, value
"""
import glob
import json
import os
import statistics
import sys

d = sys.argv[1]


def tsv(name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


settings = dict(tsv("settings.tsv"))
cases = [dict(key=r[0], label=r[1], command=r[2], status=r[3]) for r in tsv("cases.tsv")]
by_key = {c["key"]: c for c in cases}

# Start-up times, merged over every round (each hyperfine export holds some of the runs).
times = {}
for path in sorted(glob.glob(os.path.join(d, "hf-*.json"))):
    with open(path) as f:
        for r in json.load(f)["results"]:
            times.setdefault(r["command"], []).extend(t * 1000 for t in r["times"])


def stats(key):
    t = times.get(key)
    if not t or len(t) < 2:
        return None
    q1, q2, q3 = statistics.quantiles(t, n=4, method="inclusive")
    return dict(
        n=len(t),
        median=statistics.median(t),
        mean=statistics.fmean(t),
        sd=statistics.stdev(t),
        q1=q1,
        q3=q3,
        min=min(t),
    )


def status(key):
    c = by_key.get(key)
    return c["status"] if c else "not run"


def ok(key):
    return status(key) == "ok" and stats(key) is not None


def ratio(a, b):
    sa, sb = stats(a), stats(b)
    if not sa or not sb:
        return None
    return sa["median"] / sb["median"]


def short(case, reason):
    """A case that could not run at all is explained once, in the start-up table."""
    if case["status"] != "ok" and reason == case["status"]:
        return "cannot measure (see Start-up time)"
    return reason


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}×"


out = []
p = out.append

# ---------------------------------------------------------------- run conditions
# cpu.tsv: phase, user+nice jiffies of all CPUs, all jiffies of all CPUs, user jiffies of the
# benchmark's own processes. Other work = the machine's user time that was not ours.
marks = [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in tsv("cpu.tsv")]
others = []
for (_, u0, t0, o0), (name, u1, t1, o1) in zip(marks, marks[1:]):
    if t1 > t0:
        others.append((name, max(0.0, 100 * ((u1 - u0) - (o1 - o0)) / (t1 - t0))))
if others:
    p(
        "- other work during the run (user-space CPU of processes other than this benchmark's, "
        "share of all CPUs): " + ", ".join(f"{n} {x:.0f}%" for n, x in others)
    )
    busy = [(n, x) for n, x in others if x >= 10]
    if busy:
        p("")
        p(
            "**Warning: other work ran during "
            + ", ".join(f"{n} ({x:.0f}% of the CPUs)" for n, x in busy)
            + ": those numbers are slower and noisier than on a quiet machine; run again when it is quiet.**"
        )
p("")

# ---------------------------------------------------------------- start-up time
p("## Start-up time")
p("")
p(
    f"hyperfine -N, {settings.get('runs')} runs per case in {settings.get('rounds')} rounds "
    f"(the cases alternate between rounds; {settings.get('warmup')} warm-up runs per case and "
    "round). Times in ms; ratios are of medians."
)
p("")
p("| case | median | mean | σ | IQR (Q1–Q3) | min | runs | × bwrap | × floor |")
p("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
for c in cases:
    if c["key"] == "sbx_pasta":
        continue
    s = stats(c["key"])
    label = f"{c['label']}"
    if c["status"] != "ok" or s is None:
        why = c["status"] if c["status"] != "ok" else "no timing recorded"
        p(f"| {label} | {why} | | | | | | | |")
        continue
    p(
        f"| {label} | {s['median']:.2f} | {s['mean']:.2f} | {s['sd']:.2f} | "
        f"{s['q3'] - s['q1']:.2f} ({s['q1']:.2f}–{s['q3']:.2f}) | {s['min']:.2f} | {s['n']} | "
        f"{fmt_ratio(ratio(c['key'], 'bwrap'))} | {fmt_ratio(ratio(c['key'], 'floor'))} |"
    )
p("")
p("Commands:")
p("")
for c in cases:
    p(f"- {c['label']}: `{c['command']}`")
p("")

# ---------------------------------------------------------------- pasta
p("## `--net pasta`: extra start-up")
p("")
pasta = stats("sbx_pasta")
base = stats("sbx")
if status("sbx_pasta") != "ok" or not pasta:
    p(f"`sbx --net pasta -- /bin/true`: {status('sbx_pasta')}")
elif not base:
    p(f"`sbx -- /bin/true`: {status('sbx')}, so the difference cannot be computed")
else:
    p("| case | median ms | mean ms | σ ms | runs |")
    p("| --- | ---: | ---: | ---: | ---: |")
    p(f"| `sbx -- /bin/true` | {base['median']:.2f} | {base['mean']:.2f} | {base['sd']:.2f} | {base['n']} |")
    p(
        f"| `sbx --net pasta -- /bin/true` | {pasta['median']:.2f} | {pasta['mean']:.2f} | "
        f"{pasta['sd']:.2f} | {pasta['n']} |"
    )
    p("")
    p(f"Extra start-up of `--net pasta`: **{pasta['median'] - base['median']:.1f} ms** (difference of medians).")
p("")

# ---------------------------------------------------------------- peak RSS
rss = {r[0]: r[1:] for r in tsv("rss.tsv")}
p("## Peak RSS")
p("")
p(
    f"ru_maxrss of the command's process tree as wait4(2) reports it (the largest RSS of any one "
    f"process of the tree, /bin/true included), {settings.get('rss_runs')} runs per case, KiB."
)
p("")
p("| case | median KiB | max KiB | × bwrap |")
p("| --- | ---: | ---: | ---: |")
for c in cases:
    r = rss.get(c["key"])
    if r is None:
        continue
    if r[0] == "-":
        p(f"| {c['label']} | {short(c, r[1])} | | |")
        continue
    rel = "—"
    if "bwrap" in rss and rss["bwrap"][0] != "-":
        rel = f"{int(r[0]) / int(rss['bwrap'][0]):.2f}×"
    p(f"| {c['label']} | {r[0]} | {r[1]} | {rel} |")
p("")

# ---------------------------------------------------------------- launches per second
# Rounds are summed: launches over seconds. rate[key][P] = [launches/s, ok, failed, first
# failure status] or ["-", reason].
acc = {}
for r in tsv("rate.tsv"):
    a = acc.setdefault(r[0], {}).setdefault(r[1], {"ok": 0, "failed": 0, "secs": 0.0, "first": "0", "why": None})
    if r[2] == "-":
        a["why"] = r[3]
        continue
    a["ok"] += int(r[3])
    a["failed"] += int(r[4])
    a["secs"] += float(r[6])
    if a["first"] == "0":
        a["first"] = r[5]
rate = {}
for key, per in acc.items():
    for par, a in per.items():
        if a["why"]:
            rate.setdefault(key, {})[par] = ["-", a["why"]]
        else:
            rate.setdefault(key, {})[par] = [str(a["ok"] / a["secs"] if a["secs"] else 0), str(a["ok"]), str(a["failed"]), a["first"]]
pars = sorted({int(par) for v in rate.values() for par in v})
p("## Launches per second")
p("")
p(
    f"P workers each start the command again and again for {settings.get('rate_seconds')} s in all "
    "(posix_spawn, then wait; two rounds, the cases alternating); successful launches per second "
    "of wall-clock time. "
    f"The machine has {os.cpu_count()} CPUs."
)
p("")
p("| case | " + " | ".join(f"P={x}" for x in pars) + " | failed launches |")
p("| --- | " + " | ".join("---:" for _ in pars) + " | ---: |")
for c in cases:
    if c["key"] not in rate:
        continue
    if c["status"] != "ok":
        p(f"| {c['label']} | {short(c, c['status'])} |" + " |" * len(pars))
        continue
    cells, failed, notes = [], 0, []
    for x in pars:
        v = rate[c["key"]].get(str(x))
        if v is None:
            cells.append("")
        elif v[0] == "-":
            cells.append(v[1])
        else:
            cells.append(f"{float(v[0]):.0f}")
            failed += int(v[2])
            if int(v[2]):
                notes.append(f"P={x}: {v[2]} (first exit status {v[3]})")
    p(f"| {c['label']} | " + " | ".join(cells) + f" | {'; '.join(notes) if notes else 0} |")
p("")

# ---------------------------------------------------------------- seccomp
sec = {}
sec_err = {}
for r in tsv("seccomp.tsv"):
    if r[1] == "-":
        sec_err[r[0]] = r[2]
    else:
        sec.setdefault(r[0], []).append(float(r[1]))
where_label = {
    "host": "outside (no sbx)",
    "sbx": "`sbx -- ./getppid-loop` (default filter)",
    "sbx_untrusted": "`sbx --policy untrusted -- ./getppid-loop` (allow-list filter)",
}
p("## Seccomp filter cost")
p("")
p(
    f"`getppid-loop` calls getppid(2) {settings.get('getppid_calls')} times and prints ns per call; "
    "runs alternate between the places below; the table gives the median run."
)
p("")
p("| where | median ns/call | min ns/call | runs (ns/call, in order) | filter cost: median − outside | min − outside |")
p("| --- | ---: | ---: | --- | ---: | ---: |")
host = statistics.median(sec["host"]) if sec.get("host") else None
host_min = min(sec["host"]) if sec.get("host") else None
for w in ("host", "sbx", "sbx_untrusted"):
    if w in sec_err:
        p(f"| {where_label[w]} | {sec_err[w]} | | | | |")
        continue
    if w not in sec:
        continue
    m, lo = statistics.median(sec[w]), min(sec[w])
    diff = "—" if w == "host" or host is None else f"{m - host:+.1f}"
    diff_min = "—" if w == "host" or host_min is None else f"{lo - host_min:+.1f}"
    runs = ", ".join(f"{x:.1f}" for x in sec[w])
    p(f"| {where_label[w]} | {m:.1f} | {lo:.1f} | {runs} | {diff} | {diff_min} |")
p("")
p("The target is judged on the difference of medians; the difference of minimums is less "
  "sensitive to other work on the machine.")
p("")

# ---------------------------------------------------------------- targets
p("## Targets")
p("")
p("| target | this run | holds |")
p("| --- | --- | --- |")


def verdict(b):
    return "yes" if b else "**no**"


def target(name, have, why_not, measured, good):
    if not have:
        if not why_not.startswith("cannot measure"):
            why_not = "cannot measure: " + why_not
        p(f"| {name} | {why_not} | not measured |")
    else:
        p(f"| {name} | {measured} | {verdict(good)} |")


def why(*keys):
    for k in keys:
        if not ok(k):
            return status(k)
    return ""


r = ratio("sbx", "floor")
target(
    "`sbx -- /bin/true` ≤ 1.3× floor",
    r is not None,
    why("sbx", "floor"),
    f"{r:.2f}× ({stats('sbx')['median']:.2f} vs {stats('floor')['median']:.2f} ms)" if r else "",
    r is not None and r <= 1.3,
)
r = ratio("sbx_unshare", "unshare")
target(
    "`sbx unshare -Urmpfiun` ≤ 1.05× util-linux `unshare -Urmpfiun`",
    r is not None,
    why("sbx_unshare", "unshare"),
    f"{r:.2f}× ({stats('sbx_unshare')['median']:.2f} vs {stats('unshare')['median']:.2f} ms)" if r else "",
    r is not None and r <= 1.05,
)
s16 = rate.get("sbx", {}).get("16")
b16 = rate.get("bwrap", {}).get("16")
have = bool(s16 and b16 and s16[0] != "-" and b16[0] != "-" and float(b16[0]) > 0)
target(
    "sbx launches/s at 16 parallel ≥ 2× bwrap's",
    have,
    "launch rates at P=16 missing" + (f" ({s16[1]})" if s16 and s16[0] == "-" else "") + (f" ({b16[1]})" if b16 and b16[0] == "-" else ""),
    f"{float(s16[0]) / float(b16[0]):.2f}× ({float(s16[0]):.0f} vs {float(b16[0]):.0f}/s)" if have else "",
    have and float(s16[0]) >= 2 * float(b16[0]),
)
rs, rb = rss.get("sbx"), rss.get("bwrap")
have = bool(rs and rb and rs[0] != "-" and rb[0] != "-")
target(
    "sbx peak RSS ≤ bwrap's",
    have,
    "peak RSS of sbx or bwrap missing",
    f"{rs[0]} vs {rb[0]} KiB (medians)" if have else "",
    have and int(rs[0]) <= int(rb[0]),
)
have = bool(sec.get("host") and sec.get("sbx"))
cost = statistics.median(sec["sbx"]) - host if have else None
target(
    "default seccomp filter ≤ 30 ns per allowed syscall",
    have,
    sec_err.get("sbx", sec_err.get("host", "getppid-loop results missing")),
    f"{cost:+.1f} ns per getppid (medians; {min(sec['sbx']) - min(sec['host']):+.1f} ns by minimums)" if have else "",
    have and cost <= 30,
)
print("\n".join(out))
