#!/usr/bin/env bash
# Local nginx in front of several gateways (and the bff), with the routing of
# docker/nginx.conf: `/ws` to the gateways (WebSocket upgrade, long timeouts,
# no stickiness), everything else to the bff. Own config, pid file and logs
# under .local/nginx, on loopback.
#
#   scripts/nginx.sh start PORT BFF_PORT GATEWAY_PORTS   (comma-separated)
#   scripts/nginx.sh stop
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DIR=${NGINX_DIR:-$LOCAL/nginx}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

case "${1:-}" in
  start)
    port=$2 bff=$3 gateways=$4
    mkdir -p "$DIR/logs" "$DIR/tmp"
    upstreams=""
    for p in ${gateways//,/ }; do upstreams+="    server 127.0.0.1:$p;"$'\n'; done
    cat >"$DIR/nginx.conf" <<CONF
worker_processes auto;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp/body;
  proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fastcgi;
  uwsgi_temp_path $DIR/tmp/uwsgi;
  scgi_temp_path $DIR/tmp/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream gateways {
$upstreams  }
  upstream bff { server 127.0.0.1:$bff; }
  server {
    listen 127.0.0.1:$port;
    location /ws {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_buffering off;
    }
    location / {
      proxy_pass http://bff;
      proxy_http_version 1.1;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF
    "$0" stop >/dev/null 2>&1 || true
    "$NGINX" -t -q -c "$DIR/nginx.conf" -p "$DIR"
    "$NGINX" -c "$DIR/nginx.conf" -p "$DIR"
    wait_port 127.0.0.1 "$port" 10 || die "nginx did not start"
    log "nginx on 127.0.0.1:$port: /ws -> gateways $gateways, / -> bff :$bff"
    ;;
  stop)
    if [ -f "$DIR/nginx.pid" ]; then
      "$NGINX" -c "$DIR/nginx.conf" -p "$DIR" -s quit 2>/dev/null || kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -f "$DIR/nginx.pid" ] || break; sleep 0.1; done
    fi
    ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
