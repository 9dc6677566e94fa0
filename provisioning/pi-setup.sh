#!/usr/bin/env bash
# Turn a Raspberry Pi (Raspberry Pi OS Bookworm or Trixie, 64-bit) into a Kuzet edge node.
# Idempotent: every step checks first and says "ok" when there is nothing to change, so a
# second run changes nothing.
#
#   sudo provisioning/pi-setup.sh [BUNDLE.tar.gz]
#
# BUNDLE is the node's one-time enrolment bundle from the hub (kuzet provision enrol …).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${KUZET_PREFIX:-/opt/kuzet}
ETC=${KUZET_ETC:-/etc/kuzet}
BUNDLE=${1:-}
changed=0

say() { printf '%-34s %s\n' "$1" "$2"; }
step_done() { say "$1" "ok"; }
step_changed() { say "$1" "changed"; changed=1; }

[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
case "$(uname -m)" in
  aarch64|x86_64) ;;
  *) echo "a 64-bit OS is needed (ai-edge-litert has no $(uname -m) wheels)" >&2; exit 1 ;;
esac

# 1. Debian packages. picamera2 is in Raspberry Pi OS's own archive, not Debian's: where the
# archives here do not have it, say so plainly and go on (the node can still use an OpenCV
# source: a USB camera, RTSP, a file), and end with status 2 rather than fail inside apt.
pkgs=(python3-venv python3-picamera2 git)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
unavailable=()
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q >/dev/null
  installable=()
  for p in "${missing[@]}"; do
    if apt-cache policy "$p" 2>/dev/null | grep -q '^ *Candidate: [^(]'; then
      installable+=("$p")
    else
      unavailable+=("$p")
    fi
  done
  if [ ${#installable[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${installable[@]}" >/dev/null
    step_changed "apt packages"
  else
    step_done "apt packages"
  fi
else
  step_done "apt packages"
fi
for p in "${unavailable[@]}"; do
  if [ "$p" = python3-picamera2 ]; then
    say "$p" "MISSING: not in this system's apt archives; it comes from Raspberry Pi OS's"
    say "" "own archive (use Raspberry Pi OS Bookworm 64-bit, then: apt install $p)."
    say "" "Without it the node has no Pi camera: [source] kind must be opencv or folder."
  else
    say "$p" "MISSING: no apt archive here has it"
  fi
done

# 2. The system user, in the groups for the camera and GPIO
if ! id kuzet >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/kuzet --shell /usr/sbin/nologin kuzet
  step_changed "user kuzet"
else
  step_done "user kuzet"
fi
for g in video gpio; do
  if getent group "$g" >/dev/null && ! id -nG kuzet | tr ' ' '\n' | grep -qx "$g"; then
    usermod -aG "$g" kuzet
    step_changed "group $g"
  fi
done

# 3. The code and a venv that sees the system's picamera2
if [ "$SRC" != "$PREFIX" ]; then
  mkdir -p "$PREFIX"
  # what pip and Python write into the copy (egg-info, bytecode) is left out of the
  # comparison too, or every run would find the code changed
  skip=(--exclude=.venv --exclude=.git --exclude=var --exclude=build --exclude='*.egg-info'
        --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache)
  if ! diff -rq "${skip[@]}" "$SRC" "$PREFIX" >/dev/null 2>&1; then
    tar -C "$SRC" "${skip[@]}" -cf - . | tar -C "$PREFIX" -xf -
    step_changed "code in $PREFIX"
  else
    step_done "code in $PREFIX"
  fi
fi
# -e, not -x: under emulation (the arm64 check's proot) access(X_OK) says no to root
if [ ! -e "$PREFIX/.venv/bin/python" ]; then
  # Debian's own Python, whatever PATH says (a venv or pyenv first on it would be the
  # venv's base instead: found in the arm64 root)
  /usr/bin/python3 -m venv --system-site-packages "$PREFIX/.venv"
  step_changed "venv"
else
  step_done "venv"
fi
stamp="$PREFIX/.venv/.kuzet-installed"
if [ ! -f "$stamp" ] || [ "$PREFIX/pyproject.toml" -nt "$stamp" ]; then
  "$PREFIX/.venv/bin/pip" install -q -e "${PREFIX}[edge]"
  touch "$stamp"
  step_changed "python packages"
else
  step_done "python packages"
fi

# 4. Config, state and the enrolment bundle
install -d -m 0750 -o kuzet -g kuzet "$ETC" /var/lib/kuzet
if [ -n "$BUNDLE" ]; then
  if ! cmp -s "$BUNDLE" "$ETC/.bundle" 2>/dev/null; then
    "$PREFIX/.venv/bin/kuzet" provision install "$BUNDLE" --to "$ETC" >/dev/null
    cp "$BUNDLE" "$ETC/.bundle"
    chown -R kuzet:kuzet "$ETC"
    step_changed "enrolment bundle"
  else
    step_done "enrolment bundle"
  fi
fi

# 5. The systemd unit, checked by systemd itself. Loaded only where systemd runs (not in a
# chroot or an image being built: there the unit is installed and enabled on first boot).
unit=/etc/systemd/system/kuzet-edge.service
booted=0
[ -d /run/systemd/system ] && booted=1
if ! cmp -s "$PREFIX/systemd/kuzet-edge.service" "$unit"; then
  install -m 0644 "$PREFIX/systemd/kuzet-edge.service" /etc/systemd/system/
  if [ $booted -eq 1 ]; then systemctl daemon-reload; fi
  step_changed "systemd unit"
else
  step_done "systemd unit"
fi
if command -v systemd-analyze >/dev/null; then
  if ! out=$(systemd-analyze verify --man=no "$unit" 2>&1) || [ -n "$out" ]; then
    say "systemd unit check" "FAILED: systemd-analyze verify $unit:"
    printf '%s\n' "$out" >&2
    exit 1
  fi
  step_done "systemd unit check"
else
  say "systemd unit check" "skipped: no systemd-analyze here (package systemd)"
fi

# 6. The camera
if command -v rpicam-hello >/dev/null; then cam=rpicam-hello; else cam=libcamera-hello; fi
if command -v "$cam" >/dev/null && "$cam" --list-cameras 2>/dev/null | grep -q "^[0-9] :"; then
  step_done "camera"
else
  say "camera" "NOT FOUND: check the ribbon cable and run '$cam --list-cameras'"
fi

# 7. Start when configured
if [ -f "$ETC/node.toml" ] && [ -f "$ETC/seats.json" ]; then
  if ! systemctl is-enabled --quiet kuzet-edge; then
    if [ $booted -eq 1 ]; then systemctl enable --now kuzet-edge; else systemctl enable kuzet-edge; fi
    step_changed "service enabled"
  else
    step_done "service enabled"
  fi
else
  say "service" "not started: $ETC/node.toml and $ETC/seats.json are needed"
fi

if [ $changed -eq 0 ]; then echo "nothing changed"; fi
if [ ${#unavailable[@]} -gt 0 ]; then
  echo "incomplete: ${unavailable[*]} missing (see above)" >&2
  exit 2
fi
