#!/usr/bin/env bash
# Times the officer pages on a bench warehouse in a release build (best of 3, curl).
# Usage: ops/bench-pages.sh [WAREHOUSE]   (default target/bench/1000000x3, made by
# `cargo run --release -- bench --entities 1000000`). Runs the nightly batch there
# once (unsigned), adds a senior officer `olga`, serves on 127.0.0.1:18931.
# Prints how long the server took to read the queues and the search index
# at start, each page's best of 3, then the queue and entity pages right
# after a decision (a notice to the first pending member: it changes the
# warehouse's decisions, so each call notifies another member).
set -euo pipefail
cd "$(dirname "$0")/.."
B=target/release/credence
W=${1:-target/bench/1000000x3}
if [ ! -d "$W/marts/scores" ]; then
  $B run --warehouse "$W" --as-of 2026-11-27 --unsigned > /tmp/pt-run.log 2>&1 || { tail /tmp/pt-run.log; exit 1; }
fi
echo "correct horse battery" | $B officers add olga --role senior --warehouse "$W" >/dev/null 2>&1 || true
$B serve --warehouse "$W" --listen 127.0.0.1:18930 --ui-listen 127.0.0.1:18931 > /tmp/pt-serve.log 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null' EXIT
for i in $(seq 600); do grep -q "read ahead" /tmp/pt-serve.log 2>/dev/null && break; sleep 0.1; done
grep "read ahead" /tmp/pt-serve.log | head -1
U=http://127.0.0.1:18931
J=/tmp/pt.jar; rm -f $J
tok=$(curl -s -c $J -b $J $U/login | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')
curl -s -c $J -b $J -o /dev/null -w "login %{http_code}\n" --data-urlencode "officer=olga" --data-urlencode "password=correct horse battery" --data-urlencode "csrf=$tok" --data-urlencode "next=/" $U/login
ID=$($B review --warehouse "$W" --list serious-dishonesty 2>/dev/null | grep -o '91[0-9A-Z]\{16\}' | head -1 || true)
[ -n "$ID" ] || ID=$(curl -s -b $J "$U/review/serious-dishonesty" | grep -o '/entities/[0-9A-Z]\{18\}' | head -1 | cut -d/ -f3)
echo "entity $ID"
for p in "/" "/search?q=$ID" "/search?q=Trading" "/search?grade=D" "/entities/$ID" "/entities/$ID?list=serious-dishonesty" "/review/serious-dishonesty" "/review/serious-dishonesty?page=200" "/review/serious-dishonesty?sort=name" "/exemptions" "/history" "/access-log" "/impact"; do
  best=999
  for i in 1 2 3; do
    r=$(curl -s -b $J -o /dev/null -w "%{http_code} %{time_total}" "$U$p")
    code=${r% *}; t=${r#* }
    best=$(python3 -c "print(min($best,$t))")
  done
  printf "%-50s %s %6.0f ms\n" "$p" "$code" "$(python3 -c "print($best*1000)")"
done

L=serious-dishonesty
P=$(curl -s -b $J "$U/review/$L?state=pending&basis=direct" | grep -o '/entities/[0-9A-Z]\{18\}' | head -1 | cut -d/ -f3)
if [ -n "$P" ]; then
  html=$(curl -s -b $J "$U/entities/$P?list=$L")
  csrf=$(echo "$html" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
  seen=$(echo "$html" | grep -o 'name="seen" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
  curl -s -b $J -o /dev/null -w "notify $P: %{http_code} %{time_total}s\n" --data-urlencode "csrf=$csrf" --data-urlencode "action=notify" \
    --data-urlencode "list=$L" --data-urlencode "entity=$P" --data-urlencode "seen=$seen" \
    --data-urlencode "reason=Benchmark notice: the page timings after a decision." "$U/decisions"
  for p in "/review/$L" "/entities/$P?list=$L"; do
    curl -s -b $J -o /dev/null -w "after the decision: %{http_code} %{time_total}s $p\n" "$U$p"
  done
fi
