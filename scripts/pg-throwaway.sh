#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the PostgreSQL tests: its own data folder under a temporary
# folder, its own port on loopback, nothing shared with a system cluster.
#
#   eval "$(scripts/pg-throwaway.sh start)"   # prints `export SARING_TEST_PG=...; export PG_THROWAWAY_DIR=...`
#   scripts/pg-throwaway.sh stop "$PG_THROWAWAY_DIR"
#   scripts/pg-throwaway.sh halt "$PG_THROWAWAY_DIR"     # stop the server, keep its data (outage tests)
#   scripts/pg-throwaway.sh resume "$PG_THROWAWAY_DIR"   # start it again on the same port
#
# Needs Debian's `postgresql` package (initdb and pg_ctl under /usr/lib/postgresql/*/bin).
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the package
# creates. Set PG_PORT to choose the port (default: the first free one from 55432).
#
# PG_SSL=1 also turns TLS on (`ssl=on`) with a throw-away CA made by the openssl command: the
# server's certificate names `localhost` only (not 127.0.0.1, so verify-ca and verify-full differ),
# and `start` also exports SARING_TEST_PG_CA (that CA) and SARING_TEST_PG_OTHER_CA (an unrelated
# CA, for refusal tests); TCP connections without TLS are then refused. Without PG_SSL the
# server speaks no TLS.
set -euo pipefail

bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -z "$d" || ! -x "$d/initdb" ]]; then
    echo "no PostgreSQL server found under /usr/lib/postgresql: apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "$d"
}

# Runs a command as the server's user: `postgres` when we are root, ourselves otherwise.
as_server_user() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A CA, a server certificate for `localhost` signed by it, and a second CA that signed nothing.
make_certificates() {
  local tls=$1
  command -v openssl >/dev/null || { echo "PG_SSL=1 needs the openssl command: apt-get install -y openssl" >&2; exit 1; }
  mkdir -p "$tls"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=Saring throw-away CA" -keyout "$tls/ca.key" -out "$tls/ca.pem"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=Saring unrelated CA" -keyout "$tls/other-ca.key" -out "$tls/other-ca.pem"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr"
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
      -CAcreateserial -days 2 -extfile "$tls/server.ext" -out "$tls/server.pem"
  } >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; exit 1; }
  # The server refuses a key others can read.
  chmod 600 "$tls/server.key"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$tls"; fi
  chmod 644 "$tls/ca.pem" "$tls/other-ca.pem"
}

case "${1:-}" in
  start)
    bin=$(bin_dir)
    port=${PG_PORT:-}
    if [[ -z "$port" ]]; then
      # The first free port from 55432, so a cluster left running elsewhere is no obstacle.
      for candidate in $(seq 55432 55531); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
      done
    fi
    dir=$(mktemp -d -t saring-pg.XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
    as_server_user "$bin/initdb" -D "$dir/data" -U saring --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Loopback only, its own socket folder, enough connections for parallel tests. The options
    # are kept so that `resume` starts the server the same way.
    options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=on"
    exports=""
    if [[ "${PG_SSL:-}" == 1 ]]; then
      make_certificates "$dir/tls"
      # TCP only with TLS, so a test that connects at all has used it; the socket stays open.
      printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n' \
        >"$dir/data/pg_hba.conf"
      options+=" -c ssl=on -c ssl_cert_file=$dir/tls/server.pem -c ssl_key_file=$dir/tls/server.key"
      exports="; export SARING_TEST_PG_CA='$dir/tls/ca.pem'; export SARING_TEST_PG_OTHER_CA='$dir/tls/other-ca.pem'"
    fi
    echo "$options" >"$dir/options"
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(cat "$dir/options")" start >&2 \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "export SARING_TEST_PG='postgres://saring@127.0.0.1:$port/postgres'; export PG_THROWAWAY_DIR='$dir'$exports"
    ;;
  stop)
    dir=${2:?usage: $0 stop DIR}
    bin=$(bin_dir)
    as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    ;;
  halt)
    dir=${2:?usage: $0 halt DIR}
    as_server_user "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    ;;
  resume)
    dir=${2:?usage: $0 resume DIR}
    as_server_user "$(bin_dir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(cat "$dir/options")" start >&2 \
      || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    ;;
  *)
    echo "usage: $0 start | stop DIR | halt DIR | resume DIR" >&2
    exit 2
    ;;
esac
