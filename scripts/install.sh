#!/usr/bin/env bash
# Installs lcovnet as a systemd service (see docs/DAEMON.md):
#   /usr/local/bin/lcovnet                  the binary (release build)
#   /etc/systemd/system/lcovnet.service     the unit
#   /etc/systemd/system/lcovnet-retrain.{service,timer}  the weekly retraining round (enabled with the service)
#   /etc/lcovnet/lcovnet.toml               the configuration (kept if it already exists)
#   /usr/local/share/doc/lcovnet/DAEMON.md  operations notes
#   /usr/local/share/lcovnet/models/{default,teacher}  the shipped model and the retraining teacher
#   /var/lib/lcovnet/{incoming,work,results,quarantine,archive}  owned by the user lcovnet
# Usage: scripts/install.sh [--binary PATH] [--destdir DIR] [--no-start]
#   --binary   install this binary instead of building a release one
#   --destdir  stage everything under DIR (packaging, tests): no user, no systemctl
set -euo pipefail
cd "$(dirname "$0")/.."

binary="" destdir="" start=1
while (($#)); do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --destdir) destdir="$2"; shift 2 ;;
    --no-start) start=0; shift ;;
    *) echo "install.sh: unknown option $1 (use --binary PATH, --destdir DIR, --no-start)" >&2; exit 64 ;;
  esac
done

if [[ -z "$binary" ]]; then
  scripts/install-deps.sh
  swift build -c release --product lcovnet
  binary="$(swift build -c release --show-bin-path)/lcovnet"
fi
[[ -x "$binary" ]] || { echo "install.sh: $binary: not an executable" >&2; exit 1; }

install -D -m 0755 "$binary" "$destdir/usr/local/bin/lcovnet"
install -D -m 0644 systemd/lcovnet.service "$destdir/etc/systemd/system/lcovnet.service"
install -D -m 0644 systemd/lcovnet-retrain.service "$destdir/etc/systemd/system/lcovnet-retrain.service"
install -D -m 0644 systemd/lcovnet-retrain.timer "$destdir/etc/systemd/system/lcovnet-retrain.timer"
install -D -m 0644 docs/DAEMON.md "$destdir/usr/local/share/doc/lcovnet/DAEMON.md"
install -D -m 0644 docs/RETRAINING.md "$destdir/usr/local/share/doc/lcovnet/RETRAINING.md"
for model in Models/default Models/teacher; do
  [[ -d "$model" ]] || continue
  for f in "$model"/*; do
    install -D -m 0644 "$f" "$destdir/usr/local/share/lcovnet/models/$(basename "$model")/$(basename "$f")"
  done
done
if [[ -e "$destdir/etc/lcovnet/lcovnet.toml" ]]; then
  install -D -m 0644 etc/lcovnet/lcovnet.toml "$destdir/etc/lcovnet/lcovnet.toml.new"
  echo "install.sh: kept /etc/lcovnet/lcovnet.toml; the shipped one is lcovnet.toml.new" >&2
else
  install -D -m 0644 etc/lcovnet/lcovnet.toml "$destdir/etc/lcovnet/lcovnet.toml"
fi

if [[ -n "$destdir" ]]; then
  install -d -m 2770 "$destdir"/var/lib/lcovnet/{incoming,work,results,quarantine,archive}
  exit 0
fi

getent group lcovnet >/dev/null || groupadd --system lcovnet
getent passwd lcovnet >/dev/null || useradd --system --gid lcovnet --home-dir /var/lib/lcovnet --shell /usr/sbin/nologin lcovnet
# setgid folders: files a DICOM receiver in group lcovnet writes stay readable by the daemon.
install -d -o lcovnet -g lcovnet -m 2770 /var/lib/lcovnet /var/lib/lcovnet/{incoming,work,results,quarantine,archive}
/usr/local/bin/lcovnet status --config /etc/lcovnet/lcovnet.toml >/dev/null 2>&1 || true
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  if ((start)); then
    # The weekly round promotes a candidate only when it beats the current model on the cached
    # validation series and does not fall below it on whole anchor phantoms (docs/RETRAINING.md);
    # without a teacher or corrections it has nothing to train on and skips.
    systemctl enable --now lcovnet.service lcovnet-retrain.timer
  else
    echo "install.sh: not started; later: systemctl enable --now lcovnet.service lcovnet-retrain.timer" >&2
  fi
else
  echo "install.sh: systemd is not running here; start it with: systemctl enable --now lcovnet.service" >&2
fi
