#!/usr/bin/env python3
"""Turns the RESULT lines of bench/pg.sh (or bench/maria.sh) into a Markdown table with the ratios the targets
are about: Tidemark against pg_recvlogical (streaming) and against Debezium (rows/s, RSS).
Repeated measurements are summarised by their median rate and their highest peak RSS.
bench/kafka.sh's lines (cases `tx` and `load<R>`) get tables of their own: per case, start-up,
and the issue's targets (Tidemark against Debezium on Kafka Connect)."""
import statistics
import sys


def parse(path):
    rows = []
    for line in open(path):
        words = line.split()
        if len(words) < 3 or words[0] != "RESULT":
            continue
        fields = dict(w.split("=", 1) for w in words[3:] if "=" in w)
        rows.append((words[1], words[2], fields))
    return rows


def pick(rows, tool, phase, schemas=None):
    return [f for t, p, f in rows if t == tool and p == phase and (schemas is None or f.get("schemas") == schemas)]


def median(found, key):
    values = [float(f[key]) for f in found if key in f]
    return statistics.median(values) if values else None


def peak(found):
    values = [int(f["peak_rss_kb"]) for f in found if "peak_rss_kb" in f]
    return max(values) if values else None


def cell(value, fmt):
    return fmt.format(value) if value is not None else "–"


def chain_table(rows):
    """The chain mode: the same stream with and without the Wasm transform chain."""
    print("| schemas | chain | runs | rows/s (median) | peak RSS | throughput vs no transforms |")
    print("|---|---|---:|---:|---:|---:|")
    for schemas in ("true", "false"):
        base = median(pick(rows, "tidemark", "chain=none", schemas), "rows_per_s")
        for phase in sorted({p for t, p, f in rows if t == "tidemark" and p.startswith("chain=")}, key=lambda p: p != "chain=none"):
            found = pick(rows, "tidemark", phase, schemas)
            if not found:
                continue
            rate = median(found, "rows_per_s")
            print("| {} | {} | {} | {} | {} | {} |".format(
                schemas, phase[len("chain="):], len(found), cell(rate, "{:,.0f}"),
                cell(peak(found), "{:,} kB"),
                cell(rate / base - 1 if base and phase != "chain=none" else None, "{:+.1%}"),
            ))


def num(f, key):
    """A numeric field, None when absent or `-`."""
    try:
        return float(f[key])
    except (KeyError, ValueError):
        return None


KAFKA_TOOLS = {"tidemark": "Tidemark", "connect": "Debezium 3.6.1 on Connect 4.4"}


def kafka_case_order(case):
    return (0, 0) if case == "tx" else (1, int(case[len("load"):]))


def kafka_tables(rows):
    """bench/kafka.sh: every case, the start-up figures, and the targets."""
    cases = [(t, p, f) for t, p, f in rows if p == "tx" or p.startswith("load")]
    schemas_list = list(dict.fromkeys(f["schemas"] for _, _, f in cases))
    print("| schemas | case | tool | rows | rows/s | p50 ms | p99 ms | max ms | verdict | peak RSS | broker peak RSS | CPU s: connector / broker / walsender / reader |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for schemas in schemas_list:
        found = sorted((f for f in cases if f[2]["schemas"] == schemas),
                       key=lambda c: (kafka_case_order(c[1]), c[0] != "tidemark"))
        for tool, case, f in found:
            tx = case == "tx"
            label = f"one {int(f['expected']):,}-row transaction" if tx else f"{int(case[4:]):,} rows/s offered"
            rows_cell = f"{int(f['rows']):,}" + ("" if f["rows"] == f["expected"] else f" of {int(f['expected']):,}")
            print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                schemas, label, KAFKA_TOOLS.get(tool, tool), rows_cell,
                cell(num(f, "commit_rows_per_s") if tx else num(f, "achieved"), "{:,.0f}"),
                "–" if tx else cell(num(f, "p50_ms"), "{:,.0f}"),
                "–" if tx else cell(num(f, "p99_ms"), "{:,.0f}"),
                cell(num(f, "max_ms"), "{:,.0f}"),
                "–" if tx else f["verdict"].replace("_", " "),
                cell(num(f, "rss_kb"), "{:,.0f} kB"), cell(num(f, "broker_rss_kb"), "{:,.0f} kB"),
                " / ".join(cell(num(f, k), "{:.1f}") for k in ("cpu_s", "broker_cpu_s", "walsender_cpu_s", "reader_cpu_s")),
            ))
    print()
    print("(tx: rows/s = rows / (commit -> last event readable), max = that time; loads: rows/s = "
          "the rate Postgres achieved, latency = readable in Kafka - commit; CPU s over the workload; "
          "peak RSS of the connector's process includes its start-up)")
    print()
    print("| schemas | tool | cases | ready s (median) | REST answers s | connector RUNNING s | start-up CPU s (median) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for schemas in schemas_list:
        for tool in KAFKA_TOOLS:
            found = [f for t, _, f in cases if t == tool and f["schemas"] == schemas]
            if not found:
                continue
            print("| {} | {} | {} | {} | {} | {} | {} |".format(
                schemas, KAFKA_TOOLS[tool], len(found), cell(median(found, "ready_s"), "{:.1f}"),
                cell(median([f for f in found if num(f, "rest_s") is not None], "rest_s"), "{:.1f}"),
                cell(median([f for f in found if num(f, "running_s") is not None], "running_s"), "{:.1f}"),
                cell(median(found, "start_cpu_s"), "{:.1f}"),
            ))
    print()
    print("| schemas | Tidemark / Connect rows/s (≥ 10x) | Tidemark p99 at 20k rows/s (< 100 ms) | Connect / Tidemark peak RSS (≥ 30x) | highest sustained: Tidemark | highest sustained: Connect |")
    print("|---|---:|---:|---:|---:|---:|")
    for schemas in schemas_list:
        def one(tool, case):
            found = [f for t, p, f in cases if t == tool and p == case and f["schemas"] == schemas]
            return found[0] if found else {}
        def peak_rss(tool):
            values = [num(f, "rss_kb") for t, _, f in cases if t == tool and f["schemas"] == schemas]
            values = [v for v in values if v is not None]
            return max(values) if values else None
        def best(tool):
            found = [f for t, p, f in rows if t == tool and p == "best" and f.get("schemas") == schemas]
            if not found:
                return "–"
            f = found[0]
            lo, hi = int(f["sustained_rows_per_s"]), int(f["first_failed"])
            text = f"{lo:,}" if lo else "none"
            if hi:
                text += f" ({hi:,}: {f['failed_verdict'].replace('_', ' ')})"
            return text
        tm, dbz = num(one("tidemark", "tx"), "commit_rows_per_s"), num(one("connect", "tx"), "commit_rows_per_s")
        tm_rss, dbz_rss = peak_rss("tidemark"), peak_rss("connect")
        print("| {} | {} | {} | {} | {} | {} |".format(
            schemas, cell(tm / dbz if tm and dbz else None, "{:.1f}x"),
            cell(num(one("tidemark", "load20000"), "p99_ms"), "{:,.0f} ms"),
            cell(dbz_rss / tm_rss if tm_rss and dbz_rss else None, "{:.1f}x"),
            best("tidemark"), best("connect"),
        ))
    broker = [f for t, p, f in rows if t == "broker" and p == "run"]
    if broker:
        print()
        print(f"(broker: highest peak RSS over the cases' workloads {int(broker[0]['peak_rss_kb']):,} kB)")


def main():
    rows = parse(sys.argv[1])
    if any(p == "tx" or p.startswith("load") for t, p, f in rows):
        kafka_tables(rows)
        return
    if any(p.startswith("chain=") for t, p, f in rows):
        chain_table(rows)
        return
    # bench/maria.sh has no pg_recvlogical rows: those columns are left out.
    recv_cols = any(t == "pg_recvlogical" for t, p, f in rows)
    head = ["phase", "schemas", "Tidemark rows/s", "Tidemark peak RSS"]
    if recv_cols:
        head += ["pg_recvlogical rows/s", "Tidemark / pg_recvlogical"]
    head += ["Debezium rows/s", "Debezium peak RSS", "Tidemark / Debezium rows/s", "Debezium / Tidemark RSS"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * (len(head) - 2))
    for phase in ("stream", "snapshot"):
        for schemas in ("true", "false"):
            tm = pick(rows, "tidemark", phase, schemas)
            if not tm:
                continue
            recv = pick(rows, "pg_recvlogical", f"stream-{schemas}" if phase == "stream" else "snapfill")
            dbz = pick(rows, "debezium", phase, schemas)
            tm_rate, tm_rss = median(tm, "rows_per_s"), peak(tm)
            recv_rate = median(recv, "rows_per_s")
            dbz_rate, dbz_rss = median(dbz, "events_per_s"), peak(dbz)
            cells = [phase, schemas, cell(tm_rate, "{:,.0f}"), cell(tm_rss, "{:,} kB")]
            if recv_cols:
                cells += [cell(recv_rate, "{:,.0f}"), cell(tm_rate / recv_rate if recv_rate else None, "{:.0%}")]
            cells += [
                cell(dbz_rate, "{:,.0f}"), cell(dbz_rss, "{:,} kB"),
                cell(tm_rate / dbz_rate if dbz_rate else None, "{:.1f}x"),
                cell(dbz_rss / tm_rss if dbz_rss else None, "{:.0f}x"),
            ]
            print("| " + " | ".join(cells) + " |")
    print()
    print(f"(medians of {len(pick(rows, 'tidemark', 'stream', 'true')) or len(pick(rows, 'tidemark', 'snapshot', 'true'))} runs per Tidemark case; peak RSS is the highest seen)")


if __name__ == "__main__":
    main()
