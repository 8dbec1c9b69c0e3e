#!/usr/bin/env python3
"""Benchmark `gcorr correlate` against an earlier release of itself, cat, gzip, DuckDB and jq.

Every contender runs as a child process; its wall time (around os.wait4) and peak RSS (GNU time's
%M, else os.wait4's ru_maxrss) are measured the same way. Contenders run round-robin, `--runs` times each, after one untimed `cat` of every input
warms the page cache; the table shows medians (the machine is shared and noisy) and is also
written as JSON. Needs Python 3.11 with the duckdb package, jq and GNU time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# The same job as `gcorr correlate`: dedup by envelope id, group by conversation, sort by time.
JQ_PROGRAM = r"""
[ inputs
  | .detail as $d
  | ($d.eventBody.conversationId // empty) as $c
  | { id, conversationId: $c, kind: ($d.topicName | split(".")[5:] | join(".")),
      eventTime: $d.eventBody.eventTime, mediaType: $d.eventBody.mediaType,
      direction: $d.eventBody.direction, participantId: $d.eventBody.participantId,
      sessionId: $d.eventBody.sessionId, userId: $d.eventBody.userId, queueId: $d.eventBody.queueId,
      disconnectType: $d.eventBody.disconnectType, wrapupCode: $d.eventBody.wrapupCode } ]
| unique_by(.id)
| group_by(.conversationId)[]
| { conversationId: .[0].conversationId, events: (sort_by(.eventTime, .id) | map(del(.conversationId))) }
"""


@dataclass
class Contender:
    name: str
    argv: list[str]
    input: Path
    input_bytes: int  # uncompressed bytes of the data the contender processes
    output: Path | None = None  # its result file, whose lines are counted
    stdout: Path | None = None  # where its standard output goes; None = /dev/null
    baseline: str | None = None  # the gcorr contender it is compared with
    scale: float = 1.0  # >1: ran on a prefix, time multiplied by this
    unique_events: int | None = None
    note: str = ""
    runs: list[dict] = field(default_factory=list)
    failed: str | None = None


# A direct child of Python starts with Python's own resident pages counted in its peak RSS
# (fork/vfork + exec keep the high-water mark), so RSS is taken by GNU time, a small process.
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None


def run_once(argv: list[str], stdout: Path | None) -> dict:
    with tempfile.NamedTemporaryFile() as rss, tempfile.TemporaryFile() as err:
        if GNU_TIME:
            argv = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv]
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL
        try:
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        finally:
            if stdout:
                out.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kb = usage.ru_maxrss
        if GNU_TIME:
            lines = Path(rss.name).read_text().split()
            peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else peak_kb
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
    return {"wall_s": wall, "peak_rss_bytes": peak_kb * 1024, "exit_code": proc.returncode, "stderr": tail}


def read_stats(path: Path) -> dict[str, int] | None:
    """gendump's stderr line: `gendump: records=... unique_conversation_events=... ...`."""
    if not path.exists():
        return None
    text = path.read_text()
    pairs = [w.split("=", 1) for w in text.split() if "=" in w]
    return {k: int(v) for k, v in pairs} or None


def count_events(path: Path) -> dict[str, int]:
    """The same counts as gendump prints, by reading the file (slow: used when stats are missing)."""
    ids: set[str] = set()
    convs: set[str] = set()
    records = unique = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            records += 1
            env = json.loads(line)
            conv = env.get("detail", {}).get("eventBody", {}).get("conversationId")
            if conv and env["id"] not in ids:
                ids.add(env["id"])
                unique += 1
                convs.add(conv)
    return {"records": records, "unique_conversation_events": unique, "conversations": len(convs)}


def prefix_file(data: Path, records: int) -> Path:
    path = data.with_name(f"{data.stem}.first-{records}{data.suffix}")
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with open(data, "rb") as src, open(tmp, "wb") as dst:
            for i, line in enumerate(src):
                if i == records:
                    break
                dst.write(line)
        tmp.rename(path)
    return path


def tool_version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else None


def machine() -> dict:
    cpu = next(
        (l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "duckdb": tool_version([sys.executable, "-c", "import duckdb; print(duckdb.__version__)"]),
        "jq": tool_version(["jq", "--version"]),
    }


def mb(n: float) -> float:
    return n / 1e6


def summarize(c: Contender, by_name: dict[str, Contender]) -> dict:
    ok = [r for r in c.runs if r["exit_code"] == 0]
    row = {"name": c.name, "cmd": " ".join(c.argv), "input": str(c.input), "input_bytes": c.input_bytes,
           "runs": len(ok), "scale": c.scale, "note": c.note, "failed": c.failed,
           "wall_s": [round(r["wall_s"], 4) for r in ok]}
    if not ok:
        return row
    median = statistics.median(r["wall_s"] for r in ok)
    peak = max(r["peak_rss_bytes"] for r in ok)
    row.update(median_s=median * c.scale, mb_per_s=mb(c.input_bytes) / median, peak_rss_bytes=peak)
    if c.unique_events:
        row["unique_events"] = c.unique_events
        row["peak_rss_bytes_per_unique_event"] = peak / c.unique_events
    base = by_name.get(c.baseline or "")
    if base and base is not c and base.runs and any(r["exit_code"] == 0 for r in base.runs):
        base_median = statistics.median(r["wall_s"] for r in base.runs if r["exit_code"] == 0) * base.scale
        row["vs_gcorr"] = median * c.scale / base_median
        row["vs_gcorr_baseline"] = base.name
    if c.output and c.output.exists():
        with open(c.output, "rb") as f:
            row["output_lines"] = sum(1 for _ in f)
    return row


def print_table(rows: list[dict]) -> None:
    head = f"{'contender':<44} {'median s':>9} {'MB/s':>8} {'peak RSS MB':>11} {'B/unique ev':>11} {'vs gcorr':>9} {'out lines':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        if "median_s" not in r:
            print(f"{r['name']:<44} {'FAILED' if r['failed'] else 'no run':>9}  {r['failed'] or ''}")
            continue
        per = f"{r['peak_rss_bytes_per_unique_event']:.0f}" if "peak_rss_bytes_per_unique_event" in r else "-"
        vs = f"{r['vs_gcorr']:.2f}x" if "vs_gcorr" in r else "-"
        lines = str(r.get("output_lines", "-"))
        print(f"{r['name']:<44} {r['median_s']:>9.3f} {r['mb_per_s']:>8.1f} {mb(r['peak_rss_bytes']):>11.1f} {per:>11} {vs:>9} {lines:>9}")


def check_targets(rows: list[dict], bname: str, tree_files: list[Path]) -> list[str]:
    """The performance targets, each as a ratio of medians from this run."""
    med = {r["name"]: r["median_s"] for r in rows if "median_s" in r}
    out = ["", "targets (ratios of medians in this run):"]

    def line(what: str, a: str, b: str, limit: float, most: bool = True) -> None:
        if a not in med or b not in med:
            out.append(f"  {what}: not measured")
            return
        ratio = med[a] / med[b]
        ok = ratio <= limit if most else ratio >= limit
        out.append(f"  {what}: {ratio:.2f}x ({'met' if ok else 'NOT met'}, target {'<=' if most else '>='} {limit}x)")

    line(f"NDJSON: gcorr / {bname}", "gcorr", bname, 0.5)
    line(f"CSV: gcorr / {bname}", "gcorr --format csv", f"{bname} --format csv", 0.5)
    line(f"--summary: gcorr / {bname}", "gcorr --summary", f"{bname} --summary", 0.5)
    line("DuckDB / gcorr", "duckdb (python, own process)", "gcorr", 6.0, most=False)
    if tree_files:
        tname = f"tree ({len(tree_files)} .gz)"
        line(f"{tname}: gcorr / gzip -dc one after another", f"gcorr {tname}", f"gzip -dc {tname}, one after another", 0.6)
    line("one .gz: gcorr / gzip -dc", "gcorr .gz", "gzip -dc > /dev/null", 1.0)
    per = next((r.get("peak_rss_bytes_per_unique_event") for r in rows if r["name"] == "gcorr"), None)
    if per is not None:
        out.append(f"  peak memory per kept event: {per:.0f} B ({'met' if per <= 200 else 'NOT met'}, target <= 200 B)")
    return out


# What the new release adds to the baseline's output (other features): removed before comparing.
ADDED_JSON = [re.compile(rb',"flags":\[[^\]]*\]'), re.compile(rb',"delivered":(?:null|"[^"]*"),"lag_ms":(?:null|-?\d+)')]
ADDED_CSV = {"flags", "delivered", "lag_ms", "participant_purpose", "participant_name", "wrapup_name"}


def check_outputs(work: Path) -> list[str]:
    """Whether the new outputs equal the baseline's, byte for byte, once the added fields are removed."""
    out = ["", "output of the last run vs the baseline's (fields added since removed):"]
    for new, old in [("new.ndjson", "base.ndjson"), ("new.summary", "base.summary"), ("new-tree.ndjson", "base-tree.ndjson")]:
        a, b = work / new, work / old
        if not (a.exists() and b.exists()):
            continue
        stripped = a.read_bytes()
        for pattern in ADDED_JSON:
            stripped = pattern.sub(b"", stripped)
        same = stripped == b.read_bytes()
        out.append(f"  {new}: {'identical' if same else 'DIFFERENT'} ({b.stat().st_size:,} bytes in the baseline's)")
    a, b = work / "new.csv", work / "base.csv"
    if a.exists() and b.exists():
        with open(a, newline="") as fa, open(b, newline="") as fb:
            ra, rb = csv.reader(fa), csv.reader(fb)
            ha, hb = next(ra), next(rb)
            keep = [i for i, h in enumerate(ha) if h not in ADDED_CSV]
            same = [ha[i] for i in keep] == hb and all([x[i] for i in keep] == y for x, y in zip(ra, rb, strict=True))
        out.append(f"  new.csv: {'identical' if same else 'DIFFERENT'} in the baseline's columns")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=BENCH / "data" / "events-1m.ndjson", help="NDJSON dump")
    ap.add_argument("--gz", type=Path, help="gzip of --data (default: DATA.gz; skipped if absent)")
    ap.add_argument("--stats", type=Path, help="gendump's stderr for --data (default: DATA with .stats)")
    ap.add_argument("--gcorr", type=Path, default=ROOT / "target" / "release" / "gcorr")
    ap.add_argument("--baseline", type=Path, help="an earlier gcorr binary to compare with (run.sh builds fa5f844)")
    ap.add_argument("--baseline-name", default="baseline", help="what to call it in the table")
    ap.add_argument("--tree", type=Path, help="a directory of .ndjson.gz files holding the same records")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jq-events", type=int, default=100_000,
                    help="run jq on the first N records and scale its time (0 = whole file)")
    ap.add_argument("--no-jq", action="store_true", help="skip jq")
    ap.add_argument("--json", type=Path, default=BENCH / "results.json", help="where to write the results")
    args = ap.parse_args()

    data: Path = args.data.resolve()
    if not data.exists():
        sys.exit(f"bench: {data} not found (bench/run.sh generates it)")
    gz: Path = (args.gz or data.with_name(data.name + ".gz")).resolve()
    stats = read_stats(args.stats or data.with_suffix(".stats"))
    if stats is None:
        print(f"bench: no gendump stats beside {data.name}: counting events in it (slow)...", file=sys.stderr)
        stats = count_events(data)
    size = data.stat().st_size
    unique = stats["unique_conversation_events"]
    notes: list[str] = []

    work = Path(tempfile.mkdtemp(prefix="gcorr-bench-"))
    contenders: list[Contender] = [Contender("cat > /dev/null", ["cat", str(data)], data, size, baseline="gcorr")]
    gcorr = args.gcorr.resolve()
    have_gcorr = gcorr.is_file() and os.access(gcorr, os.X_OK)
    if have_gcorr:
        contenders.append(Contender("gcorr", [str(gcorr), "correlate", str(data), "-q", "-o", str(work / "new.ndjson")],
                                    data, size, work / "new.ndjson", baseline="gcorr", unique_events=unique))
    else:
        notes.append(f"gcorr NOT measured: {gcorr} does not exist (build it with `cargo build --release`)")
    base = args.baseline.resolve() if args.baseline else None
    bname = f"gcorr {args.baseline_name}"
    gcorrs = [("gcorr", gcorr)] if have_gcorr else []
    if base and base.is_file():
        gcorrs.append((bname, base))
        contenders.append(Contender(bname, [str(base), "correlate", str(data), "-q", "-o", str(work / "base.ndjson")],
                                    data, size, work / "base.ndjson", baseline="gcorr", unique_events=unique))
    elif base:
        notes.append(f"{bname} NOT measured: {base} does not exist")
    for name, binary in gcorrs:
        tag = "new" if binary == gcorr else "base"
        contenders.append(Contender(f"{name} --format csv",
                                    [str(binary), "correlate", str(data), "-q", "--format", "csv", "-o", str(work / f"{tag}.csv")],
                                    data, size, work / f"{tag}.csv", baseline="gcorr --format csv", unique_events=unique))
    for name, binary in gcorrs:
        tag = "new" if binary == gcorr else "base"
        contenders.append(Contender(f"{name} --summary",
                                    [str(binary), "correlate", str(data), "-q", "--summary", "-o", str(work / f"{tag}.summary")],
                                    data, size, work / f"{tag}.summary", baseline="gcorr --summary", unique_events=unique))
    contenders.append(Contender("duckdb (python, own process)",
                                [sys.executable, str(BENCH / "duckdb_correlate.py"), str(data), str(work / "duckdb.ndjson")],
                                data, size, work / "duckdb.ndjson", baseline="gcorr", unique_events=unique,
                                note="includes ~0.3 s of Python start-up and `import duckdb`"))

    if not GNU_TIME:
        notes.append("/usr/bin/time (GNU time) missing: peak RSS is os.wait4's, which counts Python's own "
                     "~20 MB at spawn, so small peaks are overstated")
    if args.no_jq:
        notes.append("jq skipped (--no-jq)")
    elif not shutil.which("jq"):
        notes.append("jq skipped: not installed")
    else:
        n = args.jq_events
        if n and n < stats["records"]:
            src = prefix_file(data, n)
            scale = stats["records"] / n
            jq_unique = count_events(src)["unique_conversation_events"]
            name = f"jq (first {n} records, x{scale:g})"
            notes.append(f"jq ran on the first {n:,} of {stats['records']:,} records ({src.name}); its time is "
                         f"multiplied by {scale:g}, its MB/s and RSS are as measured on that prefix "
                         f"(B/unique ev uses the prefix's {jq_unique:,} unique events)")
        else:
            src, scale, jq_unique, name = data, 1.0, unique, "jq"
        contenders.append(Contender(name, ["jq", "-c", "-n", JQ_PROGRAM, str(src)], src, src.stat().st_size,
                                    work / "jq.ndjson", work / "jq.ndjson", baseline="gcorr", scale=scale,
                                    unique_events=jq_unique))

    if gz.exists():
        contenders.append(Contender("gzip -dc > /dev/null", ["gzip", "-dc", str(gz)], gz, size, baseline="gcorr .gz"))
        if have_gcorr:
            contenders.append(Contender("gcorr .gz", [str(gcorr), "correlate", str(gz), "-q", "-o", str(work / "gcorr-gz.ndjson")],
                                        gz, size, work / "gcorr-gz.ndjson", baseline="gcorr .gz", unique_events=unique))
    else:
        notes.append(f"gzip comparison skipped: {gz} not found")
    tree_files = sorted(args.tree.glob("*.gz")) if args.tree else []
    if tree_files:
        tname = f"tree ({len(tree_files)} .gz)"
        contenders.append(Contender(f"gzip -dc {tname}, one after another", ["gzip", "-dc", *map(str, tree_files)],
                                    args.tree, size, baseline=f"gcorr {tname}"))
        for name, binary in gcorrs:
            tag = "new" if binary == gcorr else "base"
            contenders.append(Contender(f"{name} {tname}",
                                        [str(binary), "correlate", str(args.tree), "-q", "-o", str(work / f"{tag}-tree.ndjson")],
                                        args.tree, size, work / f"{tag}-tree.ndjson", baseline=f"gcorr {tname}",
                                        unique_events=unique))

    by_name = {c.name: c for c in contenders}
    for path in {c.input for c in contenders}:
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    print(f"data: {data} ({mb(size):.0f} MB, {stats['records']:,} records, {unique:,} unique conversation events, "
          f"{stats.get('conversations', 0):,} conversations); {args.runs} runs each, medians", file=sys.stderr)
    for i in range(args.runs):
        for c in contenders:
            if c.failed:
                continue
            # The previous run's result is removed first, untimed: each run writes a new file,
            # rather than paying for the kernel freeing the last one (0.3 s for 478 MB here).
            for old in {c.output, c.stdout} - {None}:
                old.unlink(missing_ok=True)
            r = run_once(c.argv, c.stdout)
            c.runs.append(r)
            if r["exit_code"] != 0:
                c.failed = f"exit code {r['exit_code']}: {r['stderr'].strip()[-300:]}"
            print(f"  run {i + 1}/{args.runs} {c.name}: {r['wall_s']:.3f} s, {mb(r['peak_rss_bytes']):.0f} MB"
                  + (f"  FAILED ({c.failed})" if c.failed else ""), file=sys.stderr)

    rows = [summarize(c, by_name) for c in contenders]
    print()
    print_table(rows)
    targets = check_targets(rows, bname, tree_files)
    same = check_outputs(work) if base and base.is_file() and have_gcorr else []
    print()
    print("MB/s: uncompressed MB / median wall time. vs gcorr: median time / gcorr's (the .gz rows vs gcorr .gz).")
    print("B/unique ev: peak RSS / unique conversation events (distinct envelope ids).")
    for c in contenders:
        if c.note:
            notes.append(f"{c.name}: {c.note}")
    for n in notes:
        print(f"note: {n}")

    for line in targets + same:
        print(line)
    result = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
              "data": {"file": str(data), "bytes": size, "gz_file": str(gz) if gz.exists() else None,
                       "gz_bytes": gz.stat().st_size if gz.exists() else None, **stats},
              "runs": args.runs, "contenders": rows, "targets": targets, "outputs": same, "notes": notes}
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {args.json}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if any(c.failed for c in contenders) or any("DIFFERENT" in l for l in same) else 0


if __name__ == "__main__":
    sys.exit(main())
