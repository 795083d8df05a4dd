"""The printed table and the goal checks of one run."""

from __future__ import annotations

GOALS = {
    "ratio_to_floor": 0.30,  # every page at least 30 % of the floor's throughput
    "p99_ms": 250.0,  # at 16 concurrent connections
    "report_ms": 1000.0,  # a full-year progress report
    "worker_rss_mb": 200.0,  # after the run
}


def failures(row: dict) -> int:
    """Socket errors, unexpected statuses, and 503s the app logged for requests wrk had
    already given up on (so they are counted once)."""
    unseen = max(0, row.get("log_db_unavailable", 0) - row["status"]["s503"])
    return row["unexpected_status"] + row["socket_errors"] + unseen


def summarize(result: dict) -> None:
    """Add ratios to the floor and the list of missed goals to `result`."""
    rows = result["scenarios"]
    floor = rows.get("floor", {}).get("rps") or 0.0
    misses = []
    for key, row in rows.items():
        if "rps" not in row or key == "floor":
            continue
        row["ratio"] = round(row["rps"] / floor, 3) if floor else None
        why = []
        if row.get("goal") and row["ratio"] is not None and row["ratio"] < GOALS["ratio_to_floor"]:
            why.append(f"{row['ratio']:.0%} of the floor (goal 30 %)")
        if row["requests"] == 0:
            why.append(f"not one request finished in {row['seconds']:.0f} s")
        elif row["p99_ms"] > GOALS["p99_ms"]:
            why.append(f"p99 {row['p99_ms']:.0f} ms (goal < 250 ms)")
        if bad := row["unexpected_status"] + row["socket_errors"]:
            why.append(f"{bad} failed requests {row['status']}")
        if logged := row.get("log_db_unavailable"):
            why.append(f"{logged} 503s logged as 'database unavailable' (on SQLite: locked)")
        if row.get("query_status") not in (None, row.get("expected_status")):
            why.append(f"the query count's request answered {row['query_status']}")
        if why:
            misses.append(f"{key}: " + "; ".join(why))
    report = rows.get("report")
    if report and report["max_ms"] > GOALS["report_ms"]:
        misses.append(f"report: {report['max_ms']:.0f} ms (goal < 1 s)")
    for rss in result.get("worker_rss_mb", []):
        if rss > GOALS["worker_rss_mb"]:
            misses.append(f"worker memory: {rss:.0f} MB (goal < 200 MB)")
    result["misses"] = misses


def print_table(result: dict) -> None:
    m = result["machine"]
    print()
    print(f"== {result['database']} ({m['database']}), {result['clients']} clients, "
          f"gunicorn -w {result['gunicorn']['workers']} --threads {result['gunicorn']['threads']}, "
          f"wrk -c {result['connections']} for {result['seconds_per_scenario']} s, "
          f"{m['cores']} cores, load {m['load_before'][0]:.2f} -> {m['load_after'][0]:.2f}")  # fmt: skip
    head = (f"{'scenario':<34} {'req/s':>8} {'floor':>6} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>7} {'queries':>7} {'alone ms':>8}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for key, row in result["scenarios"].items():
        label = row.get("label", key)[:34]
        if "rps" in row:
            ratio = f"{row['ratio']:.0%}" if row.get("ratio") is not None else ""
            errors = failures(row)
            queries = row.get("queries", "")
            alone = row.get("single_ms", "")
            print(f"{label:<34} {row['rps']:>8.1f} {ratio:>6} {row['p50_ms']:>8.1f} "
                  f"{row['p99_ms']:>8.1f} {errors:>7} {queries!s:>7} {alone!s:>8}")  # fmt: skip
        else:
            if key == "batch":
                first = row["first_200_s"]
                timing, worst = (f"{first * 1000:.0f}" if first is not None else "-"), ""
                extra = (f"first 200 reports; all {row['printed']}/{row['clients']} "
                         f"{row['status']} in {row['seconds']:.0f} s, {row['per_client_ms']} ms/client")  # fmt: skip
            else:
                extra, timing, worst = "", f"{row['p50_ms']:.1f}", f"{row['max_ms']:.1f}"
            print(f"{label:<34} {'single':>8} {'':>6} {timing:>8} {worst:>8}   {extra}")
    print(f"worker RSS after the run: {result.get('worker_rss_mb')} MB "
          f"(floor workers {result.get('floor_rss_mb')} MB)")  # fmt: skip
    print("missed goals:" if result["misses"] else "every goal met")
    for miss in result["misses"]:
        print(f"  - {miss}")


def markdown(result: dict) -> str:
    """One run as a Markdown table (for bench/README.md): `python -m bench.harness.report F`."""
    m = result["machine"]
    lines = [
        f"**{result['database']}** ({m['database']}), {result['clients']:,} clients, "
        f"commit {m['git_commit']}{' + local changes' if m.get('git_dirty') else ''}, "
        f"load average {m['load_before'][0]:.1f} → {m['load_after'][0]:.1f} on {m['cores']} cores",
        "",
        "| Scenario | req/s | of floor | p50 ms | p99 ms | errors | queries | alone ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, row in result["scenarios"].items():
        label = row.get("label", key)
        if "rps" in row:
            ratio = f"{row['ratio']:.1%}" if row.get("ratio") is not None else "—"
            errors = failures(row)
            lines.append(
                f"| {label} | {row['rps']:.1f} | {ratio} | {row['p50_ms']:.0f} | "
                f"{row['p99_ms']:.0f} | {errors} | {row.get('queries', '')} | "
                f"{row.get('single_ms', '')} |"
            )
        elif key == "batch":
            first = row.get("first_200_s")
            lines.append(
                f"| {label} | single | | {first if first is not None else '—'} s to 200 | "
                f"all {row['printed']} {row['status']} in {row['seconds']:.0f} s "
                f"({row['per_client_ms']:.0f} ms/client) | | | |"
            )
        else:
            runs = ", ".join(f"{ms:.0f}" for ms in row["runs_ms"])
            lines.append(
                f"| {label} | single | | {row['p50_ms']:.0f} | max {row['max_ms']:.0f} ({runs}) | | |"
            )
    lines.append("")
    lines.append(
        f"Worker RSS after the run: {', '.join(f'{x:.0f}' for x in result.get('worker_rss_mb', []))} MB "
        f"(floor workers {', '.join(f'{x:.0f}' for x in result.get('floor_rss_mb', []))} MB). "
        f"503s / 'database unavailable' log lines: {result.get('log_database_unavailable', 0)}."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    for name in sys.argv[1:]:
        with open(name) as f:
            data = json.load(f)
        summarize(data)
        print(markdown(data) + "\n")
