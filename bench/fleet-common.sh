# Helpers shared by bench/fleet.sh and bench/fleet-mariadb.sh (sourced, not run): clock,
# free ports, a process's CPU ticks and /proc status fields, and result lines.
now_ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b - a) / 1000}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HZ=$(getconf CLK_TCK)
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
result() { echo "RESULT $*" | tee -a "$RESULTS"; }
