#!/usr/bin/env python3
"""Turns the raw output of bench/run into markdown: prints the summary table and, with --write DIR,
regenerates DIR/benchmarks.md and DIR/benchmarks-redis.png (gnuplot) from the same numbers.

Nothing here is a measured number: every figure comes from the files bench/run wrote into the
results directory. A benchmark that did not run shows as "not measured"."""

import argparse
import json
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

DEPTHS = [1, 16, 64, 256]
FRACTIONS = [0.001, 0.01, 0.1]
WORKLOADS = ["get_hit", "get_miss", "set", "incr", "mixed_75get_25set"]
NOT_MEASURED = "not measured"


# ---------------------------------------------------------------- loading

def read_jsonl(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_machine(results):
    machine = {}
    path = results / "machine.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            machine[key] = value
    return machine


class Redis:
    """Medians over runs of every (client, op, depth)."""

    def __init__(self, rows):
        self.samples = defaultdict(lambda: defaultdict(list))
        self.failed = set()
        self.missing = set()
        for row in rows:
            if row.get("missing"):
                self.missing.add(row["client"])
            elif row.get("failed"):
                self.failed.add(row["client"])
            else:
                key = (row["client"], row["op"], row["depth"])
                for field in ("ops_per_sec", "p50_us", "p99_us"):
                    if field in row:
                        self.samples[key][field].append(row[field])
                if row.get("cpu_seconds") and row.get("seconds") and row.get("requests"):
                    self.samples[key]["cpu_us_per_op"].append(1e6 * row["cpu_seconds"] / row["requests"])
                    self.samples[key]["busy"].append(row["cpu_seconds"] / row["seconds"])

    def median(self, client, op, depth, field="ops_per_sec"):
        values = self.samples.get((client, op, depth), {}).get(field)
        return statistics.median(values) if values else None

    def runs(self, client, op, depth):
        return len(self.samples.get((client, op, depth), {}).get("ops_per_sec", []))

    def why_missing(self, client):
        if client in self.missing:
            return f"{NOT_MEASURED} (the {client} driver is not built yet)"
        if client in self.failed:
            return f"{NOT_MEASURED} (the {client} driver failed, see results/*.err)"
        return NOT_MEASURED


def load_memory(results):
    """items_per_second by (impl, workload, threads): the median aggregate when bench/run asked for
    repetitions, else the single run."""
    path = results / "memory.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    rates, singles = {}, defaultdict(list)
    for b in data.get("benchmarks", []):
        match = re.match(r"memory/([^/]+)/([^/]+)/.*threads:(\d+)$", b.get("run_name", b["name"]))
        if not match or "items_per_second" not in b:
            continue
        key = (match.group(1), match.group(2), int(match.group(3)))
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                rates[key] = b["items_per_second"]
        else:
            singles[key].append(b["items_per_second"])
    for key, values in singles.items():
        rates.setdefault(key, statistics.median(values))
    return rates


def load_memory_cv(results):
    """Coefficient of variation of items_per_second by (impl, workload, threads), over the
    repetitions (only when bench/run asked for them)."""
    path = results / "memory.json"
    if not path.exists():
        return {}
    cvs = {}
    for b in json.loads(path.read_text()).get("benchmarks", []):
        match = re.match(r"memory/([^/]+)/([^/]+)/.*threads:(\d+)$", b.get("run_name", b["name"]))
        if match and b.get("aggregate_name") == "cv" and "items_per_second" in b:
            cvs[(match.group(1), match.group(2), int(match.group(3)))] = b["items_per_second"]
    return cvs


def load_mass_expiry(results):
    """The counters of memory/corocache/mass_expiry (median over repetitions), or {}."""
    path = results / "memory.json"
    if not path.exists():
        return {}
    singles = defaultdict(list)
    for b in json.loads(path.read_text()).get("benchmarks", []):
        if not b.get("run_name", b["name"]).startswith("memory/corocache/mass_expiry"):
            continue
        fields = ("slowest_get_us", "slowest_get_cpu_us", "reclaim_ms", "gets_until_reclaimed")
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                return {f: b[f] for f in fields if f in b}
        else:
            for f in fields:
                if f in b:
                    singles[f].append(b[f])
    return {f: statistics.median(v) for f, v in singles.items()}


def load_hit_ratios(results):
    ratios = {}
    for row in read_jsonl(results / "hit_ratio.jsonl"):
        ratios[(row["exponent"], row["fraction"], row["policy"])] = row
    return ratios


# ---------------------------------------------------------------- callgrind profiles

CATEGORIES = [
    ("memory allocation", r"malloc|calloc|realloc|free\b|_int_free|cfree|operator new|"
     r"operator delete|tcache"),
    ("mutex", r"pthread_mutex|__lll_lock|__lll_unlock|pthread_spin"),
    ("shared_ptr reference counts", r"_Sp_counted|shared_ptr|weak_ptr"),
    ("hiredis (parse, format, buffers)", r"^redis|^sds|hiredis|^__redis|^seedNewContext|^createReply"
     r"|^moveToNextTask|^processItem|^processLineItem|^processBulkItem|^processAggregateItem"
     r"|^freeReplyObject|^__redisAsync"),
    ("libc printf / strtol / strncasecmp (called by hiredis)",
     r"vfprintf|vsnprintf|strtol|^_IO_|strncasecmp|strchr|_itoa"),
    ("libevent", r"^event_|evmap|evutil|epoll_dispatch|event_base|evthread|libevent|"
     r"^timeout_|^min_heap"),
    ("asio scheduler, executors, timers, strands",
     r"asio::detail::(scheduler|epoll_reactor|strand|timer|reactive_socket|descriptor|executor_op|"
     r"completion_handler|thread_info|wait_handler|conditionally_enabled|executor_function)|"
     r"asio::detail::.*op::do_complete|asio::io_context|any_executor|asio::strand|"
     r"asio::(dispatch|post|defer)\b|any_io_executor|asio::execution::"),
    ("asio coroutine machinery (frames, awaitable threads)",
     r"asio::detail::(awaitable|co_spawn|coro)|awaitable_frame|awaitable_thread|\.actor|"
     r"\[clone \.(actor|destroy)\]"),
    ("hash lookups", r"_Hash_bytes|_Hashtable|_M_find|hash<"),
    ("memcpy / string copies", r"memcpy|memmove|memcmp|memset|strlen|basic_string|__memcpy"),
    ("system call wrappers (kernel time not counted)",
     r"\b(read|write|recv|send|sendmsg|recvmsg|epoll_wait|epoll_ctl|__libc_(read|write|recv|send)|"
     r"syscall)\b|asynccancel"),
    ("std::chrono / clock", r"chrono|clock_gettime|__vdso"),
    ("std::vector / std::function (command arguments, replies, callbacks)",
     r"^std::vector|^std::_Function|^std::function"),
    ("startup (dynamic linking)", r"^_dl_|do_lookup|_dl_relocate"),
    ("corocache", r"corocache::"),
    ("benchmark driver", r"benchmark::|bench::|^anon::|^main$"),
]


def parse_callgrind(path):
    """(total instructions, [(instructions, function)]) from callgrind_annotate --inclusive=no."""
    if not path.exists():
        return None
    total, functions = None, []
    for line in path.read_text().splitlines():
        match = re.match(r"\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*)$", line)
        if not match:
            continue
        count, rest = int(match.group(1).replace(",", "")), match.group(2).strip()
        if rest.startswith("PROGRAM TOTALS"):
            total = count
        elif total is not None and rest and not rest.startswith("file:function"):
            obj = re.search(r"\s+\[([^\]]*)\]$", rest)
            rest = rest[: obj.start()] if obj else rest
            name = rest.split(":", 1)[-1] if ":" in rest else rest
            if re.fullmatch(r"0x[0-9a-f]+", name) and obj:  # a stripped library: name the library
                name = f"{name} in {Path(obj.group(1)).name}"
            functions.append((count, name))
    return (total, functions) if total else None


# One call per memory get in a callgrind profile: the destroy part of do_get's coroutine frame. g++
# splits a coroutine into a ramp (often inlined into its caller), an actor (entered at the start
# and again at each resumption) and a destroy part (once per frame), so a pattern that matched
# every part of do_get counted each get several times.
MEMORY_GET_CALL = r"MemoryCacheBackend<.*>::do_get\(.*\[clone \.destroy\]"


def instructions_per_call(path, function_pattern):
    """Instructions callgrind collected, divided by the calls to the functions matching
    `function_pattern`, from a raw callgrind.out file: the cost of one benchmark iteration, when
    collection was toggled on around the benchmark loop and the pattern names its one call per
    iteration. Google Benchmark's own calibration runs count on both sides of the division."""
    if not path.exists():
        return None
    names, callee, total, calls = {}, "", None, 0
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if match:
            kind, ident, name = match.groups()
            if name:
                names[ident] = name.strip()
            if kind == "cfn":
                callee = names.get(ident, "")
            continue
        match = re.match(r"calls=(\d+)", line)
        if match and re.search(function_pattern, callee):
            calls += int(match.group(1))
            continue
        match = re.match(r"(?:summary|totals): (\d+)", line)
        if match:
            total = int(match.group(1))
    return total / calls if total and calls else None


def parse_strace(path):
    """{syscall: calls} from the table of strace -c."""
    if not path.exists():
        return None
    calls = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
        if match:
            calls[match.group(2)] = int(match.group(1))
    return calls or None


def base_name(name):
    """The qualified name without template arguments and parameters, so that a function is
    classified by what it is, not by the types it mentions."""
    name = name.replace("(anonymous namespace)", "anon")
    out, depth = [], 0
    for ch in name:
        if ch in "<(":
            depth += 1
        elif ch in ">)" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def categorize(functions, total):
    shares = defaultdict(int)
    for count, full_name in functions:
        name = base_name(full_name)
        for label, pattern in CATEGORIES:
            if re.search(pattern, name):
                shares[label] += count
                break
        else:
            shares["other"] += count
    return sorted(((c / total, label) for label, c in shares.items()), reverse=True)


def short_name(name, width=90):
    name = re.sub(r"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
                  "std::string", name)
    return name if len(name) <= width else name[: width - 1] + "…"


# ---------------------------------------------------------------- formatting

def fmt_rate(value):
    if value is None:
        return NOT_MEASURED
    return f"{value:,.0f}"


def fmt_ratio(value):
    return "—" if value is None else f"{value:.2f}x"


def ratio(a, b):
    return a / b if a is not None and b else None


def status(value, ok):
    if value is None:
        return NOT_MEASURED
    return "met" if ok(value) else "**NOT met**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- the report

class Report:
    def __init__(self, results):
        self.results = results
        self.machine = read_machine(results)
        self.redis = Redis(read_jsonl(results / "redis.jsonl"))
        self.memory = load_memory(results)
        self.memory_cv = load_memory_cv(results)
        self.mass_expiry = load_mass_expiry(results)
        self.hits = load_hit_ratios(results)
        self.callers = {row.get("client"): row for row in read_jsonl(results / "callers.jsonl")}

    def coro(self, op, depth, field="ops_per_sec"):
        return self.redis.median("corocache", op, depth, field)

    def hiredis(self, op, depth, field="ops_per_sec"):
        return self.redis.median("hiredis", op, depth, field)

    def summary_rows(self):
        rows = []
        m = self.memory
        c1, b1 = m.get(("corocache", "get_hit", 1)), m.get(("mutex_map", "get_hit", 1))
        r = ratio(c1, b1)
        rows.append(["memory get-hit, 1 thread (ops/s)", fmt_rate(c1), fmt_rate(b1) + " (mutex map)",
                     fmt_ratio(r), ">= 0.9x", status(r, lambda v: v >= 0.9)])
        c2, b2 = m.get(("corocache", "get_hit", 2)), m.get(("mutex_map", "get_hit", 2))
        r = ratio(c2, b2)
        rows.append(["memory get-hit, 2 threads (ops/s)", fmt_rate(c2), fmt_rate(b2) + " (mutex map)",
                     fmt_ratio(r), ">= 2.5x", status(r, lambda v: v >= 2.5)])
        r = ratio(c2, c1)
        rows.append(["memory get-hit, 2 threads vs 1 thread (ops/s)", fmt_rate(c2),
                     fmt_rate(c1) + " (1 thread)", fmt_ratio(r), ">= 1.7x", status(r, lambda v: v >= 1.7)])
        c2, c1 = m.get(("corocache", "mixed_75get_25set", 2)), m.get(("corocache", "mixed_75get_25set", 1))
        r = ratio(c2, c1)
        rows.append(["memory 75/25 mix, 2 threads vs 1 thread (ops/s)", fmt_rate(c2),
                     fmt_rate(c1) + " (1 thread)", fmt_ratio(r), ">= 1.4x", status(r, lambda v: v >= 1.4)])
        # Instructions per get do not move with the host or its load, unlike the timings above.
        i_coro = instructions_per_call(self.results / "callgrind.memory_corocache_get_hit.out",
                                       MEMORY_GET_CALL)
        i_map = instructions_per_call(self.results / "callgrind.memory_mutex_map_get_hit.out",
                                      r"pthread_mutex_lock")
        if i_coro and i_map:
            r = ratio(i_coro, i_map)
            rows.append(["memory get-hit, 1 thread: instructions per get (callgrind)", f"{i_coro:,.0f}",
                         f"{i_map:,.0f} (mutex map)", fmt_ratio(r), "—", "—"])
        # The coroutine interface alone (a null backend's get), against the whole mutex-map get.
        i_null = instructions_per_call(self.results / "callgrind.memory_null_get.out",
                                       r"NullCacheBackend<.*>::do_get\(.*\[clone \.destroy\]")
        if i_null and i_map:
            rows.append(["null backend get, 1 thread: instructions per `co_await get` (the coroutine "
                         "interface alone; callgrind)", f"{i_null:,.0f}", f"{i_map:,.0f} (mutex map, whole get)",
                         fmt_ratio(ratio(i_null, i_map)), "—", "—"])
        # get_now: the same lookup without a coroutine (shown beside the targets, which are set for
        # the coroutine API).
        n1, n2 = m.get(("corocache_get_now", "get_hit", 1)), m.get(("corocache_get_now", "get_hit", 2))
        if n1 or n2:
            rows.append(["memory get_now hit (no coroutine), 1 thread (ops/s)", fmt_rate(n1),
                         fmt_rate(b1) + " (mutex map)", fmt_ratio(ratio(n1, b1)), "—", "—"])
            rows.append(["memory get_now hit (no coroutine), 2 threads (ops/s)", fmt_rate(n2),
                         fmt_rate(b2) + " (mutex map)", fmt_ratio(ratio(n2, b2)), "—", "—"])
            rows.append(["memory get_now hit (no coroutine), 2 threads vs 1 thread (ops/s)",
                         fmt_rate(n2), fmt_rate(n1) + " (1 thread)", fmt_ratio(ratio(n2, n1)), "—", "—"])
        # What a TTL on every entry costs a hit: the clock read that hits without one skip.
        h1, t1 = m.get(("corocache", "get_hit", 1)), m.get(("corocache_ttl", "get_hit", 1))
        if t1:
            rows.append(["memory get-hit on entries with a TTL, 1 thread (ops/s)", fmt_rate(t1),
                         fmt_rate(h1) + " (entries without a TTL)", fmt_ratio(ratio(t1, h1)), "—", "—"])
        i_now = instructions_per_call(self.results / "callgrind.memory_corocache_get_now_get_hit.out",
                                      r"MemoryCacheBackend<.*>::read[<(]")
        if i_now and i_map:
            rows.append(["memory get_now hit, 1 thread: instructions per get (callgrind)", f"{i_now:,.0f}",
                         f"{i_map:,.0f} (mutex map)", fmt_ratio(ratio(i_now, i_map)), "—", "—"])
        x = self.mass_expiry
        if x:
            slowest = x.get("slowest_get_us")
            rows.append(["memory: 1,000,000 entries expire at once under get-hits: slowest single get (µs)",
                         f"{slowest:,.0f}" if slowest is not None else NOT_MEASURED,
                         "450,000-860,000 before incremental sweeps", "—", "<= 2,000",
                         status(slowest, lambda v: v <= 2000)])
        s3, lru = m.get(("corocache", "get_hit", 1)), m.get(("corocache_lru", "get_hit", 1))
        r = ratio(s3, lru)
        # Slower only when the gap exceeds the run-to-run spread of these very measurements.
        spread = max(self.memory_cv.get(("corocache", "get_hit", 1), 0),
                     self.memory_cv.get(("corocache_lru", "get_hit", 1), 0))
        verdict = status(r, lambda v: v >= 1.0)
        if r is not None and r < 1.0 and 1.0 - r <= spread:
            verdict = f"within noise (spread {spread:.0%})"
        rows.append(["memory get-hit, default S3-FIFO vs `eviction=lru`, 1 thread (ops/s)", fmt_rate(s3),
                     fmt_rate(lru) + " (LRU)", fmt_ratio(r), ">= 1.0x (not slower)", verdict])
        # Instruction counts do not move with the machine's load, unlike the timings above.
        i_s3 = instructions_per_call(self.results / "callgrind.memory_corocache_get_hit.out",
                                     MEMORY_GET_CALL)
        i_lru = instructions_per_call(self.results / "callgrind.memory_corocache_lru_get_hit.out",
                                      MEMORY_GET_CALL)
        if i_s3 and i_lru:
            r = ratio(i_s3, i_lru)
            rows.append(["memory get-hit, default S3-FIFO vs `eviction=lru`: instructions per get (callgrind)",
                         f"{i_s3:,.0f}", f"{i_lru:,.0f} (LRU)", fmt_ratio(r), "<= 1.0x (not slower)",
                         status(r, lambda v: v <= 1.0)])
        for exponent in sorted({k[0] for k in self.hits}):
            for fraction in FRACTIONS:
                lru = self.hits.get((exponent, fraction, "lru"))
                # The target applies to the default policy; the LRU option is shown for comparison.
                for policy, label, judged in (("memory_backend", "default, S3-FIFO", True),
                                              ("memory_backend_lru", "`eviction=lru`", False)):
                    mem = self.hits.get((exponent, fraction, policy))
                    if not mem or not lru:
                        continue
                    r = ratio(mem["hit_ratio"], lru["hit_ratio"])
                    rows.append([f"hit ratio, memory backend ({label}), Zipf({exponent}), cache {fraction:.1%} of keys",
                                 f"{mem['hit_ratio']:.5f}", f"{lru['hit_ratio']:.5f} (exact LRU)",
                                 fmt_ratio(r), ">= LRU" if judged else "— (option)",
                                 status(mem["hit_ratio"], lambda v, l=lru["hit_ratio"]: v >= l - 1e-9)
                                 if judged else "—"])
        for op in ("get", "set"):
            for depth in DEPTHS:
                c, h = self.coro(op, depth), self.hiredis(op, depth)
                r = ratio(c, h)
                floor = 0.9 if depth == 1 else 1.0
                rows.append([f"Redis {op.upper()}, D={depth} (ops/s)",
                             fmt_rate(c) if c else self.redis.why_missing("corocache"),
                             fmt_rate(h) + " (hiredis)", fmt_ratio(r), f">= {floor:.1f}x",
                             status(r, lambda v, f=floor: v >= f)])
            c = self.coro(op, 256)
            rows.append([f"Redis {op.upper()}, D=256 absolute (ops/s)",
                         fmt_rate(c) if c else self.redis.why_missing("corocache"),
                         fmt_rate(self.redis.median("redis-benchmark", op, 256)) + " (redis-benchmark -P 256)",
                         "—", ">= 1,000,000", status(c, lambda v: v >= 1_000_000)])
        for op in ("get", "set"):
            for field, label in (("p50_us", "p50"), ("p99_us", "p99")):
                c, h = self.coro(op, 1, field), self.hiredis(op, 1, field)
                r = ratio(c, h)
                rows.append([f"Redis {op.upper()} latency {label}, D=1 (µs)",
                             f"{c:.1f}" if c else self.redis.why_missing("corocache"),
                             f"{h:.1f} (hiredis)" if h else NOT_MEASURED, fmt_ratio(r), "<= 1.10x",
                             status(r, lambda v: v <= 1.10)])
        c, p = (self.callers.get(k, {}).get("mean_parallel") for k in ("corocache", "post"))
        rows.append(["Redis: callers' 2 ms of work after each GET, 32 coroutines on 2 io threads "
                     "(mean sections running at once)",
                     f"{c:.2f}" if c else NOT_MEASURED,
                     f"{p:.2f} (same loop, asio::post instead of GET)" if p else NOT_MEASURED,
                     fmt_ratio(ratio(c, p)), ">= 0.90x (about 2 at once)",
                     status(ratio(c, p), lambda v: v >= 0.9)])
        c, h = self.coro("mget", 1), self.hiredis("mget", 1)
        rows.append(["Redis get_many of 100 keys, D=1 (calls/s)",
                     fmt_rate(c) if c else self.redis.why_missing("corocache"),
                     fmt_rate(h) + " (hiredis MGET)", fmt_ratio(ratio(c, h)), "—", "—"])
        return rows

    def summary(self):
        return table(["benchmark", "corocache", "baseline", "ratio", "target", "status"],
                     self.summary_rows())

    def redis_table(self):
        rows = []
        for op in ("get", "set"):
            for depth in DEPTHS:
                c, h = self.coro(op, depth), self.hiredis(op, depth)
                rb = self.redis.median("redis-benchmark", op, depth)
                rows.append([op.upper(), depth, fmt_rate(c), fmt_rate(h), fmt_rate(rb),
                             fmt_ratio(ratio(c, h)), fmt_ratio(ratio(c, rb)),
                             max(self.redis.runs("hiredis", op, depth), self.redis.runs("corocache", op, depth))])
        return table(["op", "D", "corocache ops/s", "hiredis+libevent ops/s",
                      "redis-benchmark -P D ops/s", "corocache / hiredis", "corocache / redis-benchmark",
                      "runs"], rows)

    def tls_table(self):
        """corocache over rediss:// against corocache over plain TCP, same server, same run."""
        rows = []
        for op in ("get", "set"):
            for depth in (1, 64, 256):
                c, t = self.coro(op, depth), self.redis.median("corocache-tls", op, depth)
                rows.append([op.upper(), depth, fmt_rate(c), fmt_rate(t), fmt_ratio(ratio(t, c)),
                             self.redis.runs("corocache-tls", op, depth)])
        return table(["op", "D", "corocache TCP ops/s", "corocache TLS ops/s", "TLS / TCP", "runs"],
                     rows)

    def cluster_table(self):
        """One backend over a 3-master cluster against one node, and against redis-benchmark
        --cluster on the same cluster, all in the same run."""
        rows = []
        for op, depth, label in (("get", 256, "GET"), ("set", 256, "SET"), ("mget", 1, "get_many(100)")):
            one = self.redis.median("corocache", op, depth)
            cluster = self.redis.median("corocache-cluster", op, depth)
            rb = self.redis.median("redis-benchmark-cluster", op, depth) if op != "mget" else None
            busy = [self.redis.median(client, op, depth, "busy") for client in ("corocache", "corocache-cluster")]
            p50 = self.redis.median("corocache-cluster", op, depth, "p50_us")
            p99 = self.redis.median("corocache-cluster", op, depth, "p99_us")
            rows.append([label, depth, fmt_rate(one),
                         fmt_rate(cluster) if cluster else self.redis.why_missing("corocache-cluster"),
                         fmt_ratio(ratio(cluster, one)),
                         fmt_rate(rb) if op != "mget" else "—",
                         fmt_ratio(ratio(cluster, rb)) if op != "mget" else "—",
                         " / ".join(f"{b:.0%}" if b else NOT_MEASURED for b in busy),
                         f"{p50:.0f} / {p99:.0f}" if p50 and p99 else NOT_MEASURED,
                         self.redis.runs("corocache-cluster", op, depth)])
        return table(["op", "D", "corocache 1 node ops/s", "corocache cluster ops/s", "cluster / 1 node",
                      "redis-benchmark --cluster ops/s", "corocache / redis-benchmark", "client busy (1 node / cluster)",
                      "cluster p50 / p99 µs", "runs"], rows)

    def latency_table(self):
        rows = []
        for op in ("get", "set", "mget"):
            for depth in DEPTHS if op != "mget" else [1]:
                row = [op.upper() if op != "mget" else "get_many(100) / MGET", depth]
                for field in ("p50_us", "p99_us"):
                    c, h = self.coro(op, depth, field), self.hiredis(op, depth, field)
                    row += [f"{c:.1f}" if c else NOT_MEASURED, f"{h:.1f}" if h else NOT_MEASURED,
                            fmt_ratio(ratio(c, h))]
                rows.append(row)
        return table(["op", "D", "corocache p50 µs", "hiredis p50 µs", "ratio", "corocache p99 µs",
                      "hiredis p99 µs", "ratio"], rows)

    def client_cpu_table(self):
        rows = []
        for op in ("get", "set"):
            for depth in DEPTHS:
                row = [op.upper(), depth]
                for client in ("corocache", "hiredis"):
                    cpu = self.redis.median(client, op, depth, "cpu_us_per_op")
                    busy = self.redis.median(client, op, depth, "busy")
                    row += [f"{cpu:.2f}" if cpu else NOT_MEASURED, f"{busy:.0%}" if busy else NOT_MEASURED]
                rows.append(row)
        return table(["op", "D", "corocache CPU µs / op", "corocache busy", "hiredis CPU µs / op",
                      "hiredis busy"], rows)

    def client_cpu_cost(self):
        """Client CPU per GET against raw hiredis, from the table above."""
        def cpu_ratio(depth):
            c = self.redis.median("corocache", "get", depth, "cpu_us_per_op")
            h = self.redis.median("hiredis", "get", depth, "cpu_us_per_op")
            return ratio(c, h)
        r16, r256 = cpu_ratio(16), cpu_ratio(256)
        if r16 is None or r256 is None:
            return ""
        return (f"Client CPU per GET against raw hiredis: {r16:.2f}x at D=16, {r256:.2f}x at D=256 "
                f"(system calls are expensive on this virtual machine).")

    def memory_table(self):
        rows = []
        for workload in WORKLOADS:
            for threads in (1, 2):
                c = self.memory.get(("corocache", workload, threads))
                one = self.memory.get(("corocache_1shard", workload, threads))
                lru = self.memory.get(("corocache_lru", workload, threads))
                b = self.memory.get(("mutex_map", workload, threads))
                c1 = self.memory.get(("corocache", workload, 1))
                rows.append([workload.replace("_", "-"), threads, fmt_rate(c), fmt_rate(b),
                             fmt_ratio(ratio(c, b)), fmt_ratio(ratio(c, c1)) if threads == 2 else "—",
                             f"{fmt_rate(one)} ({fmt_ratio(ratio(one, b))})",
                             f"{fmt_rate(lru)} ({fmt_ratio(ratio(lru, b))})"])
        return table(["workload", "threads", "corocache ops/s", "mutex map ops/s",
                      "corocache / mutex map", "corocache 2 threads / 1 thread",
                      "corocache, 1 shard: ops/s (/ mutex map)",
                      "corocache, LRU: ops/s (/ mutex map)"], rows)

    def mass_expiry_text(self):
        x = self.mass_expiry
        if not x:
            return "Mass expiry: not measured."
        reclaim = x.get("reclaim_ms", -1)
        reclaimed = (f"the expired entries were all reclaimed after {reclaim:,.0f} ms "
                     f"({x.get('gets_until_reclaimed', 0):,.0f} gets; clean_interval is 1 s)"
                     if reclaim >= 0 else "the expired entries were not all reclaimed within 30 s")
        return ("Mass expiry (`memory/corocache/mass_expiry`): 1,000,000 entries with a TTL and "
                "100,000 without, then the clock jumps past every TTL and the sweep's due time; one "
                "thread then runs get-hits. The slowest single get took "
                f"{x.get('slowest_get_us', 0):,.0f} µs of wall time and "
                f"{x.get('slowest_get_cpu_us', 0):,.0f} µs of its thread's CPU time (wall time "
                f"includes preemption by other processes); {reclaimed}. Medians of the runs.")

    def hit_ratio_table(self):
        rows = []
        for exponent in sorted({k[0] for k in self.hits}):
            for fraction in FRACTIONS:
                cells = {p: self.hits.get((exponent, fraction, p)) for p in
                         ("memory_backend", "memory_backend_lru", "lru", "s3fifo", "wtinylfu")}
                if not cells["lru"]:
                    continue
                lru = cells["lru"]["hit_ratio"]

                def cell(policy):
                    row = cells[policy]
                    if not row:
                        return NOT_MEASURED
                    delta = (row["hit_ratio"] - lru) * 100
                    return f"{row['hit_ratio']:.5f}" + ("" if policy == "lru" else f" ({delta:+.3f} pt)")

                shards = cells["memory_backend"]["shards"] if cells["memory_backend"] else "?"
                rows.append([f"Zipf({exponent})", f"{fraction:.1%} ({cells['lru']['capacity']:,})",
                             shards, cell("memory_backend"), cell("memory_backend_lru"), cell("lru"),
                             cell("s3fifo"), cell("wtinylfu")])
        any_row = next(iter(self.hits.values()), None)
        caption = (f"{any_row['keys']:,} distinct keys, {any_row['requests']:,} requests per trace; "
                   "cold misses included; pt = percentage points against exact LRU."
                   if any_row else "")
        return table(["trace", "cache size", "backend shards", "memory backend (default, S3-FIFO)",
                      "memory backend (`eviction=lru`)", "exact LRU", "S3-FIFO (bench prototype)",
                      "W-TinyLFU (bench prototype)"], rows), caption

    def profiles(self):
        """Markdown for each callgrind profile that exists, and the per-GET instruction counts."""
        parts = []
        per_op = {}
        names = [("memory_corocache_get_hit", "memory backend get-hit through corocache (1 thread)", None),
                 ("memory_corocache_lru_get_hit",
                  "memory backend get-hit through corocache, `eviction=lru` (1 thread)", None),
                 ("memory_mutex_map_get_hit", "mutex map get-hit baseline (1 thread)", None),
                 ("redis_corocache_get_d1", "corocache Redis GET, D=1", 20000),
                 ("redis_hiredis_get_d1", "raw hiredis GET, D=1", 20000),
                 ("redis_corocache_get_d64", "corocache Redis GET, D=64", 100000),
                 ("redis_hiredis_get_d64", "raw hiredis GET, D=64", 100000)]
        for name, title, requests in names:
            parsed = parse_callgrind(self.results / f"profile-{name}.txt")
            if not parsed:
                continue
            total, functions = parsed
            header = f"**{title}**: {total:,} instructions"
            if requests:
                per_op[name] = total / requests
                header += f" in all, {total / requests:,.0f} per GET (whole client process)"
            categories = ", ".join(f"{label} {share:.0%}" for share, label in
                                   categorize(functions, total) if share >= 0.02)
            top = "\n".join(f"    {count / total:6.1%}  {short_name(fn)}" for count, fn in functions[:10])
            parts.append(f"{header}. By kind: {categories}.\n\n{top}\n")
        return parts, per_op

    def per_get_costs(self):
        """Instructions, heap allocations and system calls per GET of the whole client process."""
        rows = []
        for depth, requests in ((1, 20000), (64, 100000)):
            for client in ("corocache", "hiredis"):
                name = "corocache" if client == "corocache" else "hiredis"
                parsed = parse_callgrind(self.results / f"profile-redis_{name}_get_d{depth}.txt")
                heap = self.results / f"heap-{client}-d{depth}.txt"
                allocs = re.search(r"total heap usage: ([\d,]+) allocs", heap.read_text()) if heap.exists() else None
                calls = parse_strace(self.results / f"syscalls-{client}-d{depth}.txt")
                if not (parsed or allocs or calls):
                    continue
                per = lambda v: f"{v / requests:,.2f}"
                rows.append([depth, "corocache" if client == "corocache" else "raw hiredis + libevent",
                             f"{parsed[0] / requests:,.0f}" if parsed else NOT_MEASURED,
                             per(int(allocs.group(1).replace(",", ""))) if allocs else NOT_MEASURED,
                             per(calls.get("total", 0)) if calls else NOT_MEASURED,
                             " / ".join(per(calls.get(c, 0)) for c in ("write", "read", "epoll_wait", "epoll_ctl"))
                             if calls else NOT_MEASURED])
        if not rows:
            return []
        return ["Costs per GET of the whole client process (startup included, spread over the GETs):", "",
                table(["D", "client", "instructions", "heap allocations", "system calls",
                       "write / read / epoll_wait / epoll_ctl"], rows), ""]

    def overhead_by_kind(self):
        """Instructions per GET by kind, corocache against raw hiredis, at each profiled depth."""
        lines = []
        for depth, requests in ((1, 20000), (64, 100000)):
            coro = parse_callgrind(self.results / f"profile-redis_corocache_get_d{depth}.txt")
            raw = parse_callgrind(self.results / f"profile-redis_hiredis_get_d{depth}.txt")
            if not coro or not raw:
                continue
            shares = {}
            for label, parsed in (("corocache", coro), ("hiredis", raw)):
                for share, kind in categorize(parsed[1], parsed[0]):
                    shares.setdefault(kind, {})[label] = share * parsed[0] / requests
            rows = sorted(shares.items(), key=lambda kv: -(kv[1].get("corocache", 0) - kv[1].get("hiredis", 0)))
            extra = (coro[0] - raw[0]) / requests
            top = [f"{kind} ({v.get('corocache', 0) - v.get('hiredis', 0):+,.0f})" for kind, v in rows[:3]]
            lines += [f"At D={depth} corocache runs {extra:+,.0f} instructions per GET against raw hiredis; "
                      f"the largest additions: {', '.join(top)}.", ""]
            lines += [f"Instructions per GET by kind at D={depth} (sorted by what corocache adds):", "",
                      table(["kind", "corocache", "raw hiredis", "difference"],
                            [[kind, f"{v.get('corocache', 0):,.0f}", f"{v.get('hiredis', 0):,.0f}",
                              f"{v.get('corocache', 0) - v.get('hiredis', 0):+,.0f}"] for kind, v in rows]),
                      ""]
        return lines

    def write_plot(self, docs):
        data = self.results / "redis-plot.dat"
        with data.open("w") as out:
            out.write("# depth corocache_get hiredis_get rb_get corocache_set hiredis_set rb_set\n")
            for depth in DEPTHS:
                values = []
                for op in ("get", "set"):
                    for client in ("corocache", "hiredis", "redis-benchmark"):
                        v = self.redis.median(client, op, depth)
                        values.append("NaN" if v is None else f"{v:.0f}")
                out.write(f"{depth} " + " ".join(values) + "\n")
        png = docs / "benchmarks-redis.png"
        script = f"""
set terminal pngcairo size 1100,450 font ",10"
set output "{png}"
set multiplot layout 1,2 title "Redis throughput on one connection against concurrency D (median of runs)"
set logscale x 2
set xtics (1, 16, 64, 256)
set xrange [0.8:320]
set xlabel "D (commands in flight)"
set ylabel "operations / s"
set format y "%.1s%c"
set grid
set key top left
set yrange [0:*]
set title "GET"
plot "{data}" using 1:2 with linespoints lw 2 title "corocache", \\
     "" using 1:3 with linespoints lw 2 title "hiredis + libevent", \\
     "" using 1:4 with linespoints lw 2 dt 2 title "redis-benchmark -P D"
set title "SET (16-byte value)"
plot "{data}" using 1:5 with linespoints lw 2 title "corocache", \\
     "" using 1:6 with linespoints lw 2 title "hiredis + libevent", \\
     "" using 1:7 with linespoints lw 2 dt 2 title "redis-benchmark -P D"
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        return png.name

    def cache_layer_section(self):
        """bench/get_or_set_bench's own report (medians and ratios from one process), verbatim."""
        path = self.results / "get_or_set.txt"
        if not path.exists():
            return []
        return ["## Cache layer (get_or_set)", "",
                "`get_or_set_bench`: get_or_set on a hit and the counting decorator against a plain",
                "get on the memory backend (rounds alternate between the variants), 1,000 callers on",
                "one cold key, and reads in the stale-while-revalidate window; on Redis, GET at depth",
                "64 through the counting decorator against bare, and the stampede lock with 1,000",
                "callers over 4 connections on one cold key. Targets: get_or_set hit <= 1.1x get,",
                "instrumented get <= 1.05x get, one loader run per cold key.", "",
                "```", path.read_text().rstrip(), "```", ""] + self.hit_path_instructions()

    def hit_path_instructions(self):
        """Instructions per operation of the hit-path variants, from callgrind's inclusive count
        of the one function get_or_set_bench runs each variant in (a --smoke run)."""
        profile = self.results / "profile-get_or_set_inclusive.txt"
        stdout = self.results / "profile-get_or_set_smoke.stdout"
        if not profile.exists() or not stdout.exists():
            return []
        sizes = re.search(r"(\d+) rounds x (\d+) operations", stdout.read_text())
        if not sizes:
            return []
        operations = int(sizes.group(1)) * int(sizes.group(2))
        counts = {}
        for line in profile.read_text().splitlines():
            match = re.match(r"\s*([\d,]+)\s.*::(plain_get_ns|get_or_set_ns|instrumented_get_ns)\(",
                             line)
            if match:
                counts[match.group(2)] = int(match.group(1).replace(",", "")) / operations
        if len(counts) != 3:
            return []
        base = counts["plain_get_ns"]
        rows = [["get", f"{base:,.0f}", "1.00x"],
                ["get_or_set", f"{counts['get_or_set_ns']:,.0f}", f"{counts['get_or_set_ns'] / base:.3f}x"],
                ["instrumented get", f"{counts['instrumented_get_ns']:,.0f}",
                 f"{counts['instrumented_get_ns'] / base:.3f}x"]]
        return ([f"The same hit path in instructions per operation (callgrind, {operations:,} operations",
                 "per variant in one `--smoke` run; the same on any x86-64 host with this build):", ""]
                + [table(["memory backend, hit", "instructions / op", "ratio to get"], rows), ""])

    def document(self, plot_name):
        m = self.machine
        hit_table, hit_caption = self.hit_ratio_table()
        profiles, per_op = self.profiles()
        lines = [
            "# Benchmarks",
            "",
            "Generated by `bench/run` from its own measurements; do not edit by hand. Every number is",
            f"the median of {m.get('runs', '?')} runs made by the same invocation, and every ratio compares",
            "numbers from that same invocation.",
            "",
            "## Machine",
            "",
            f"- {m.get('nproc', '?')} CPUs: {m.get('cpu', '?')}",
            f"- compiler: {m.get('compiler', '?')}, CMake Release build (`-O3 -DNDEBUG`)",
            f"- Redis {m.get('redis', '?')} on loopback, started by bench/run (`--save \"\" --appendonly no`)",
            f"- Linux {m.get('kernel', '?')}, measured on {m.get('date', '?')}; load average (1, 5, 15 min)"
            f" {m.get('load_start', '?')} at the start and {m.get('load_end', '?')} at the end",
            "- Google Benchmark from Debian's libbenchmark-dev (that package is built in debug mode,",
            "  which affects only its own bookkeeping, identically for both sides of every ratio)",
            "",
            "The client, the server and (for the memory benchmarks) both threads share these CPUs, so",
            "absolute numbers are lower than on a dedicated multi-core server; the ratios are the point.",
            "",
            "## Commands",
            "",
            "```sh",
            "bench/run            # builds build/bench in Release, runs everything, rewrites this page",
            "bench/run --smoke    # tiny counts, one run each, leaves docs/ alone (CI)",
            "```",
            "",
            "The pieces (all in `build/bench/bench/`): `memory_bench` (Google Benchmark),",
            "`hit_ratio_sim`, `redis_bench` (corocache) and `hiredis_baseline` (raw hiredis + libevent),",
            "the last two taking `--host --port --op=get|set|mget --depth=D --requests=N`",
            "(`redis_bench --cluster=1` treats host:port as a Redis Cluster node).",
            "",
            "## Summary",
            "",
            self.summary(),
            "",
            "## Redis",
            "",
            "One backend, so one connection; D coroutines each issue their next command as soon as the",
            "previous one completes (GET, or SET of a 16-byte value) over 10,000 keys. The baselines:",
            "`hiredis_baseline`, raw hiredis async on libevent with a sliding window of D commands on one",
            "connection, and `redis-benchmark -c 1 -P D -r 10000 -d 16`, the pipelined ceiling of one",
            "connection.",
            "",
            f"![Redis throughput against concurrency]({plot_name})" if plot_name else "",
            "",
            self.redis_table(),
            "",
            "The same driver over TLS (`rediss://`, TLS 1.3, P-256 certificate) to the same server, whose",
            "TLS port is served by the same single thread:",
            "",
            self.tls_table(),
            "",
            "### Redis Cluster",
            "",
            "The same driver with a `redis-cluster://` URL over a local cluster of 3 masters (no",
            "replicas, persistence off) that bench/run forms with `redis-cli --cluster create` next to",
            "the single server: one backend, so one pipelined connection per master, and D coroutines",
            "over the same 10,000 keys, which have no hash tags and so fall in slots of every master.",
            "The baselines: the single-node rows of this run (one server), and",
            "`redis-benchmark --cluster -c 3 -P 256 -r 10000 -d 16`, which also keeps one pipelined",
            "connection per master (redis-benchmark puts each client on one master) but with 256",
            "commands outstanding on each of them, where the backend's 256 callers are spread over",
            "the three. Its run ends on a 250 ms tick (the rate it prints is the requests over a",
            "multiple of 250 ms, so never above the true one), so it is given 5 times the requests,",
            "about 2 s per command, which keeps that rounding below about 12%.",
            "get_many(100) draws 100 random keys: they fall in about 100 different slots,",
            "so the backend sends about 100 `MGET`s (one per slot, to the 3 masters at once) where one",
            "server takes one.",
            "",
            self.cluster_table(),
            "",
            "What these numbers mean on this machine: the single-node rows run the client and one",
            f"redis-server on {self.machine.get('nproc', '?')} CPUs, so each has a core of its own. The",
            "cluster rows run three redis-servers and the client on the same CPUs: the servers take",
            "turns on the cores the client leaves them, so the cluster is not expected to serve more",
            "than one node does here, and a ratio below 1x against one node is mostly the cost of",
            "sharing the cores, not of the routing. A cluster adds throughput where each master has",
            "cores (or a machine) of its own. What the rows do show on any host is the client's side:",
            "the backend's own work per command (the client busy column; near 100% its one io thread",
            "is what bounds it), and how it compares with redis-benchmark, which keeps more commands",
            "outstanding and has no cache layer. get_many over a cluster costs one command per slot, so keys",
            "read together are best given a common hash tag (`{user:42}:profile`), which puts them",
            "in one slot and one `MGET`.",
            "",
            "Latency of one operation, from the call to its completion:",
            "",
            self.latency_table(),
            "",
            "Client CPU time (user + kernel, from `CLOCK_PROCESS_CPUTIME_ID`) per operation, and the",
            "share of the run's wall time the client was busy; the rest of the time it waited for",
            "redis-server:",
            "",
            self.client_cpu_table(),
            "",
            "Both clients keep D commands outstanding, but raw hiredis writes the commands its callbacks",
            "issue once per read: it sends a batch, waits while the server runs it, then runs every",
            "callback while the server waits for the next batch, so the two sides take turns and the",
            "client is busy for only part of the run. corocache resumes every caller on the caller's",
            "own executor; the commands the callers of one read issue reach the connection as one",
            "burst and leave in one write (`write_due()` in `src/redis_connection_fsm.cpp` also writes",
            "early, once half of them and at least 8 are there, when they come in several bursts). The",
            "write is tried without blocking first, so an idle socket takes it without a trip through",
            "the scheduler. Where corocache's busy share approaches 100%, its own CPU time per",
            "operation is what bounds throughput (see Where the time goes).",
            "",
            self.client_cpu_cost(),
            "",
            "## Memory backend",
            "",
            "Keys drawn from Zipf(0.99) over a cache pre-filled with 100,000 entries (16-byte values).",
            "corocache: `MemoryCacheBackend<std::string>` with default options (S3-FIFO eviction), each thread running one",
            "coroutine on its own io_context that awaits every operation (the last columns: the same",
            "with `memory_options::shards = 1`, and with `eviction = eviction_policy::lru`).",
            "Baseline: a",
            "`std::unordered_map<std::string, std::string>` behind one `std::mutex`, called directly.",
            "",
            self.memory_table(),
            "",
            self.mass_expiry_text(),
            "",
            *self.cache_layer_section(),
            "## Hit ratios",
            "",
            "Read-through simulation: get, and set on a miss. The memory backend runs through its",
            "coroutine interface with default options (so with its default sharding), with each of its",
            "eviction policies; exact LRU and the S3-FIFO and W-TinyLFU prototypes are the standalone",
            "policies in `bench/eviction_policies.hpp`.",
            "",
            hit_table,
            "",
            hit_caption,
            "",
            "## Where the time goes",
            "",
        ]
        if profiles:
            lines += [
                "Instruction counts from `valgrind --tool=callgrind` (self cost per function; "
                + ("perf has no hardware counters on this machine" if "no hardware" in m.get("perf", "")
                   else "repeatable, unlike timings") + "). Callgrind sees only user-space",
                "instructions: time in the kernel (socket reads and writes, epoll) and in redis-server",
                "is not in these shares.",
                "",
            ]
            c1, h1 = per_op.get("redis_corocache_get_d1"), per_op.get("redis_hiredis_get_d1")
            c64, h64 = per_op.get("redis_corocache_get_d64"), per_op.get("redis_hiredis_get_d64")
            if c1 and h1:
                lines += [f"A corocache GET costs the client {c1:,.0f} instructions at D=1 against "
                          f"{h1:,.0f} for raw hiredis ({c1 / h1:.2f}x)"
                          + (f", and {c64:,.0f} against {h64:,.0f} at D=64 ({c64 / h64:.2f}x)." if c64 and h64
                             else "."), ""]
            lines += self.per_get_costs()
            lines += self.overhead_by_kind()
            lines += profiles
        else:
            lines += ["No profile in this run (profiles are taken in full runs only).", ""]
        return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--write", type=Path, metavar="DOCS_DIR",
                        help="regenerate DOCS_DIR/benchmarks.md and its plot")
    args = parser.parse_args()
    report = Report(args.results)
    print(report.summary())
    if args.write:
        plot = report.write_plot(args.write)
        (args.write / "benchmarks.md").write_text(report.document(plot))
        print(f"\nwrote {args.write / 'benchmarks.md'} and {args.write / plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
