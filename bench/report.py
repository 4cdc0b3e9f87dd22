"""bench/compare.sh's helper: reads each tool's output into key=value figures, and turns the collected runs into the markdown table.

  report.py lt RESULTS.json [STEP]     load-tester's JSON results
  report.py oha OUT.json               oha's JSON output
  report.py locust CSV_PREFIX NAME     Locust's --csv stats, row NAME
  report.py table RAW.tsv              the table (medians over runs, ratios, the issue's targets)

RAW.tsv lines: `meta<TAB>key<TAB>value`, or `CASE<TAB>TOOL<TAB>RUN<TAB>k=v k=v ...`.
"""

import csv
import json
import statistics
import sys


def kv(**figures):
    print(" ".join(f"{k}={v}" for k, v in figures.items() if v is not None))


def parse_lt(path, step=None):
    d = json.load(open(path))
    steps = d.get("steps", [])
    s = next((s for s in steps if s.get("name") == step), None) if step else None
    flows = d.get("flows", {})
    errors = sum(x.get("failed", 0) for x in steps)
    kv(
        count=s["count"] if s else None,
        rps=round(s["rate_per_s"], 1) if s else None,
        elapsed=round(d.get("elapsed_s", 0.0), 3),
        passed=flows.get("passed", 0),
        failed=flows.get("failed", 0),
        interrupted=flows.get("interrupted", 0),
        dropped=flows.get("dropped", 0),
        errors=errors,
    )


def parse_oha(path):
    d = json.load(open(path))
    summary = d.get("summary", {})
    count = sum(int(n) for n in d.get("statusCodeDistribution", {}).values())
    errors = sum(int(n) for n in d.get("errorDistribution", {}).values())
    kv(count=count, rps=round(count / summary["total"], 1) if summary.get("total") else 0, errors=errors)


def parse_locust(prefix, name):
    with open(f"{prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == name:
                kv(
                    count=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    rps=round(float(row["Requests/s"]), 1),
                )
                return
    kv(count=0, failures=0, rps=0)


# ---------------------------------------------------------------------------------------- table


def load_raw(path):
    meta, runs = {}, {}
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if parts[0] == "meta" and len(parts) >= 3:
            meta[parts[1]] = parts[2]
        elif len(parts) >= 4:
            case, tool = parts[0], parts[1]
            figures = {}
            for item in parts[3].split():
                k, _, v = item.partition("=")
                try:
                    figures[k] = float(v)
                except ValueError:
                    pass
            if figures.get("killed"):
                tool += " (killed at the time limit)"
            runs.setdefault(case, {}).setdefault(tool, []).append(figures)
    return meta, runs


def med(rows, key, fn=None):
    """Median over runs of a figure (or of fn(row)); None when no run has it."""
    vals = []
    for r in rows:
        try:
            v = fn(r) if fn else r[key]
        except (KeyError, ZeroDivisionError, TypeError):
            continue
        if v is not None:
            vals.append(v)
    return statistics.median(vals) if vals else None


def cpu(r):
    return r["user"] + r["sys"]


def cpu_cell(rs):
    """Median CPU seconds, with the medians of user and sys."""
    total = med(rs, None, cpu)
    if total is None:
        return "–"
    return f"{total:.2f} ({med(rs, 'user'):.2f} + {med(rs, 'sys'):.2f})"


def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, float) and v.is_integer() and abs(v) >= 100:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def verdict(ok):
    return "**met**" if ok else "**NOT met**"


def render(path):
    meta, runs = load_raw(path)
    n = meta.get("runs", "?")
    lines = [f"# load-tester vs peers — {meta.get('date', '')} ({meta.get('mode', '')}: median of {n} run(s) each)", ""]
    for k in ("host", "load-tester", "peers", "pinning", "note"):
        if k in meta:
            lines.append(f"- {k}: {meta[k]}")
    lines.append("")
    targets = []

    # a. raw HTTP throughput
    a = runs.get("a", {})
    if a:
        dur = meta.get("dur_ab", "?")
        lines += [f"## a. HTTP GET /health, 50 connections, {dur} s, generator on one core", ""]
        wrk = med(a.get("wrk", []), "rps")
        rows = []
        for tool, rs in a.items():
            rps = med(rs, "rps")
            rows.append([
                tool, fmt(rps, 0), fmt(med(rs, "count"), 0), cpu_cell(rs),
                fmt(med(rs, None, lambda r: cpu(r) / r["count"] * 1e4), 3),
                fmt(med(rs, "rss_kb", None) / 1024 if med(rs, "rss_kb") else None, 1),
                fmt(ratio(rps, wrk)) + "×" if wrk else "–",
            ])
        lines += table(rows, ["tool", "req/s", "requests", "CPU s (user + sys)", "CPU s / 10k req", "max RSS MiB", "req/s vs wrk"])
        lt = med(a.get("load-tester", []), "rps")
        if lt and wrk:
            r = lt / wrk
            targets.append(f"- a. load-tester req/s ÷ wrk req/s = {r:.2f} (target ≥ 1.0): {verdict(r >= 1.0)}")
        lines.append("")

    # b. fixed-rate HTTP: CPU per 10k requests
    b = runs.get("b", {})
    if b:
        dur = float(meta.get("dur_ab", "10"))
        want = float(meta.get("rate_b", "2000")) * dur
        lines += [f"## b. HTTP at a fixed {meta.get('rate_b', '2000')} req/s for {dur:g} s: CPU seconds per 10,000 requests", ""]
        lt = med(b.get("load-tester", []), None, lambda r: cpu(r) / r["count"] * 1e4)
        rows = []
        for tool, rs in b.items():
            per = med(rs, None, lambda r: cpu(r) / r["count"] * 1e4)
            count = med(rs, "count")
            reached = count is not None and count >= 0.95 * want
            rows.append([
                tool, fmt(count, 0) + ("" if reached else f" (**short of {want:,.0f}**)"),
                fmt(med(rs, "rps"), 0), cpu_cell(rs), fmt(per, 3),
                fmt(med(rs, "rss_kb") / 1024 if med(rs, "rss_kb") else None, 1),
                fmt(ratio(per, lt)) + "×" if lt else "–",
            ])
        lines += table(rows, ["tool", "requests", "req/s", "CPU s (user + sys)", "CPU s / 10k req", "max RSS MiB", "CPU/req vs load-tester"])
        if lt is not None:
            targets.append(f"- b. load-tester CPU s per 10k requests = {lt:.3f} (target ≤ 0.3): {verdict(lt <= 0.3)}")
        lines.append("")

    # c. golden path at a fixed flow rate: CPU per 1k flows
    c = runs.get("c", {})
    if c:
        lines += [f"## c. Golden path against the mock at {meta.get('rate_c', '100')} flows/s for {meta.get('dur_c', '?')} s: CPU seconds per 1,000 flows", ""]
        lt = med(c.get("load-tester", []), None, lambda r: cpu(r) / (r["flows"]) * 1e3)
        rows = []
        for tool, rs in c.items():
            per = med(rs, None, lambda r: cpu(r) / r["flows"] * 1e3)
            rows.append([
                tool, fmt(med(rs, "flows"), 0), fmt(med(rs, "failed"), 0), cpu_cell(rs), fmt(per, 3),
                fmt(med(rs, "rss_kb") / 1024 if med(rs, "rss_kb") else None, 1),
                fmt(ratio(per, lt), 1) + "×" if lt else "–",
            ])
        lines += table(rows, ["tool", "flows", "failed", "CPU s (user + sys)", "CPU s / 1k flows", "max RSS MiB", "CPU/flow vs load-tester"])
        loc = med(c.get("locust", []), None, lambda r: cpu(r) / r["flows"] * 1e3)
        if lt and loc:
            r = loc / lt
            targets.append(f"- c. Locust CPU per flow ÷ load-tester's = {r:.1f} (target ≥ 20): {verdict(r >= 20)}")
        lines.append("")

    # d. idle WebSockets: RSS per user
    d = runs.get("d", {})
    if d:
        lines += ["## d. Users holding open WebSockets (mock in a separate process): RSS per user", ""]
        rows = []
        for tool, rs in d.items():
            per = med(rs, None, lambda r: r["rss_kb"] / r["users"])
            rows.append([
                tool, fmt(med(rs, "users"), 0), fmt(med(rs, "active"), 0), fmt(med(rs, "errors"), 0),
                fmt(med(rs, "rss_kb") / 1024, 1), fmt(per, 2),
            ])
        lines += table(rows, ["tool", "users", "peak active", "errors", "peak VmRSS MiB", "KiB / user"])
        lt = med(d.get("load-tester", []), None, lambda r: r["rss_kb"] / r["users"])
        full = all(r.get("active") == r.get("users") for r in d.get("load-tester", []))
        clean = all(r.get("errors", 1) == 0 for r in d.get("load-tester", []))
        if lt is not None:
            targets.append(
                f"- d. load-tester RSS per user = {lt:.2f} KiB with {fmt(med(d['load-tester'], 'users'), 0)} users"
                f"{'' if full else ' (NOT all users were connected at once)'}{'' if clean else ' (with errors)'}"
                f" (target ≤ 8 KiB): {verdict(lt <= 8 and full and clean)}"
            )
        lines.append("")

    # e. 100k users
    e = runs.get("e", {})
    for tool, rs in e.items():
        r = rs[-1]
        lines += [f"## e. {fmt(r.get('users'), 0)} users holding WebSockets ({meta.get('hold_e', '?')} s each) against a {meta.get('mock_e', '')} mock", ""]
        lines += table([[
            tool, fmt(r.get("users"), 0), fmt(r.get("active"), 0), fmt(r.get("full_s"), 0), fmt(r.get("errors"), 0),
            fmt(r.get("rss_kb", 0) / 1024, 1), fmt(r.get("rss_kb", 0) / max(r.get("users", 1), 1), 2),
            fmt(cpu(r)), fmt(r.get("elapsed"), 1),
        ]], ["tool", "users", "peak active", "s at full concurrency", "errors", "peak ΣVmRSS MiB", "KiB / user", "CPU s (user+sys)", "wall s"])
        ok = r.get("active") == r.get("users") and r.get("errors", 1) == 0 and r.get("full_s", 0) >= 60
        targets.append(
            f"- e. {fmt(r.get('users'), 0)} concurrent users for {fmt(r.get('full_s'), 0)} s, {fmt(r.get('errors'), 0)} errors "
            f"(target: all connected together ≥ 60 s, no errors): {verdict(ok)}"
        )
        lines.append("")

    if targets:
        lines += ["## Against issue 4's targets", ""] + targets + [""]
    print("\n".join(lines))


def main(argv):
    if len(argv) >= 2 and argv[0] == "lt":
        parse_lt(argv[1], argv[2] if len(argv) > 2 else None)
    elif len(argv) == 2 and argv[0] == "oha":
        parse_oha(argv[1])
    elif len(argv) == 3 and argv[0] == "locust":
        parse_locust(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "table":
        render(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
