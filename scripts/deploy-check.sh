#!/usr/bin/env bash
# make test, deployment files: checks deploy/prometheus and deploy/systemd.
#
#   1. promtool check rules + promtool test rules (alerts.yml and its unit
#      tests alerts_test.yml); promtool (Debian package prometheus) is
#      installed with scripts/apt-deps.sh when missing.
#   2. The unit files: the hardening every unit must keep (User=,
#      NoNewPrivileges, ProtectSystem=strict, Restart=on-failure, the HSM
#      PIN only through LoadCredential=), then `systemd-analyze verify`
#      (any message fails) and `systemd-analyze security --offline`
#      (exposure at most $MAX_EXPOSURE) on copies whose ExecStart points at
#      stand-in executables. Without systemd-analyze it says so and checks
#      that every line is a section, a comment or a known Key=Value.
#   3. The sysusers file, with `systemd-sysusers --dry-run` when present.
#   4. The Grafana dashboard: valid JSON, every panel with a query. That
#      each query reads series the services export is checked against
#      running services by ocsp-responder/tests/dashboard.rs.
#
# Exits non-zero on the first problem; nothing is skipped without a line
# saying so.
set -euo pipefail
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
PROM="$ROOT_DIR/deploy/prometheus"
UNITS="$ROOT_DIR/deploy/systemd"
# systemd-analyze security's exposure, 0.0 (locked down) to 10.0.
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

fail() { echo "deploy-check: FAIL: $*" >&2; exit 1; }
say() { echo "deploy-check: $*"; }

# --- 1. alert rules ---------------------------------------------------------
if ! command -v promtool >/dev/null; then
  say "promtool missing: installing the Debian package prometheus"
  "$ROOT_DIR/scripts/apt-deps.sh" prometheus || fail "promtool is needed (package prometheus)"
  command -v promtool >/dev/null || fail "package prometheus installed, still no promtool on PATH"
fi
(cd "$PROM" && promtool check rules alerts.yml) || fail "promtool check rules deploy/prometheus/alerts.yml"
(cd "$PROM" && promtool test rules alerts_test.yml) || fail "promtool test rules deploy/prometheus/alerts_test.yml"
# Every alert has at least one unit test.
for a in $(sed -n 's/^ *- alert: *//p' "$PROM/alerts.yml"); do
  grep -q "alertname: $a\$" "$PROM/alerts_test.yml" || fail "alert $a has no test in alerts_test.yml"
done
say "alert rules: ok ($(grep -c '^ *- alert:' "$PROM/alerts.yml") alerts, each tested)"

# --- 2. unit files ----------------------------------------------------------
units=("$UNITS"/*.service)
[ -e "${units[0]}" ] || fail "no unit files in deploy/systemd"

value() { # unit key: the values of key=, one a line
  sed -n "s/^$2=//p" "$1"
}
need() { # unit key value: key=value must be present
  grep -qx "$2=$3" "$1" || fail "$(basename "$1"): needs $2=$3"
}
for u in "${units[@]}"; do
  n=$(basename "$u")
  [ -n "$(value "$u" User)" ] || fail "$n: needs User= (a dedicated user)"
  need "$u" NoNewPrivileges yes
  need "$u" ProtectSystem strict
  need "$u" ProtectHome yes
  need "$u" PrivateTmp yes
  need "$u" Restart on-failure
  need "$u" CapabilityBoundingSet ""
  exec_start=$(value "$u" ExecStart)
  [ -n "$exec_start" ] || fail "$n: no ExecStart="
  case "$exec_start" in
    *--config\ /etc/pki-core/*.toml*) ;;
    *) fail "$n: ExecStart must name a config under /etc/pki-core: $exec_start" ;;
  esac
  case "$exec_start" in
    *pin*|*PIN*|*token*) fail "$n: ExecStart looks like it carries a secret: $exec_start" ;;
  esac
  if grep -q '^Environment=.*PIN' "$u"; then fail "$n: a PIN in Environment= is visible to every local user (systemctl show)"; fi
  case "$exec_start" in
    */ocsp-responder\ *)
      value "$u" LoadCredential | grep -q '^hsm-pin:/etc/pki-core/credentials/' \
        || fail "$n: the HSM PIN must come from LoadCredential=hsm-pin:/etc/pki-core/credentials/..."
      need "$u" ReadWritePaths /var/lib/softhsm/tokens
      ;;
  esac
done
grep -q -- '--updater' "$UNITS/ocsp-updater.service" || fail "ocsp-updater.service: ExecStart without --updater"
say "unit hardening keys: ok (${#units[@]} units)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
for b in ocsp-responder validation-api; do
  printf '#!/bin/sh\nexit 0\n' > "$work/bin/$b"
  chmod +x "$work/bin/$b"
done
for u in "${units[@]}"; do
  sed "s#/usr/local/bin/#$work/bin/#g" "$u" > "$work/$(basename "$u")"
done

if command -v systemd-analyze >/dev/null; then
  # verify exits 0 on unknown keys and bad values ("ignoring"): any output fails.
  out=$(cd "$work" && systemd-analyze verify --man=no ./*.service 2>&1) || fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify:
$out"
  say "systemd-analyze verify: ok ($(systemd-analyze --version | sed -n 1p))"
  # --threshold counts in tenths of the exposure it prints.
  threshold=$(awk -v e="$MAX_EXPOSURE" 'BEGIN { printf "%d", e * 10 }')
  for u in "${units[@]}"; do
    n=$(basename "$u")
    if ! sec=$(cd "$work" && systemd-analyze security --offline=yes --threshold="$threshold" "./$n" 2>&1); then
      echo "$sec" | grep -E '^(✗|→)' >&2 || echo "$sec" >&2
      fail "$n: systemd-analyze security: exposure above $MAX_EXPOSURE (or the check failed)"
    fi
    say "$(echo "$sec" | sed -n 's/^→ //p' | sed 's#\./##')"
  done
else
  say "systemd-analyze not available: checking unit syntax without it (no verify, no security score)"
  known='Description|Documentation|After|Wants|Type|ExecStart|ExecReload|LoadCredential|Environment|User|Group|SupplementaryGroups|Restart|RestartSec|RestartPreventExitStatus|TimeoutStopSec|LimitNOFILE|UMask|NoNewPrivileges|ProtectSystem|ReadWritePaths|ProtectHome|PrivateTmp|PrivateDevices|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectClock|ProtectHostname|ProtectProc|ProcSubset|CapabilityBoundingSet|AmbientCapabilities|RestrictAddressFamilies|RestrictNamespaces|RestrictRealtime|RestrictSUIDSGID|LockPersonality|MemoryDenyWriteExecute|RemoveIPC|SystemCallArchitectures|SystemCallFilter|SystemCallErrorNumber|WantedBy'
  for u in "${units[@]}"; do
    bad=$(grep -nvE "^(#.*|\[(Unit|Service|Install)\]|($known)=.*|)\$" "$u" || true)
    [ -z "$bad" ] || fail "$(basename "$u"): lines that are no section, comment or known key:
$bad"
  done
  say "unit syntax (sections, comments, known keys): ok"
fi

if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$work/root/etc"
  systemd-sysusers --root="$work/root" --dry-run "$UNITS/pki-core.sysusers.conf" >"$work/sysusers.log" 2>&1 \
    || { cat "$work/sysusers.log" >&2; fail "systemd-sysusers --dry-run pki-core.sysusers.conf"; }
  for user in $(sed -n 's/^User=//p' "${units[@]}" | sort -u); do
    grep -q "Creating user '$user'" "$work/sysusers.log" || fail "User=$user is not created by pki-core.sysusers.conf"
  done
  say "sysusers: ok"
else
  say "systemd-sysusers not available: pki-core.sysusers.conf not checked"
fi
# --- 4. Grafana dashboard ----------------------------------------------------
DASHBOARD="$ROOT_DIR/deploy/grafana/pki-services.json"
python3 - "$DASHBOARD" <<'PY' || fail "deploy/grafana/pki-services.json"
import json, sys
d = json.load(open(sys.argv[1]))
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
ids, bad = set(), []
for p in panels(d["panels"]):
    if p["id"] in ids:
        bad.append(f"panel id {p['id']} twice")
    ids.add(p["id"])
    if p["type"] != "row" and not [t for t in p.get("targets", []) if t.get("expr")]:
        bad.append(f"panel {p['title']!r} has no query")
if not d.get("uid") or bad:
    sys.exit("\n".join(bad or ["no uid"]))
print(f"deploy-check: grafana dashboard: ok ({len(ids)} panels)")
PY

say "all deployment files checked"
