"""Drive one scenario with wrk: a generated Lua script cycles through the scenario's
requests (each thread starting at its own offset, so writes stay distinct), counts the
statuses it gets back, and prints a JSON summary from done()."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

LUA = r"""
local reqs = {%(requests)s}
local expected = %(expected)d
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  i = tid
  nthreads = %(threads)d
  ok, s2, s3, s4, s5, locked = 0, 0, 0, 0, 0, 0
end

function request()
  local r = reqs[(i %% #reqs) + 1]
  i = i + nthreads
  return wrk.format(r[1], r[2], r[3], r[4])
end

function response(status, headers, body)
  if status == expected then ok = ok + 1 end
  if status < 300 then s2 = s2 + 1
  elseif status < 400 then s3 = s3 + 1
  elseif status < 500 then s4 = s4 + 1
  else
    s5 = s5 + 1
    if status == 503 then locked = locked + 1 end
  end
end

function done(summary, latency, requests)
  local t = {ok = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, locked = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, ' ..
    '"p99_us": %%d, "max_us": %%d, "connect_errors": %%d, "read_errors": %%d, ' ..
    '"write_errors": %%d, "timeouts": %%d, "expected": %%d, "s2xx": %%d, "s3xx": %%d, ' ..
    '"s4xx": %%d, "s5xx": %%d, "s503": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout,
    t.ok, t.s2, t.s3, t.s4, t.s5, t.locked))
end
"""


@dataclass
class Request:
    method: str
    path: str
    body: str = ""


@dataclass
class Load:
    """A scenario's requests, all sent with one cookie, and the status that means success."""

    requests: list[Request]
    expected: int = 200
    cookie: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def script(load: Load, threads: int) -> str:
    headers = dict(load.headers)
    if load.cookie:
        headers["Cookie"] = f"casemgr_session={load.cookie}"
    rows = []
    for r in load.requests:
        h = dict(headers)
        if r.method == "POST":
            h["Content-Type"] = "application/x-www-form-urlencoded"
        hs = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in h.items())
        body = _lua_string(r.body) if r.body else "nil"
        rows.append(f"{{{_lua_string(r.method)}, {_lua_string(r.path)}, {{{hs}}}, {body}}}")
    return LUA % {"requests": ",\n".join(rows), "expected": load.expected, "threads": threads}


def run(base: str, load: Load, *, seconds: int, connections: int, threads: int = 2) -> dict:
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script(load, threads))
        path = Path(f.name)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    cmd += ["--timeout", "10s", "-s", str(path), base]
    try:
        out = subprocess.run(  # noqa: S603  (fixed argument list, no shell)
            cmd, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    finally:
        path.unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    secs = raw["duration_us"] / 1e6
    errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return {
        "requests": raw["requests"],
        "seconds": round(secs, 2),
        "rps": round(raw["requests"] / secs, 1) if secs else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p90_ms": round(raw["p90_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "socket_errors": errors,
        "unexpected_status": sum(raw[k] for k in ("s2xx", "s3xx", "s4xx", "s5xx"))
        - raw["expected"],
        "status": {k: raw[k] for k in ("s2xx", "s3xx", "s4xx", "s5xx", "s503")},
    }
