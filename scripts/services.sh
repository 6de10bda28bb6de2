#!/usr/bin/env bash
# Installs (when missing), starts, stops and reports the real servers the integration tests use:
# MariaDB and RabbitMQ from Debian packages, bound to 127.0.0.1, started WITHOUT systemd (PID 1
# here is not systemd and policy-rc.d stops apt from starting them).
#
#   scripts/services.sh start    install if needed, start, wait until both answer, create the
#                                test database and user named in tests/conf/application.conf
#   scripts/services.sh stop     stop both (and epmd)
#   scripts/services.sh status   exit 0 when both answer, 1 otherwise
#
# `start` is idempotent: when both already answer it only re-checks the database user.
# Several worktrees share one machine, so start/stop hold a lock while they work.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEST_CONF="${HTMENGINE_TEST_CONF:-$ROOT/tests/conf}"
LOCK=/run/lock/htmengine-services.lock
MARIADB_LOG=/var/log/htmengine-mariadb.log
# epmd and the Erlang distribution port listen on every interface unless told otherwise; these
# must be in the environment of every rabbitmq-server and rabbitmqctl call (a CLI call may start
# epmd itself).
export ERL_EPMD_ADDRESS=127.0.0.1
export DEBIAN_FRONTEND=noninteractive

say() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts system servers)"

# Reads `key = value` from [section] of an INI file (first match; comments and blanks ignored).
conf_get() {
    awk -v section="$2" -v key="$3" '
        /^[[:space:]]*[#;]/ { next }
        /^\[/ { in_section = ($0 ~ "^\\[" section "\\]") ; next }
        in_section {
            split($0, kv, /[=:]/)
            k = kv[1]; gsub(/[[:space:]]/, "", k)
            if (k == key) { v = substr($0, index($0, kv[2])); sub(/[[:space:]]+;.*$/, "", v); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v); print v; exit }
        }' "$1"
}

install_missing() {
    local packages=()
    command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] || packages+=(mariadb-server mariadb-client)
    command -v rabbitmq-server >/dev/null 2>&1 || [[ -x /usr/sbin/rabbitmq-server ]] || packages+=(rabbitmq-server)
    if ((${#packages[@]})); then
        say "installing ${packages[*]} (apt-get)"
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    fi
    # Test-server tuning. Committing the InnoDB log once a second instead of at every commit
    # makes the repository's many small and batched inserts much cheaper; it can lose the last
    # second of commits on a machine crash, which is acceptable for a throw-away test server.
    # bind-address repeats the Debian default so the server stays on loopback whatever it says.
    local cnf=/etc/mysql/mariadb.conf.d/90-htmengine-test.cnf
    if [[ ! -f $cnf ]]; then
        printf '%s\n' '# Written by HtmEngine.Fast scripts/services.sh for the test server.' \
            '[mysqld]' 'bind-address = 127.0.0.1' 'innodb_flush_log_at_trx_commit = 2' > "$cnf"
    fi
    # RabbitMQ: AMQP, the distribution port and epmd on loopback only.
    local envconf=/etc/rabbitmq/rabbitmq-env.conf
    if ! grep -q 'htmengine' "$envconf" 2>/dev/null; then
        printf '%s\n' '# Added by HtmEngine.Fast scripts/services.sh: listen on loopback only.' \
            'NODE_IP_ADDRESS=127.0.0.1' \
            'export ERL_EPMD_ADDRESS=127.0.0.1' \
            'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"' >> "$envconf"
    fi
}

mariadb_up() { mysqladmin --protocol=socket ping >/dev/null 2>&1; }
rabbit_up() { rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

start_mariadb() {
    if mariadb_up; then say "MariaDB already running"; return; fi
    install -d -o mysql -g root -m 0755 /run/mysqld
    say "starting MariaDB (mysqld_safe, log $MARIADB_LOG)"
    setsid -f mysqld_safe >"$MARIADB_LOG" 2>&1 < /dev/null
    local i
    for ((i = 0; i < 600; i++)); do mariadb_up && { say "MariaDB answers"; return; }; sleep 0.1; done
    tail -n 20 "$MARIADB_LOG" >&2 || true
    die "MariaDB did not answer 'mysqladmin ping' within 60 s"
}

start_rabbitmq() {
    if rabbit_up; then say "RabbitMQ already running"; return; fi
    say "starting RabbitMQ (rabbitmq-server -detached)"
    rabbitmq-server -detached < /dev/null
    local deadline=$((SECONDS + 90))
    until rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1; do
        # The node may not have registered with epmd yet; await_startup then fails at once.
        ((SECONDS < deadline)) || die "RabbitMQ did not start within 90 s (see /var/log/rabbitmq/)"
        sleep 1
    done
    say "RabbitMQ answers"
}

create_database() {
    local conf="$TEST_CONF/application.conf" db user pw
    db=$(conf_get "$conf" repository db)
    user=$(conf_get "$conf" repository user)
    pw=$(conf_get "$conf" repository passwd)
    [[ -n $db && -n $user ]] || die "$conf: [repository] db and user must be set for the test server"
    # TCP clients from 127.0.0.1 may appear as 'localhost' (name resolution on) or as the address.
    # The grant on db_% lets tests create throw-away databases next to the main one.
    mysql --protocol=socket -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER '$user'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost', '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`${db//_/\\_}\\_%\`.* TO '$user'@'localhost', '$user'@'127.0.0.1';
SQL
    mysql -h 127.0.0.1 -u "$user" -p"$pw" -e 'SELECT 1' "$db" >/dev/null \
        || die "cannot log in to MariaDB as $user over TCP after creating the user"
    say "database $db and user $user ready"
}

stop_all() {
    if mariadb_up; then mysqladmin --protocol=socket shutdown && say "MariaDB stopped"; else say "MariaDB not running"; fi
    if rabbit_up; then rabbitmqctl -q stop >/dev/null && say "RabbitMQ stopped"; else say "RabbitMQ not running"; fi
    # epmd outlives the broker; it exits on request.
    if command -v epmd >/dev/null 2>&1; then epmd -kill >/dev/null 2>&1 || true; fi
}

status() {
    local rc=0
    if mariadb_up; then say "MariaDB: running"; else say "MariaDB: not running"; rc=1; fi
    if rabbit_up; then say "RabbitMQ: running"; else say "RabbitMQ: not running"; rc=1; fi
    return "$rc"
}

# A caller may run this script under a lock of its own (`flock /work/servers.lock scripts/services.sh start`, or a
# test that restarts a server while holding one): without -o, flock(1) passes its descriptor down, and a server
# started here would inherit it and keep that lock held for as long as it runs. Close every inherited descriptor
# above stderr before starting anything.
close_inherited_fds() {
    local fd
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        if [[ $fd =~ ^[0-9]+$ ]] && (( fd > 2 )); then
            eval "exec ${fd}>&-" 2>/dev/null || true
        fi
    done
}

# start and stop re-run this script under flock(1). `-o` keeps the lock in flock itself and
# gives the script no descriptor, so the servers it starts (which live on) cannot inherit and
# hold the lock.
case "${1:-}" in
    start | stop)
        mkdir -p "$(dirname "$LOCK")"
        exec flock -o -w 900 "$LOCK" "${BASH_SOURCE[0]}" "_locked_$1" ;;
    _locked_start) close_inherited_fds; install_missing; start_mariadb; start_rabbitmq; create_database ;;
    _locked_stop) stop_all ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
