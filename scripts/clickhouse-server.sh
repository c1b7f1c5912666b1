#!/usr/bin/env bash
# Runs a throwaway ClickHouse server in the foreground with all its state under DIR, listening
# on loopback only: used by the collector's ClickHouse tests and `npm run bench:collector`.
# scripts/setup.sh installs the server (Debian's clickhouse-server package).
#   scripts/clickhouse-server.sh DIR HTTP_PORT TCP_PORT INTERSERVER_PORT
set -euo pipefail
dir=${1:?usage: clickhouse-server.sh DIR HTTP_PORT TCP_PORT INTERSERVER_PORT}
http=${2:?HTTP_PORT} tcp=${3:?TCP_PORT} inter=${4:?INTERSERVER_PORT}
config=/etc/clickhouse-server/config.xml
if [ -x /usr/sbin/clickhouse-server ]; then server=(/usr/sbin/clickhouse-server)
elif command -v clickhouse-server > /dev/null; then server=(clickhouse-server)
elif command -v clickhouse > /dev/null; then server=(clickhouse server)
else echo "clickhouse-server is not installed: run scripts/setup.sh (apt-get install clickhouse-server)" >&2; exit 127
fi
[ -f "$config" ] || { echo "no $config: install the clickhouse-server package" >&2; exit 127; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
exec "${server[@]}" --config-file="$config" -- \
  --path="$dir/data/" --tmp_path="$dir/tmp/" --user_files_path="$dir/user_files/" \
  --format_schema_path="$dir/format_schemas/" \
  --logger.log="$dir/server.log" --logger.errorlog="$dir/server.err.log" --logger.console=0 \
  --listen_host=127.0.0.1 \
  --http_port="$http" --tcp_port="$tcp" --interserver_http_port="$inter"
