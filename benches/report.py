#!/usr/bin/env python3
"""Write BENCHMARKS.md (and its SVG plots) from the result lines of livestate-loadgen and
criterion's estimates. Run by scripts/bench; needs only Python's standard library.

  report.py --results target/bench/results.jsonl --criterion target/criterion \\
            --out BENCHMARKS.md --plots benches/plots --command "scripts/bench" \\
            [--profile target/bench/profile.txt] [--elapsed SECONDS]
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import subprocess

TARGETS = ["livestate", "socketio", "bare"]
NAMES = {"livestate": "livestate", "socketio": "Socket.IO", "bare": "bare (ceiling)"}
COLORS = {"livestate": "#1f6fb4", "socketio": "#d62728", "bare": "#2ca02c"}
PEERS = ["socketio", "bare"]

# Targets of the issue.
DELIVERY_SHARE_OF_BARE = 0.5
DELIVERY_TIMES_SOCKETIO = 5.0
P99_SLACK_MS = 5.0
RSS_LIMIT_BYTES = 16 * 1024
VIEW_ROW_BYTES_LIMIT = 100
EXPLICIT_RATIO_LIMIT = 2.0
# live views, measured on the wire against livestate-view-bench-server
VIEW_WIRE_PAYLOAD_LIMIT = 100  # bytes, strictly under
VIEW_RSS_LIMIT_BYTES = 24 * 1024  # per idle connected thermostat view, at most
VIEW_P99_RATIO_LIMIT = 1.5  # view event p99 / channel event p99, at most
# shared keys: board views (shared render) against phx-live-state sockets, server CPU
SHARED_VIEWS_CPU_RATIO_LIMIT = 2.0  # at most

# the shared-key runs' labels (scripts/bench: shared_steps)
SHARED_COLUMNS = [
    ("shared-views", "views, shared render"),
    ("shared-views-unshared", "views, each renders alone"),
    ("shared-sockets", "phx-live-state sockets"),
    ("shared-views-redis", "views on three nodes (Redis)"),
]
BUSY_COLUMNS = [("busy-key", "no coalescing"), ("busy-key-coalesced", "coalescing"),
                ("busy-key-coalesced-socket", "coalescing, a socket writing")]


# ---------------------------------------------------------------- reading

def load_results(path):
    """{label: {target: record}}, in the order labels first appear."""
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            runs.setdefault(r.get("label", r["scenario"]), {})[r["target"]] = r
    return runs


def only_shared(runs):
    """Whether the results are those of `scripts/bench --only shared` (no other step)."""
    labels = set(runs)
    shared = {l for l, _ in SHARED_COLUMNS + BUSY_COLUMNS}
    return bool(labels) and labels <= shared


def load_criterion(root):
    """{full_id: median ns} for every benchmark criterion measured."""
    out = {}
    if not os.path.isdir(root):
        return out
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        try:
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                full_id = json.load(f)["full_id"]
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
        except (OSError, KeyError, ValueError):
            continue
        out[full_id] = est["median"]["point_estimate"]
    # the live-view benchmark writes its diffs' sizes beside criterion's results
    try:
        with open(os.path.join(root, "view_bytes.json")) as f:
            for rows, sizes in json.load(f).items():
                for what in ("outside_slot", "one_row"):
                    out[f"view_bytes/{what}/{rows}"] = sizes[what]
    except (OSError, ValueError, KeyError):
        pass
    return out


def run_text(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu = ""
    hypervisor = ""
    for line in run_text(["lscpu"]).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name" and not cpu:
            cpu = value.strip()
        if key.strip() == "Hypervisor vendor":
            hypervisor = value.strip()
    if not cpu:
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            cpu = platform.processor() or "unknown"
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    sio = ""
    try:
        with open("benches/peers/socketio/node_modules/socket.io/package.json") as f:
            sio = json.load(f)["version"]
    except (OSError, KeyError, ValueError):
        pass
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    rows = [
        ("CPU", cpu + (f" ({hypervisor} guest)" if hypervisor else "")),
        ("cores", str(os.cpu_count())),
        ("memory", f"{mem_kib / 1024 / 1024:.1f} GiB"),
        ("kernel", platform.release()),
        ("OS", os_name),
        ("rustc", run_text(["rustc", "--version"])),
        ("node", run_text(["node", "--version"])),
        ("socket.io", sio),
        ("open files per process", str(soft)),
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    return [(k, v) for k, v in rows if v]


# ---------------------------------------------------------------- formatting

def num(x, digits=0):
    if x is None:
        return "n/a"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ms(us):
    """A latency in µs, shown in ms with sensible precision."""
    if us is None:
        return "n/a"
    v = us / 1000.0
    if v < 1:
        return f"{v:.3f}"
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    if r < 0.1:
        return f"{r:.2g}×"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def get(rec, key):
    if rec is None:
        return None
    v = rec.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def trouble(rec):
    """A short note of what went wrong in a run (failures, errors, loss)."""
    if rec is None:
        return "not run"
    notes = []
    for key, what in [("connect_failures", "connect failures"), ("join_errors", "join errors"),
                      ("setup_timeouts", "setup timeouts"), ("disconnects", "disconnects"),
                      ("error_replies", "error replies"), ("channel_errors", "channel errors"),
                      ("send_errors", "send errors"), ("timeouts", "timeouts"),
                      ("resyncs", "resyncs")]:
        v = rec.get(key)
        if v:
            notes.append(f"{v:,} {what}")
    for key, what in [("incomplete", "changes some subscriber never had"),
                      ("foreign", "unknown sequence numbers")]:
        v = rec.get(key)
        if v:
            notes.append(f"{v:,} {what}")
    if rec.get("not_run"):
        notes.append(f"not run: {rec['not_run']}")
    if rec.get("error"):
        notes.append(rec["error"])
    return ", ".join(notes) if notes else "none"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def metric_rows(recs, metrics):
    """Rows: metric, one column per server, then livestate/peer ratios (a metric whose
    name says "count" has none)."""
    rows = []
    for name, key, fmt in metrics:
        vals = {t: get(recs.get(t), key) for t in TARGETS}
        row = [name.replace(" (count)", "")] + [fmt(vals[t]) for t in TARGETS]
        if name.endswith("(count)"):
            row += ["", ""]
        else:
            row += [ratio(vals["livestate"], vals[p]) for p in PEERS]
        rows.append(row)
    rows.append(["problems"] + [trouble(recs.get(t)) for t in TARGETS] + ["", ""])
    return rows


HEADER = ["", "livestate", "Socket.IO", "bare (ceiling)", "livestate / Socket.IO",
          "livestate / bare"]


# ---------------------------------------------------------------- plots

def svg_chart(path, title, ylabel, series, xs, log_y=True):
    """A line chart: x = receivers (log scale), y log scale; series {target: [(x, y)]}."""
    width, height = 640, 400
    left, right, top, bottom = 70, 150, 40, 50
    pw, ph = width - left - right, height - top - bottom
    ys = [y for pts in series.values() for _x, y in pts if y and y > 0]
    if not ys:
        return False
    if log_y:
        lo = 10 ** math.floor(math.log10(min(ys)))
        hi = 10 ** math.ceil(math.log10(max(ys)))
        if hi <= lo:
            hi = lo * 10
    else:
        lo, hi = 0, max(ys) * 1.1
    xlo, xhi = math.log10(min(xs)), math.log10(max(xs))
    if xhi == xlo:
        xhi = xlo + 1

    def px(x):
        return left + (math.log10(x) - xlo) / (xhi - xlo) * pw

    def py(y):
        if log_y:
            return top + ph - (math.log10(y) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        return top + ph - (y - lo) / (hi - lo) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="14" '
        f'font-weight="bold">{title}</text>',
    ]
    # y grid and labels
    if log_y:
        decade = lo
        while decade <= hi * 1.0001:
            y = py(decade)
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                         f'stroke="#ddd"/>')
            label = f"{decade:,.0f}" if decade >= 1 else f"{decade:g}"
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
            decade *= 10
    else:
        for i in range(6):
            v = lo + (hi - lo) * i / 5
            y = py(v)
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                         f'stroke="#ddd"/>')
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    # x ticks at the measured points
    for x in xs:
        X = px(x)
        parts.append(f'<line x1="{X:.1f}" y1="{top}" x2="{X:.1f}" y2="{top + ph}" stroke="#eee"/>')
        parts.append(f'<text x="{X:.1f}" y="{top + ph + 18}" text-anchor="middle">{x:,}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                 f'stroke="#444"/>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">'
                 f'receivers (log scale)</text>')
    parts.append(f'<text transform="translate(18,{top + ph / 2}) rotate(-90)" '
                 f'text-anchor="middle">{ylabel}</text>')
    # series
    # the ceiling first, livestate last (on top where lines meet)
    for i, target in reversed(list(enumerate(TARGETS))):
        pts = [(x, y) for x, y in series.get(target, []) if y and y > 0]
        color = COLORS[target]
        if pts:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                         f'stroke-width="2"/>')
            for x, y in pts:
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" '
                             f'fill="{color}"><title>{NAMES[target]}: {y:,.3g} at {x:,} '
                             f'receivers</title></circle>')
        ly = top + 20 + i * 20
        parts.append(f'<line x1="{left + pw + 15}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" '
                     f'stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{NAMES[target]}</text>')
    parts.append("</svg>")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
    return True


# ---------------------------------------------------------------- the report

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--plots", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--profile")
    ap.add_argument("--elapsed", type=int)
    a = ap.parse_args()

    runs = load_results(a.results)
    crit = load_criterion(a.criterion)
    partial = only_shared(runs)
    out_dir = os.path.dirname(os.path.abspath(a.out))
    plots_rel = os.path.relpath(os.path.abspath(a.plots), out_dir)
    md = []
    w = md.append

    w("# Benchmarks")
    w("")
    w("livestate side by side with what a user would pick instead (Socket.IO 4, a room relay) "
      "and with the ceiling of this machine (a bare axum broadcaster that only forwards "
      "already-encoded frames), driven by the same load generator (`livestate-loadgen`), one "
      "server at a time, each started fresh for each run. Generated by the command below; "
      "do not edit by hand.")
    w("")
    w("```sh")
    w(a.command)
    w("```")
    w("")
    if a.elapsed:
        w(f"The whole run took {a.elapsed // 60} min {a.elapsed % 60} s.")
        w("")
    w("## Machine")
    w("")
    w(table(["", ""], [[k, v] for k, v in machine()]))
    w("")
    w("The load generator runs on the same machine as the server and competes with it for "
      "the same cores: the `server CPU` and `loadgen CPU` rows (cores busy on average during "
      "the measurement window, from `/proc`) show how the machine was shared. Ratios of "
      "servers measured in the same run are the figures that hold on a noisy machine; "
      "absolute numbers move with the machine.")
    w("")

    targets_rows, target_notes = evaluate_targets(runs, crit)
    if partial:
        w("Only the shared-key steps ran (`--only shared`): the other sections and their "
          "targets are in the full run's BENCHMARKS.md.")
        w("")
        targets_rows = [row for row in targets_rows if row[0].startswith("shared key:")]
    w("## Targets")
    w("")
    w(table(["target", "measured", "result"], targets_rows))
    w("")
    for note in target_notes:
        w(note)
        w("")

    # connect
    connect_labels = [l for l in runs if l.startswith("connect-")]
    if connect_labels:
        w("## connect: idle joined sockets")
        w("")
        w("N sockets opened 64 at a time, all joined to one topic (a Socket.IO room; the "
          "bare broadcaster has no join), then idle for 2 s before the server's resident "
          "memory (`VmRSS`) is read. Join time is connect + WebSocket handshake + join "
          "reply (+ the initial `state:change` for livestate). Memory per socket is "
          "(RSS after − RSS before) / sockets.")
        w("")
        for label in connect_labels:
            recs = runs[label]
            n = next((r.get("clients") for r in recs.values()), None)
            w(f"### {n:,} sockets")
            w("")
            w(table(HEADER, metric_rows(recs, [
                ("join p50 (ms), lower is better", "join_p50_us", ms),
                ("join p99 (ms)", "join_p99_us", ms),
                ("RSS per socket (bytes), lower is better", "rss_per_conn_bytes", num),
                ("RSS after (KiB)", "rss_after_kib", num),
                ("joined (count)", "joined", num),
            ])))
            w("")

    if "events-100" in runs:
        recs = runs["events-100"]
        r0 = next(iter(recs.values()))
        w("## events: request and acknowledgement")
        w("")
        w(f"{r0.get('clients', 0):,} sockets, each on its own topic with one event in flight "
          f"(send, wait for its acknowledgement, repeat) for {r0.get('duration_s')} s after "
          f"{r0.get('warmup_s')} s of warm-up. livestate: `lvs_evt:put` answered by "
          "`phx_reply` (after the patch); Socket.IO: `ev(data, ack)`; bare: an echo.")
        w("")
        w(table(HEADER, metric_rows(recs, [
            ("events/s, higher is better", "events_per_s", num),
            ("round trip p50 (ms)", "rtt_p50_us", ms),
            ("round trip p99 (ms)", "rtt_p99_us", ms),
            ("round trip max (ms)", "rtt_max_us", ms),
            ("server CPU (cores)", "server_cpu", lambda v: num(v, 2)),
            ("loadgen CPU (cores)", "loadgen_cpu", lambda v: num(v, 2)),
        ])))
        w("")

    fan_labels = [l for l in runs if l.startswith("fanout-")]
    if fan_labels:
        r0 = next(iter(runs[fan_labels[0]].values()))
        w("## fanout: one topic, many receivers")
        w("")
        w(f"{r0.get('senders')} senders (separate sockets, also joined) send "
          f"{r0.get('rate'):,.0f} events/s in all, evenly spread, for {r0.get('duration_s')} s "
          f"after {r0.get('warmup_s')} s of warm-up; each message carries its sender, sequence "
          "number and send time. Deliveries/s counts messages received by receivers during "
          "the window; loss = sent × receivers − received, after a drain of up to 2 s; "
          "latency is send to receipt, for messages sent inside the window. livestate "
          "relays each event as a `state:patch` (`lvs_evt:put` of `/m`); Socket.IO as "
          "`io.to(room).emit`; the bare broadcaster forwards the frame's bytes.")
        w("")
        for label in fan_labels:
            recs = runs[label]
            n = next((r.get("receivers") for r in recs.values()), 0)
            w(f"### {n:,} receivers")
            w("")
            w(table(HEADER, fanout_metric_rows(recs)))
            w("")
        xs, p50, p99, dps = [], {}, {}, {}
        for label in fan_labels:
            recs = runs[label]
            n = next((r.get("receivers") for r in recs.values()), None)
            if not n:
                continue
            xs.append(n)
            for t in TARGETS:
                rec = recs.get(t)
                p50.setdefault(t, []).append((n, (get(rec, "latency_p50_us") or 0) / 1000))
                p99.setdefault(t, []).append((n, (get(rec, "latency_p99_us") or 0) / 1000))
                dps.setdefault(t, []).append((n, get(rec, "deliveries_per_s") or 0))
        plots = []
        if xs:
            rate = f"{r0.get('rate'):,.0f} events/s"
            for name, title, ylabel, series in [
                ("fanout-latency-p50.svg", f"End-to-end latency p50 ({rate})", "ms (log scale)", p50),
                ("fanout-latency-p99.svg", f"End-to-end latency p99 ({rate})", "ms (log scale)", p99),
                ("fanout-deliveries.svg", f"Deliveries per second ({rate})", "deliveries/s (log scale)", dps),
            ]:
                if svg_chart(os.path.join(a.plots, name), title, ylabel, series, sorted(set(xs))):
                    plots.append((title, f"{plots_rel}/{name}"))
        if plots:
            w("Latency and deliveries against the number of receivers:")
            w("")
            for title, rel in plots:
                w(f"![{title}]({rel})")
                w("")

    sat_labels = [l for l in runs if l.startswith("saturate-")]
    for label in sat_labels:
        recs = runs[label]
        r0 = next(iter(recs.values()))
        w(f"## saturation: {r0.get('receivers'):,} receivers at {r0.get('rate'):,.0f} events/s")
        w("")
        w(f"The same fan-out with {r0.get('rate'):,.0f} events/s asked for "
          f"({r0.get('rate', 0) * r0.get('receivers', 0):,.0f} deliveries/s), more than any of "
          "the servers delivers here: deliveries/s is what each one achieved. `sent` below "
          "the target means the server stopped reading its senders (back-pressure); loss "
          "means frames dropped or still queued after the drain (livestate drops a lagging "
          "subscriber's patches and resyncs it with one `state:change`; the bare broadcaster "
          "drops frames when a socket's queue is full).")
        w("")
        w(table(HEADER, fanout_metric_rows(recs, saturation=True)))
        w("")

    for line in views_section(runs, crit):
        w(line)

    for line in shared_section(runs):
        w(line)

    if crit:
        w("## Micro-benchmarks (criterion)")
        w("")
        w("`cargo bench -p livestate-bench` (`crates/livestate-bench/benches/`): the median "
          "time per iteration.")
        w("")
        w(criterion_section(crit))
        w("")

    if a.profile and os.path.exists(a.profile) and os.path.getsize(a.profile) > 0:
        with open(a.profile) as f:
            lines = f.read().rstrip().splitlines()
        context = ""
        if lines and lines[0].startswith("context: "):
            context = lines.pop(0)[len("context: "):]
        prof = "\n".join(lines)
        w("## Where livestate's time goes")
        w("")
        w(f"`perf record` of the livestate server during a separate run ({context}; not one "
          "of the measured runs: perf slows it down), self time:")
        w("")
        w("```")
        w(prof)
        w("```")
        w("")

    w("## Result lines")
    w("")
    w("<details><summary>The load generator's output, one line per run</summary>")
    w("")
    w("```")
    with open(a.results) as f:
        for line in f:
            if line.strip():
                w(line.strip())
    w("```")
    w("")
    w("</details>")

    with open(a.out, "w") as f:
        f.write("\n".join(md) + "\n")


def fanout_metric_rows(recs, saturation=False):
    metrics = [
        ("deliveries/s, higher is better", "deliveries_per_s", num),
        ("latency p50 (ms), lower is better", "latency_p50_us", ms),
        ("latency p99 (ms)", "latency_p99_us", ms),
        ("latency max (ms)", "latency_max_us", ms),
        ("loss (%) (count)", "loss_pct", lambda v: num(v, 3)),
        ("sent / target", None, None),
        ("server CPU (cores)", "server_cpu", lambda v: num(v, 2)),
        ("loadgen CPU (cores)", "loadgen_cpu", lambda v: num(v, 2)),
        ("server RSS (KiB)", "server_rss_kib", num),
    ]
    rows = []
    for name, key, fmt in metrics:
        if key is None:
            row = [name]
            for t in TARGETS:
                rec = recs.get(t)
                row.append("n/a" if rec is None else
                           f"{rec.get('sent', 0):,} / {rec.get('target_sent', 0):,}")
            rows.append(row + ["", ""])
            continue
        vals = {t: get(recs.get(t), key) for t in TARGETS}
        ratios = ([ratio(vals["livestate"], vals[p]) for p in PEERS]
                  if not name.endswith("(count)") else ["", ""])
        rows.append([name.replace(" (count)", "")] + [fmt(vals[t]) for t in TARGETS] + ratios)
    rows.append(["problems"] + [trouble(recs.get(t)) for t in TARGETS] + ["", ""])
    return rows


def kib(b):
    """Bytes shown in KiB with one decimal."""
    return "n/a" if b is None else f"{b / 1024:,.1f}"


def views_section(runs, crit):
    """The live views' section: bytes per update, memory per idle view, event round trip
    against a channel's (lines of Markdown; none when no view run is in the results)."""
    bytes_rec = runs.get("view-bytes", {}).get("livestate")
    connect_labels = [l for l in runs if l.startswith("view-connect-")]
    events_rec = runs.get("view-events", {}).get("livestate")
    if not (bytes_rec or connect_labels or events_rec):
        return []
    md = []
    w = md.append
    w("## views: live views on the wire")
    w("")
    w("livestate's live views served to a client that speaks as the stock "
      "`phoenix_live_view` client does (it GETs the page, opens `/live/websocket` with the "
      "page's CSRF token and cookie, joins `lv:<id>` with the page's session and static "
      "tokens, sends `event` pushes) and applies nothing: `livestate-loadgen`'s `view-*` "
      "scenarios against `livestate-view-bench-server` (`crates/livestate-loadgen/src/"
      "viewbench.rs`: a thermostat view, a view of a keyed list of 100 rows, and the "
      "thermostat's counter as a phx-live-state channel on `counter:*`), started fresh for "
      "each run, with the default `ServerConfig`.")
    w("")
    if bytes_rec:
        r = bytes_rec
        w("### Bytes per update against the whole page")
        w("")
        w(f"GET the page, join it, then {r.get('samples', 0)} clicks, each answered by a "
          "`phx_reply` whose payload is `{\"status\":\"ok\",\"response\":{\"diff\":…}}`. "
          f"The list: one field (the score) of row {r.get('row')} of {r.get('rows')} changes "
          "per click. The largest of each size over the clicks:")
        w("")
        rows = []
        for name, key, fmt in [
            ("the whole page's HTML (bytes)", "html_bytes", num),
            ("the join's reply, the rendered view (bytes)", "join_bytes", num),
            ("an update: the reply's WebSocket frame (bytes on the wire, with its 2-byte header)",
             "update_ws_bytes", num),
            ("an update: the frame's payload (bytes)", "update_payload_bytes", num),
            ("an update: the diff in it (bytes)", "update_diff_bytes", num),
            ("the page's HTML / an update's payload", "html_per_update_payload",
             lambda v: "n/a" if v is None else f"{v:,.0f}×"),
        ]:
            rows.append([name, fmt(get(r, f"rows_{key}")), fmt(get(r, f"thermostat_{key}"))])
        diff = lambda v: f"`{v}`" if v else "n/a"
        rows.append(["the diff sent", diff(r.get("rows_update_diff")),
                     diff(r.get("thermostat_update_diff"))])
        rows.append(["problems", trouble(r), ""])
        w(table(["", f"{r.get('rows')}-row keyed list (`/rows`, `bump`)",
                 "thermostat (`/thermostat`, `inc`)"], rows))
        w("")
    if connect_labels:
        r0 = next((runs[l].get("livestate") for l in connect_labels
                   if runs[l].get("livestate")), None) or {}
        rb, wb = get(r0, "server_read_buffer_bytes"), get(r0, "server_write_buffer_bytes")
        w("### Memory per idle connected view")
        w("")
        w("N thermostat views, each with its own page (a GET) and its own socket, opened 64 at "
          "a time and joined, then idle for 2 s before the server's resident memory "
          "(`VmRSS`) is read. Memory per view is (RSS after − RSS before) / views: the "
          "socket, its session and the view's process with its state and rendered tree. "
          f"The server's socket buffers: read {kib(rb)} KiB, write {kib(wb)} KiB per socket "
          "(the `ServerConfig` defaults; `/bench/config` of the server). Join time is the "
          "page's GET + connect + WebSocket handshake + join reply.")
        w("")
        header = [""] + [f"{num(get(runs[l].get('livestate'), 'clients'))} views"
                         for l in connect_labels]
        rows = []
        for name, key, fmt in [
            ("RSS per view (bytes), lower is better", "rss_per_view_bytes", num),
            ("RSS per view (KiB)", "rss_per_view_bytes", kib),
            ("RSS before → after (KiB)", None, None),
            ("join p50 (ms)", "join_p50_us", ms),
            ("join p99 (ms)", "join_p99_us", ms),
            ("joined", "joined", num),
            ("open files: needed / load generator's limit / server's limit", None, None),
        ]:
            row = [name]
            for l in connect_labels:
                rec = runs[l].get("livestate")
                if name.startswith("RSS before"):
                    row.append(f"{num(get(rec, 'rss_before_kib'))} → {num(get(rec, 'rss_after_kib'))}")
                elif name.startswith("open files"):
                    row.append(f"{num(get(rec, 'open_files_needed'))} / "
                               f"{num(get(rec, 'loadgen_open_files_limit'))} / "
                               f"{num(get(rec, 'server_open_files_limit'))}")
                else:
                    row.append(fmt(get(rec, key)))
            rows.append(row)
        # the channel's idle socket of the same size, from the connect runs, for scale
        row = ["for scale: an idle socket joined to one shared doc topic (connect), bytes"]
        for l in connect_labels:
            n = get(runs[l].get("livestate"), "clients")
            row.append(num(get(runs.get(f"connect-{n}", {}).get("livestate"), "rss_per_conn_bytes")))
        rows.append(row)
        rows.append(["problems"] + [trouble(runs[l].get("livestate")) for l in connect_labels])
        w(table(header, rows))
        w("")
    if events_rec:
        r = events_rec
        w("### A view's event against a channel's")
        w("")
        w(f"{r.get('clients', 0):,} thermostat views and {r.get('clients', 0):,} sockets each "
          "joined to its own topic of the counter channel, side by side on the same server "
          f"for {r.get('duration_s')} s after {r.get('warmup_s')} s of warm-up; each kind "
          f"sends {num(r.get('rate'))} events/s in all, each socket on a fixed schedule, one "
          "event at a time. View: a click (`event` `{type: \"click\", event: \"inc\"}`) to "
          "its `phx_reply` with the diff; channel: `lvs_evt:inc` to its `state:patch` (its "
          "`phx_reply` is waited for before the next). `late`: events sent a whole period "
          "or more after their time (the answer before came that late).")
        w("")
        rows = []
        for name, key, fmt in [
            ("events/s", "events_per_s", num),
            ("round trip p50 (ms)", "rtt_p50_us", ms),
            ("round trip p99 (ms)", "rtt_p99_us", ms),
            ("round trip max (ms)", "rtt_max_us", ms),
            ("late (count)", "late", num),
            ("timeouts (count)", "timeouts", num),
            ("joined (count)", "joined", num),
        ]:
            v, c = get(r, f"view_{key}"), get(r, f"channel_{key}")
            rows.append([name.replace(" (count)", ""), fmt(v), fmt(c),
                         "" if name.endswith("(count)") else ratio(v, c)])
        rows.append(["server CPU (cores), both kinds", num(get(r, "server_cpu"), 2), "", ""])
        rows.append(["loadgen CPU (cores), both kinds", num(get(r, "loadgen_cpu"), 2), "", ""])
        rows.append(["problems", trouble(r), "", ""])
        w(table(["", "view (click → reply with diff)",
                 "channel (`lvs_evt:inc` → `state:patch`)", "view / channel"], rows))
        w("")
    one_row, outside = crit.get("view/one_row/100"), crit.get("view/outside_slot/100")
    w("### Server time per render+diff")
    w("")
    if one_row is not None:
        w(f"Measured by criterion (`crates/livestate-bench/benches/view.rs`, in the "
          f"micro-benchmarks below): a render+diff of a 100-row keyed list when one field "
          f"of one row changed takes {one_row / 1000:.2f} µs (`view/one_row/100`), and "
          f"{num(outside)} ns when only a slot outside the list changed "
          "(`view/outside_slot/100`).")
    else:
        w("Measured by criterion (`crates/livestate-bench/benches/view.rs`): the "
          "`view/one_row/*` and `view/outside_slot/*` rows of the micro-benchmarks (not run "
          "here).")
    w("")
    return md


def shared_section(runs):
    """Shared keys (issue 18): one key with many board views (the shared render on and off)
    against as many phx-live-state sockets, the views spread over three nodes on Redis,
    and a busy key without and with coalescing (lines of Markdown; none without runs)."""
    cols = [(l, name, runs.get(l, {}).get("livestate")) for l, name in SHARED_COLUMNS]
    busy = [(l, name, runs.get(l, {}).get("livestate")) for l, name in BUSY_COLUMNS]
    if not any(r for _, _, r in cols + busy):
        return []
    md = []
    w = md.append
    w("## Shared keys: one render for many views, and coalescing")
    w("")
    w("`livestate-loadgen`'s `shared-views`, `shared-sockets` and `busy-key` scenarios "
      "against `livestate-view-bench-server`: its `/board` view attaches to the `doc:` key "
      "`doc:board` and shows only what it reads from `@shared` (the last sequence number "
      "written, `seq-N`, its writer, and standings of 100 keyed rows computed from N, row "
      "r showing N / (r + 1), so a change moves a few rows and each render walks the list). One writer (a phx-live-state socket joined to "
      "the key) puts `{\"s\": 0, \"n\": SEQ, \"t\": NS}` at `/m` on a fixed schedule; "
      "the subscribers are board views (each its own page and socket, joined as the stock "
      "`phoenix_live_view` client does) or phx-live-state sockets joined to the key. A "
      "subscriber has change N at the first message (a view's `diff`, a socket's "
      "`state:patch`) carrying a sequence number ≥ N. Deliveries/s: messages received by "
      "the subscribers inside the window. Write → last subscriber: per change, the time "
      "from its write to the last subscriber having it; staleness: per change and "
      "subscriber, the time from the write to that subscriber having it. Shared renders: "
      "the servers' count over the window (`Views::render_stats`: computed once, reused by "
      "the other views). Server CPU: cores busy during the window, summed over the nodes "
      "(Redis's own CPU is not counted).")
    w("")
    r0 = next((r for _, _, r in cols if r), None)
    if r0:
        w(f"### One key, {num(r0.get('subscribers'))} subscribers, "
          f"{num(r0.get('rate'))} changes/s")
        w("")
        w(f"{r0.get('duration_s')} s measured after {r0.get('warmup_s')} s of warm-up, each "
          "column against fresh servers.")
        w("")
        rows = []
        for name, fn in [
            ("subscribers joined", lambda r: num(get(r, "subscribers_joined"))),
            ("changes/s written (target)",
             lambda r: f"{num(get(r, 'writes_per_s'))} ({num(get(r, 'rate'))})"),
            ("changes/s acknowledged", lambda r: num(get(r, "writes_answered_per_s"))),
            ("deliveries/s", lambda r: num(get(r, "deliveries_per_s"))),
            ("write → last subscriber p50 (ms)", lambda r: ms(get(r, "latency_p50_us"))),
            ("write → last subscriber p99 (ms)", lambda r: ms(get(r, "latency_p99_us"))),
            ("staleness p99 (ms)", lambda r: ms(get(r, "staleness_p99_us"))),
            ("server CPU (cores), lower is better", lambda r: num(get(r, "server_cpu"), 2)),
            ("loadgen CPU (cores)", lambda r: num(get(r, "loadgen_cpu"), 2)),
            ("shared renders computed / reused",
             lambda r: "n/a" if get(r, "render_computed") is None else
             f"{num(get(r, 'render_computed'))} / {num(get(r, 'render_reused'))}"),
            ("loss (%)", lambda r: num(get(r, "loss_pct"), 3)),
        ]:
            rows.append([name] + [fn(r) if r else "n/a" for _, _, r in cols])
        rows.append(["problems"] + [trouble(r) for _, _, r in cols])
        w(table([""] + [name for _, name, _ in cols], rows))
        w("")
        views, unshared, sockets = (get(r, "server_cpu") for _, _, r in cols[:3])
        limit = SHARED_VIEWS_CPU_RATIO_LIMIT
        met = None if views is None or not sockets else views / sockets <= limit
        w(f"- Server CPU of the views with the shared render against the sockets': "
          f"{ratio(views, sockets)} (target ≤ {limit:g}×: "
          f"{'n/a' if met is None else ('met' if met else 'not met')}).")
        w(f"- Server CPU of the views without the shared render against with it: "
          f"{ratio(unshared, views)}.")
        redis = cols[3][2]
        if redis and redis.get("not_run"):
            w(f"- Three nodes on Redis: not run ({redis['not_run']}).")
        elif redis:
            w(f"- Three nodes on Redis against one node (views, shared render): write → last "
              f"view p99 {ms(get(redis, 'latency_p99_us'))} ms against "
              f"{ms(get(cols[0][2], 'latency_p99_us'))} ms, server CPU "
              f"{ratio(get(redis, 'server_cpu'), views)}.")
        w("")
    b0 = next((r for _, _, r in busy if r), None)
    if b0:
        window = next((get(r, "server_coalesce_ms") for _, _, r in busy
                       if get(r, "server_coalesce_ms")), None)
        w(f"### A busy key: {num(b0.get('rate'))} changes/s to {num(b0.get('sockets'))} "
          f"sockets and {num(b0.get('views'))} views")
        w("")
        w(f"One writer at {num(b0.get('rate'))} changes/s asked for (the writes due "
          "are sent together when it wakes late), through the HTTP state API (`PUT "
          "/api/state/doc:board?path=/m` on one keep-alive connection, pipelined), without "
          f"coalescing and with a {num(window)} ms window (`DocChannel::coalesce`): within "
          "it a key's changes reach each subscriber as one message with the latest state. "
          "The last column writes the same through a phx-live-state socket (`lvs_evt:put`): "
          "a socket's own change never waits (its sender takes the `state:patch` as its "
          "answer) and goes out to every subscriber with what waited. Changes/s "
          "acknowledged: the writer's answers (HTTP responses, `phx_reply`s) inside the "
          "window; below the rate written, the server fell behind and the rest queued (the "
          "one HTTP connection's requests are answered in order, one at a time, so its "
          "writes wait on the server's pace). Loss: changes a subscriber did not have by the "
          "end of the drain (up to 2 s after the window).")
        w("")
        rows = []
        for name, fn in [
            ("subscribers joined", lambda r: num(get(r, "subscribers_joined"))),
            ("changes/s written (target)",
             lambda r: f"{num(get(r, 'writes_per_s'))} ({num(get(r, 'rate'))})"),
            ("changes/s acknowledged", lambda r: num(get(r, "writes_answered_per_s"))),
            ("messages/s per subscriber", lambda r: num(get(r, "messages_per_s_per_subscriber"), 1)),
            ("deliveries/s, all subscribers", lambda r: num(get(r, "deliveries_per_s"))),
            ("staleness p50 (ms)", lambda r: ms(get(r, "staleness_p50_us"))),
            ("staleness p99 (ms), lower is better", lambda r: ms(get(r, "staleness_p99_us"))),
            ("views' staleness p99 (ms)", lambda r: ms(get(r, "view_staleness_p99_us"))),
            ("sockets' staleness p99 (ms)", lambda r: ms(get(r, "socket_staleness_p99_us"))),
            ("write → last subscriber p99 (ms)", lambda r: ms(get(r, "latency_p99_us"))),
            ("server CPU (cores)", lambda r: num(get(r, "server_cpu"), 2)),
            ("loadgen CPU (cores)", lambda r: num(get(r, "loadgen_cpu"), 2)),
            ("loss (%)", lambda r: num(get(r, "loss_pct"), 3)),
        ]:
            vals = [fn(r) if r else "n/a" for _, _, r in busy]
            rows.append([name] + vals)
        for row, key in zip(rows, [None, "writes_per_s", "writes_answered_per_s",
                                   "messages_per_s_per_subscriber",
                                   "deliveries_per_s", "staleness_p50_us", "staleness_p99_us",
                                   "view_staleness_p99_us", "socket_staleness_p99_us",
                                   "latency_p99_us", "server_cpu", "loadgen_cpu", None]):
            row.append("" if key is None else ratio(get(busy[1][2], key), get(busy[0][2], key)))
        rows.append(["problems"] + [trouble(r) for _, _, r in busy] + [""])
        w(table([""] + [name for _, name, _ in busy] + ["coalescing / none (HTTP)"], rows))
        w("")
        none, http, sock = (get(r, "messages_per_s_per_subscriber") for _, _, r in busy)
        if http is not None or sock is not None:
            w(f"- Messages/s per subscriber: {num(none, 1)} without coalescing, {num(http, 1)} "
              f"with it ({ratio(http, none)}), {num(sock, 1)} with it when a socket writes "
              f"({ratio(sock, none)}).")
            w("")
    return md


def criterion_section(crit):
    def t(ns):
        if ns is None:
            return "n/a"
        if ns < 1_000:
            return f"{ns:.0f} ns"
        if ns < 1_000_000:
            return f"{ns / 1000:.2f} µs"
        return f"{ns / 1e6:.2f} ms"

    rows = []
    for bid, what in [("frame/decode_lvs_evt", "decode a typical `lvs_evt` frame"),
                      ("frame/encode_reply", "encode a `phx_reply` ok with `{version}`"),
                      ("frame/encode_broadcast_patch", "encode a `state:patch` broadcast")]:
        rows.append([f"`{bid}`", what, t(crit.get(bid)), ""])
    for group, fn, what in [("explicit_op", "set", "`doc.set(\"/k5\", v)` + `take_patch()`"),
                            ("explicit_op", "increment", "`doc.increment(\"/k5\", 1)` + `take_patch()`"),
                            ("diff_fallback", "replace_all",
                             "`doc.replace_all(one entry changed)` + `take_patch()`")]:
        base = crit.get(f"{group}/{fn}/10")
        for n in (10, 1000, 100000):
            v = crit.get(f"{group}/{fn}/{n}")
            note = f"{ratio(v, base)} of 10 entries" if n != 10 else ""
            rows.append([f"`{group}/{fn}/{n}`", f"{what}, state of {n:,} entries", t(v), note])
    small = crit.get("state_size/put/10KiB")
    for label in ("10KiB", "1MiB", "10MiB"):
        v, re = crit.get(f"state_size/put/{label}"), crit.get(f"state_size/put_reencode/{label}")
        rows.append([f"`state_size/put/{label}`",
                     f"a small `put` on a state of {label} as JSON, size kept incrementally",
                     t(v), f"{ratio(v, small)} of 10 KiB" if label != "10KiB" else ""])
        rows.append([f"`state_size/put_reencode/{label}`",
                     "the same put, then the state re-encoded (the cost avoided)",
                     t(re), f"{ratio(re, v)} of the incremental put"])
    for n in (10, 1000, 10000):
        v = crit.get(f"fanout_encode_once/subscribers/{n}")
        per = f"{v / n:.1f} ns per subscriber" if v else ""
        rows.append([f"`fanout_encode_once/subscribers/{n}`",
                     f"encode one patch frame, queue it to {n:,} outboxes", t(v), per])
    base = crit.get("view/outside_slot/10")
    for n in (10, 100, 1000, 10000):
        v = crit.get(f"view/outside_slot/{n}")
        note = f"{ratio(v, base)} of 10 rows" if n != 10 else ""
        rows.append([f"`view/outside_slot/{n}`",
                     f"a view's render+diff when the caption above a {n:,}-row keyed list "
                     f"changed ({num(crit.get(f'view_bytes/outside_slot/{n}'))} bytes)",
                     t(v), note])
    for n in (10, 100, 1000, 10000):
        v = crit.get(f"view/one_row/{n}")
        rows.append([f"`view/one_row/{n}`",
                     f"render+diff when one field of row {n * 37 // 100} of {n:,} changed "
                     f"({num(crit.get(f'view_bytes/one_row/{n}'))} bytes)",
                     t(v), f"{v / n:.1f} ns per row" if v else ""])
    return table(["benchmark", "what", "median", "note"], rows)


def evaluate_targets(runs, crit):
    rows, notes = [], []

    def verdict(ok):
        return "n/a" if ok is None else ("**met**" if ok else "**missed**")

    sat = next((runs[l] for l in runs if l.startswith("saturate-")), {})
    L, B, S = (get(sat.get(t), "deliveries_per_s") for t in ("livestate", "bare", "socketio"))
    n_sat = next((r.get("receivers") for r in sat.values()), None)
    ok = None if L is None or B is None else L >= DELIVERY_SHARE_OF_BARE * B
    rows.append([f"fan-out deliveries/s at {num(n_sat)} receivers ≥ 50 % of the bare broadcaster",
                 f"livestate {num(L)}/s, bare {num(B)}/s: {num(100 * L / B if L and B else None, 1)} %",
                 verdict(ok)])
    if ok is False:
        notes.append(f"- Deliveries: livestate reached {num(100 * L / B, 1)} % of the ceiling; "
                     f"{num(DELIVERY_SHARE_OF_BARE * B - L)} deliveries/s short of 50 %.")
    ok = None if L is None or S is None else L >= DELIVERY_TIMES_SOCKETIO * S
    rows.append([f"fan-out deliveries/s at {num(n_sat)} receivers ≥ 5× Socket.IO",
                 f"livestate {num(L)}/s, Socket.IO {num(S)}/s: {ratio(L, S)}",
                 verdict(ok)])
    if ok is False:
        notes.append(f"- Deliveries: livestate is {ratio(L, S)} Socket.IO, short of 5× by "
                     f"{num(DELIVERY_TIMES_SOCKETIO * S - L)} deliveries/s.")

    fan = {}
    for l in runs:
        if l.startswith("fanout-"):
            fan = runs[l]  # the last (largest) fan-out at the nominal rate
    lp, bp = (get(fan.get(t), "latency_p99_us") for t in ("livestate", "bare"))
    n_fan = next((r.get("receivers") for r in fan.values()), None)
    rate = next((r.get("rate") for r in fan.values()), None)
    ok = None if lp is None or bp is None else lp / 1000 <= bp / 1000 + P99_SLACK_MS
    rows.append([f"p99 latency at {num(n_fan)} receivers and {num(rate)} events/s ≤ bare + 5 ms",
                 f"livestate {ms(lp)} ms, bare {ms(bp)} ms",
                 verdict(ok)])
    if ok is False:
        notes.append(f"- Latency: livestate's p99 is {ms(lp - bp - P99_SLACK_MS * 1000)} ms "
                     f"over the bare broadcaster's p99 + 5 ms.")

    conns = [l for l in runs if l.startswith("connect-")]
    con = runs[conns[-1]] if conns else {}
    rss = get(con.get("livestate"), "rss_per_conn_bytes")
    n_con = next((r.get("clients") for r in con.values()), None)
    ok = None if rss is None else rss < RSS_LIMIT_BYTES
    bare_rss = get(con.get("bare"), "rss_per_conn_bytes")
    rows.append([f"resident memory per idle joined socket < 16 KiB ({num(n_con)} sockets)",
                 f"livestate {num(rss / 1024 if rss else None, 1)} KiB "
                 f"(bare {num(bare_rss / 1024 if bare_rss else None, 1)} KiB)",
                 verdict(ok)])
    if ok is False:
        notes.append(f"- Memory: {num((rss - RSS_LIMIT_BYTES) / 1024, 1)} KiB per socket over.")

    def within_2x(label, small, big, note):
        ok = None if small is None or big is None else big / small <= EXPLICIT_RATIO_LIMIT
        rows.append([label, f"{num(big, 0)} ns vs {num(small, 0)} ns: {ratio(big, small)}",
                     verdict(ok)])
        if ok is False:
            notes.append(note)

    for fn in ("set", "increment"):
        small, big = crit.get(f"explicit_op/{fn}/10"), crit.get(f"explicit_op/{fn}/100000")
        within_2x(f"explicit operation (`{fn}`) on 100,000 entries ≤ 2× its cost on 10", small, big,
                  f"- Explicit `{fn}`: {ratio(big, small)} of the 10-entry cost, "
                  f"{num((big or 0) - EXPLICIT_RATIO_LIMIT * (small or 0))} ns over 2×.")
    small, big = crit.get("state_size/put/10KiB"), crit.get("state_size/put/10MiB")
    within_2x("small `put` on a 10 MiB state ≤ 2× its cost on 10 KiB (size kept incrementally)",
              small, big,
              f"- State size accounting: a put on 10 MiB costs {ratio(big, small)} of one on 10 KiB.")
    b = crit.get("view_bytes/one_row/100")
    ok = None if b is None else b <= VIEW_ROW_BYTES_LIMIT
    rows.append(["a view's diff when one field of row 37 of a 100-row keyed list changed "
                 "≤ 100 bytes of payload", f"{num(b)} bytes", verdict(ok)])
    if ok is False:
        notes.append(f"- View diff: {num(b - VIEW_ROW_BYTES_LIMIT)} bytes over 100.")
    small, big = crit.get("view/outside_slot/10"), crit.get("view/outside_slot/10000")
    within_2x("a view's render+diff of a slot outside a list of 10,000 rows ≤ 2× with 10 rows",
              small, big,
              f"- View: a slot outside the list costs {ratio(big, small)} with 10,000 rows.")

    # live views on the wire (livestate-view-bench-server)
    vb = runs.get("view-bytes", {}).get("livestate")
    if vb is not None:
        payload = get(vb, "rows_update_payload_bytes")
        frame, diff, html = (get(vb, k) for k in ("rows_update_ws_bytes",
                                                  "rows_update_diff_bytes", "rows_html_bytes"))
        ok = None if payload is None else payload < VIEW_WIRE_PAYLOAD_LIMIT
        rows.append([f"a one-row change in a {vb.get('rows')}-row keyed list, on the wire: the "
                     "reply's payload < 100 bytes",
                     f"{num(payload)} bytes (frame {num(frame)} bytes, diff {num(diff)} bytes; "
                     f"the whole page {num(html)} bytes: {ratio(html, payload)})",
                     verdict(ok)])
        if ok is False:
            notes.append(f"- View update: the reply's payload is {num(payload)} bytes, "
                         f"{num(payload - VIEW_WIRE_PAYLOAD_LIMIT + 1)} over.")
    vc = [(l, runs[l]["livestate"]) for l in runs
          if l.startswith("view-connect-") and "livestate" in runs[l]]
    if vc:
        per = [(get(r, "clients"), get(r, "rss_per_view_bytes")) for _, r in vc]
        ok = None if any(p is None for _, p in per) else all(
            p <= VIEW_RSS_LIMIT_BYTES for _, p in per)
        r0 = vc[0][1]
        rows.append([f"resident memory per idle connected thermostat view ≤ 24 KiB "
                     f"({' and '.join(num(n) for n, _ in per)} views; socket buffers "
                     f"{kib(get(r0, 'server_read_buffer_bytes'))} KiB read, "
                     f"{kib(get(r0, 'server_write_buffer_bytes'))} KiB write)",
                     ", ".join(f"{num(n)}: {kib(p)} KiB" for n, p in per),
                     verdict(ok)])
        if ok is False:
            worst = max(p for _, p in per if p is not None)
            notes.append(f"- Views' memory: {kib(worst - VIEW_RSS_LIMIT_BYTES)} KiB per idle "
                         "view over 24 KiB at worst.")
    ve = runs.get("view-events", {}).get("livestate")
    if ve is not None:
        v, c = get(ve, "view_rtt_p99_us"), get(ve, "channel_rtt_p99_us")
        ok = None if v is None or c is None or c == 0 else v / c <= VIEW_P99_RATIO_LIMIT
        rows.append([f"a view event's round trip p99 ≤ 1.5× the same event on a channel "
                     f"({num(ve.get('clients'))} sockets of each, {num(ve.get('rate'))} "
                     "events/s each)",
                     f"view {ms(v)} ms, channel {ms(c)} ms: {ratio(v, c)}",
                     verdict(ok)])
        if ok is False:
            notes.append(f"- View events: the view's p99 is {ratio(v, c)} the channel's, "
                         f"{ms(v - VIEW_P99_RATIO_LIMIT * c)} ms over 1.5×.")
    sv = runs.get("shared-views", {}).get("livestate")
    ss = runs.get("shared-sockets", {}).get("livestate")
    if sv is not None or ss is not None:
        v, c = get(sv, "server_cpu"), get(ss, "server_cpu")
        ok = None if v is None or not c else v / c <= SHARED_VIEWS_CPU_RATIO_LIMIT
        n = get(sv, "subscribers") or get(ss, "subscribers")
        rate = get(sv, "rate") or get(ss, "rate")
        rows.append([f"shared key: {num(n)} views attached to one key (shared render) ≤ 2× the "
                     f"server CPU of {num(n)} phx-live-state sockets on it, {num(rate)} "
                     "changes/s",
                     f"views {num(v, 2)} cores, sockets {num(c, 2)} cores: {ratio(v, c)}",
                     verdict(ok)])
        if ok is False:
            notes.append(f"- Shared key: the views cost {ratio(v, c)} the sockets' server CPU, "
                         f"{num(v - SHARED_VIEWS_CPU_RATIO_LIMIT * c, 2)} cores over 2×.")
    return rows, notes


if __name__ == "__main__":
    main()
