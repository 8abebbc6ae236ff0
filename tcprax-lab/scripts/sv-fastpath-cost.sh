#!/usr/bin/env bash
# Cost of the -sV fast path's extra requests (favicon fetch, ALPN handshake, TLS fingerprint):
# -sV throughput of one or more tcprax binaries on many HTTP and HTTPS services.
#
# Two throw-away namespaces joined by a veth (198.18.0.1 scanner, 198.18.0.2 target); the target
# answers for 198.19.0.0/16 (AnyIP, `ip route add local`); one nginx in it listens on :80
# (HTTP, with a favicon) and :443 (HTTPS) on every address. Each binary runs
#   tcprax -sT -sV 198.19.0.0/18 -p 80     (16384 plain HTTP services)
#   tcprax -sT -sV 198.19.64.0/22 -p 443   (1024 HTTPS services)
# RUNS times, alternating binaries, and the script prints services per second of -sV
# (open ports / the summary's service_detection_s) with the machine's load. Everything it
# created (namespaces, nginx by pid, temp dir) is removed on exit.
#
# usage (root): [THREADS=N] tcprax-lab/scripts/sv-fastpath-cost.sh [RUNS] LABEL=BINARY...
#   e.g. THREADS=512 sv-fastpath-cost.sh 3 before=/tmp/old/tcprax after=target/release/tcprax
# THREADS is passed as `-t` (connect and -sV concurrency; without it, tcprax's defaults).
# Needs: iproute2, nginx (nginx-light), openssl, python3.
set -euo pipefail

RUNS=${1:-3}
shift || true
[ $# -gt 0 ] || { echo "usage: $0 [RUNS] LABEL=BINARY..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }

TAG=svfp$$
S=$TAG-s
T=$TAG-t
DIR=$(mktemp -d /tmp/tcprax-sv-cost.XXXXXX)
NGINX_PID=

cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$T" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

ip netns add "$S"
ip netns add "$T"
ip link add "${TAG}a" netns "$S" type veth peer name "${TAG}b" netns "$T"
ip -n "$S" addr add 198.18.0.1/30 dev "${TAG}a"
ip -n "$T" addr add 198.18.0.2/30 dev "${TAG}b"
for ns in "$S" "$T"; do ip -n "$ns" link set lo up; done
ip -n "$S" link set "${TAG}a" up
ip -n "$T" link set "${TAG}b" up
ip -n "$T" route add local 198.19.0.0/16 dev lo
ip -n "$S" route add 198.19.0.0/16 via 198.18.0.2
ip netns exec "$T" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
# The scanner opens ~50k connections per run: widen its ephemeral range, recycle TIME_WAIT.
ip netns exec "$S" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=cost.tcprax.test \
    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
head -c 1150 /dev/urandom > "$DIR/favicon.ico"
cat > "$DIR/nginx.conf" <<EOF
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $DIR/nginx.pid;
error_log $DIR/error.log;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $DIR/body; proxy_temp_path $DIR/proxy; fastcgi_temp_path $DIR/fastcgi;
  uwsgi_temp_path $DIR/uwsgi; scgi_temp_path $DIR/scgi;
  default_type text/html;
  server {
    listen 80 backlog=8192;
    listen 443 ssl http2 backlog=8192;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $DIR/cert.pem;
    ssl_certificate_key $DIR/key.pem;
    location = /favicon.ico { root $DIR; }
    location / { return 200 "<html><head><title>cost</title></head></html>\n"; }
  }
}
EOF
ulimit -n "$(ulimit -Hn)"
ip netns exec "$T" nginx -p "$DIR" -e "$DIR/error.log" -c "$DIR/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 50); do
    ip netns exec "$S" bash -c 'exec 3<>/dev/tcp/198.19.0.1/443' 2>/dev/null && break
    sleep 0.1
done

rate() { # binary targets port -> "open sv_s services/s"
    ip netns exec "$S" "$1" -sT -sV ${THREADS:+-t "$THREADS"} "$2" -p "$3" -q -oJ "$DIR/out.json" \
        >/dev/null 2>"$DIR/err.log" ||
        { cat "$DIR/err.log" >&2; return 1; }
    python3 - "$DIR/out.json" <<'PY'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][-1]
sv = s.get("service_detection_s") or float("nan")
print(f'{s["open"]} {sv:.2f} {s["open"] / sv:.0f}')
PY
}

echo "-t: ${THREADS:-default}"
echo "| binary | workload | run | open | -sV s | services/s | load (1 min) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for run in $(seq "$RUNS"); do
    for spec in "$@"; do
        label=${spec%%=*}
        bin=${spec#*=}
        for work in "198.19.0.0/18 80 HTTP" "198.19.64.0/22 443 HTTPS"; do
            read -r cidr port kind <<<"$work"
            read -r open sv per <<<"$(rate "$bin" "$cidr" "$port")"
            load=$(cut -d' ' -f1 /proc/loadavg)
            echo "| $label | $kind ($cidr :$port) | $run | $open | $sv | $per | $load |"
            # Let TIME_WAIT and half-open state drain between runs.
            sleep 3
        done
    done
done
