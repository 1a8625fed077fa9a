#!/usr/bin/env bash
# The demo: Debezium change events from a Postgres table run through a chain of Wasm
# transforms (route the topic, then tag each record), printed as JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug/tidemark
"$bin" plugin inspect target/plugins/regex-router.wasm
echo
"$bin" plugin test \
    target/plugins/regex-router.wasm \
    --config 'regex=dbz\.public\.(.*)' \
    --config 'replacement=cdc.$1' \
    --value-schemas false \
    --input tests/golden/dbz/pg-basic.jsonl
