#!/usr/bin/env python3
"""Turns the RESULT lines of bench/pg.sh (or bench/maria.sh) into a Markdown table with the ratios the targets
are about: Tidemark against pg_recvlogical (streaming) and against Debezium (rows/s, RSS).
Repeated measurements are summarised by their median rate and their highest peak RSS."""
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


def main():
    rows = parse(sys.argv[1])
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
