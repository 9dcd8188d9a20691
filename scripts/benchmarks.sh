#!/usr/bin/env bash
# Runs every benchmark of the workspace and writes BENCHMARKS.md (`make benchmarks`).
#
#   scripts/benchmarks.sh [OUT]          OUT defaults to BENCHMARKS.md
#
# The benches are found with `cargo metadata` (every target of kind `bench`), built with
# `cargo bench --no-run` (the bench profile: release), then run one at a time as
# `<executable> --bench` from their package's folder, as `cargo bench` runs them, so that
# the script measures the bench process itself: wall time and peak RSS (the process and
# the children it waited for, such as the emulator). Each bench prints its figures as
#
#   bench: <bench name> | <metric> | <value> | <unit> [| <target> | <before>]
#
# (a target the figure is held to, and the figure when that target was set, with where
# it was stated: an issue, the predecessor) and they become one table per bench; a bench that prints none is listed as "no figures".
# Its whole output is kept in target/benchmarks/<bench>.log. A bench that fails is listed
# with its exit status and the script exits non-zero after writing the file.
# BENCH_TIMEOUT (seconds, default 3600) bounds each run; benches read their own
# variables (SPA_BENCH_ACCOUNTS, ...). The lifecycle bench's `spa handle` runs the `spa`
# binary SPA_BENCH_SPA names: unless it is set, the script builds `spa` first in the
# profile Lambda's `bootstrap` is built in (lambda-release: optimized for size, fat LTO;
# about 12 minutes from nothing on 2 cores), since the memory and the start of that build are what
# Lambda pays, not the bench profile's (optimized for speed).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "${1:-BENCHMARKS.md}" <<'PY'
import json, os, platform, re, subprocess, sys, threading, time
from datetime import datetime, timezone

out = sys.argv[1]
timeout = float(os.environ.get("BENCH_TIMEOUT", "3600"))


def figure(line):
    """The fields of one `bench:` line: name, metric, value, unit, target, before (the
    last two "-" when the bench states none); None for any other line."""
    if not line.startswith("bench:"):
        return None
    fields = [f.strip() for f in line[len("bench:"):].split("|")]
    if not 4 <= len(fields) <= 6 or not all(fields[:4]):
        return None
    return tuple(fields + ["-"] * (6 - len(fields)))


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout.strip()


META = json.loads(run(["cargo", "metadata", "--format-version", "1", "--no-deps"]))
# the logs beside the build, in the target dir cargo uses (shared when CARGO_TARGET_DIR says so)
logs = os.path.join(META["target_directory"], "benchmarks")
os.makedirs(logs, exist_ok=True)


def benches():
    meta = META
    found = []
    for package in meta["packages"]:
        for target in package["targets"]:
            if "bench" in target["kind"]:
                found.append((package["name"], target["name"], os.path.dirname(package["manifest_path"])))
    return sorted(found)


def build(package, bench):
    """The executable of one bench, built by cargo in the bench profile."""
    started = time.monotonic()
    proc = subprocess.run(
        ["cargo", "bench", "-p", package, "--bench", bench, "--no-run", "--message-format=json-render-diagnostics"],
        stdout=subprocess.PIPE, text=True,
    )
    executable = None
    for line in proc.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("executable") \
                and message["target"]["name"] == bench and "bench" in message["target"]["kind"]:
            executable = message["executable"]
    if proc.returncode != 0 or executable is None:
        raise SystemExit(f"benchmarks: cargo could not build the bench `{bench}` of {package}")
    return executable, time.monotonic() - started


def measure(name, executable, folder):
    """Runs the bench; its exit status, wall time, peak RSS (KiB) and output.

    The peak RSS is wait4's: the bench process, or the largest child it waited for."""
    log_path = os.path.join(logs, f"{name}.log")
    load = loadavg()
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([executable, "--bench"], cwd=folder, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        _, wait_status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
    wall = time.monotonic() - started
    status = proc.returncode
    if status != 0 and wall >= timeout:
        status = f"killed after {timeout:.0f} s"
    with open(log_path) as log:
        text = log.read()
    return status, wall, usage.ru_maxrss, text, log_path, load


def loadavg():
    """The 1-minute load average as the bench starts (`/proc/loadavg`): other work on the
    machine slows what the bench measures."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return "unknown"


def machine():
    cpus, model = 0, "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("processor"):
                    cpus += 1
                elif line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    memory = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    os_name = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    commit = run(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"])
    return [
        ("CPU", f"{model} × {cpus} logical CPUs (`/proc/cpuinfo`)"),
        ("memory", memory),
        ("OS", f"{os_name}, Linux {platform.release()}"),
        ("rustc", run(["rustc", "--version"])),
        ("git commit", commit + (" (with uncommitted changes)" if dirty else "")),
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("bench variables", ", ".join(f"`{k}={v}`" for k, v in sorted(os.environ.items())
                                      if k.startswith("SPA_BENCH_")) or "none set: each bench's defaults"),
    ]


def cell(text):
    return str(text).replace("|", "\\|")


def cells(line):
    """The cells of a Markdown table row (`\\|` is a bar inside a cell)."""
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def previous(path):
    """The figures of the run `path` holds, by (bench, bench name, metric), and which run
    it was (commit, date): each figure is shown beside the one of the run before."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}, None
    figures, bench, commit, date = {}, None, "?", "?"
    for line in text.splitlines():
        if line.startswith("| git commit |"):
            commit = cells(line)[1]
        elif line.startswith("| date |"):
            date = cells(line)[1]
        elif line.startswith("## ") and line.endswith(")"):
            bench = line[3:].rsplit(" (", 1)[0]
        elif bench and line.startswith("| ") and not line.startswith(("| bench name", "|---")):
            row = cells(line)
            if len(row) >= 4:
                figures[(bench, row[0], row[1])] = f"{row[2]} {row[3]}".strip()
    return figures, f"{commit}, {date}"


def shipped_spa():
    """`spa` in the profile of Lambda's `bootstrap`, for the lifecycle bench's `spa handle`."""
    if os.environ.get("SPA_BENCH_SPA"):
        return os.environ["SPA_BENCH_SPA"]
    print("benchmarks: building spa in the lambda-release profile", file=sys.stderr)
    subprocess.run(["cargo", "build", "--profile", "lambda-release", "-p", "spa", "--bin", "spa"],
                   check=True)
    return os.path.join(META["target_directory"], "lambda-release", "spa")


def main():
    before, before_run = previous(out)
    found = benches()
    if not found:
        raise SystemExit("benchmarks: cargo metadata lists no bench target")
    os.environ["SPA_BENCH_SPA"] = shipped_spa()
    results = []
    for package, bench, folder in found:
        print(f"benchmarks: building {package} --bench {bench}", file=sys.stderr)
        executable, built = build(package, bench)
        print(f"benchmarks: running {bench}", file=sys.stderr)
        status, wall, rss, text, log_path, load = measure(bench, executable, folder)
        figures = [f for f in map(figure, text.splitlines()) if f]
        results.append(dict(package=package, bench=bench, folder=folder, status=status, wall=wall,
                            rss=rss, load=load, built=built, figures=figures, log=f"target/benchmarks/{bench}.log"))

    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by scripts/benchmarks.sh (`make benchmarks`); do not edit: run it again. -->",
        "",
        "Every benchmark of the workspace (the `[[bench]]` targets `cargo metadata` lists), how to",
        "run it, and the figures of its last run with the machine they came from. Each bench prints",
        "its figures as `bench: <bench name> | <metric> | <value> | <unit>`, and, where a figure is",
        "held to a target, `| <target> | <before>`: the target and the figure when the target was",
        "set (where it was stated: an issue, the Python predecessor), so that each figure stands",
        "beside the one before the work. The script adds the wall time and peak RSS of each bench",
        "process, and shows each figure beside the one of the run this file held before (its",
        "commit and date in the column's title). Figures from a shared or loaded machine vary:",
        "compare runs on the same machine.",
        "",
        "Run them all and rewrite this file: `make benchmarks` (or `scripts/benchmarks.sh`).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {cell(v)} |" for k, v in machine()]
    lines += [
        "",
        "## Runs",
        "",
        "| bench | command | result | wall time | peak RSS | load average (1 min) at start | figures |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        result = "ok" if r["status"] == 0 else f"failed ({r['status']})"
        rss = f"{r['rss'] / 1024:.1f} MiB" if r["rss"] else "not measured"
        lines.append(
            f"| {r['bench']} | `cargo bench -p {r['package']} --bench {r['bench']}` | {result} "
            f"| {r['wall']:.1f} s | {rss} | {r['load']} on {os.cpu_count()} CPUs | {len(r['figures']) or 'no figures'} |"
        )
    for r in results:
        folder = os.path.relpath(r["folder"])
        lines += ["", f"## {r['bench']} ({r['package']})", "",
                  f"`cargo bench -p {r['package']} --bench {r['bench']}` (source: `{folder}/benches/{r['bench']}.rs`; "
                  f"output of the last run: `{r['log']}`).", ""]
        if not r["figures"]:
            lines.append("No figures: this bench printed no `bench:` line.")
            continue
        lines += [f"| bench name | metric | value | unit | target | before (when the target was set) "
                  f"| run before ({cell(before_run or 'none')}) |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {cell(n)} | {cell(m)} | {cell(v)} | {cell(u)} | {cell(target)} | {cell(then)} "
                  f"| {cell(before.get((r['bench'], n, m), '-'))} |"
                  for n, m, v, u, target, then in r["figures"]]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    failed = [r["bench"] for r in results if r["status"] != 0]
    print(f"benchmarks: {len(results) - len(failed)} passed, {len(failed)} failed; wrote {out}", file=sys.stderr)
    if failed:
        sys.exit(1)


main()
PY
