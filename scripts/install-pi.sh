#!/usr/bin/env bash
# Installs Tumbler (lockfw) on a Raspberry Pi-class board running Debian 12 /
# Raspberry Pi OS bookworm (or newer). Run it from a checkout, as root:
#
#   sudo scripts/install-pi.sh --board hal/linux/boards/pi-relay-hat.json \
#        [--provisioning device-provisioning.json]
#
# --dry-run prints every step it would take and changes nothing (no root needed).
# Safe to run again to update: each install is built in its own release directory
# ($PREFIX/releases/VERSION-STAMP) while the running lock stays in service, the store
# is backed up, then $PREFIX/current is switched to it in one rename and the service
# restarted; a release that does not start is rolled back (the previous release and
# the store as it was). An existing /etc/lockfw/board.json is kept unless --board is
# given.
set -euo pipefail

PROG=install-pi.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/tumbler
ROOT=""
SERVICE_USER=lockfw
SERVICE_GROUPS=gpio,input,dialout
DATA_DIR=/var/lib/lockfw
CONFIG_DIR=/etc/lockfw
UNIT_PATH=/etc/systemd/system/lockfw.service
UDEV_RULES=/etc/udev/rules.d/60-lockfw.rules
WATCHDOG_CONF=/etc/systemd/system.conf.d/60-lockfw-watchdog.conf
# The Pi's hardware watchdog (bcm2835-wdt) takes at most about 15 s.
RUNTIME_WATCHDOG_SEC=15s
# Releases kept in $PREFIX/releases (the current one and the ones before it).
KEEP_RELEASES=3
# The DS3231 (and DS1307 family) overlay; --rtc-overlay none leaves config.txt's RTC alone.
RTC_OVERLAY=ds3231
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19
# python3: better-sqlite3's source build, and lockfw's sd_notify helper (Type=notify).
APT_PACKAGES=(gpiod util-linux-extra build-essential python3)

DRY_RUN=0
START=1
BOARD=""
PROVISIONING=""
BOOT_CONFIG=""

usage() {
  cat <<EOF
Usage: $PROG [--dry-run] [--board FILE] [--provisioning FILE] [--prefix DIR] [--no-start]
       [--boot-config FILE] [--rtc-overlay MODEL|none] [--root DIR]

  --dry-run            print every step, change nothing
  --board FILE         board file to install as $CONFIG_DIR/board.json
                       (default on first install: hal/linux/boards/pi-relay-hat.json)
  --provisioning FILE  device provisioning file from 'lockctl provision'; installed
                       as $CONFIG_DIR/provisioning.json (0600) for the first start
  --prefix DIR         where the releases go (default $PREFIX; the unit expects
                       $PREFIX/current)
  --boot-config FILE   the Raspberry Pi config.txt to add dtparam=strict_gpiod, the
                       RTC overlay and the watchdog to
                       (default /boot/firmware/config.txt, else /boot/config.txt)
  --rtc-overlay MODEL  dtoverlay=i2c-rtc,MODEL in config.txt (default $RTC_OVERLAY;
                       none: leave it out)
  --root DIR           install into DIR as if it were / (an image being built, tests)
  --no-start           enable the service but do not (re)start it
EOF
}

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --board)
      [ $# -ge 2 ] || { printf '%s: --board needs a FILE\n' "$PROG" >&2; exit 2; }
      BOARD=$2
      shift
      ;;
    --provisioning)
      [ $# -ge 2 ] || { printf '%s: --provisioning needs a FILE\n' "$PROG" >&2; exit 2; }
      PROVISIONING=$2
      shift
      ;;
    --prefix)
      [ $# -ge 2 ] || { printf '%s: --prefix needs a DIR\n' "$PROG" >&2; exit 2; }
      PREFIX=$2
      shift
      ;;
    --boot-config)
      [ $# -ge 2 ] || { printf '%s: --boot-config needs a FILE\n' "$PROG" >&2; exit 2; }
      BOOT_CONFIG=$2
      shift
      ;;
    --rtc-overlay)
      [ $# -ge 2 ] || { printf '%s: --rtc-overlay needs a MODEL (or none)\n' "$PROG" >&2; exit 2; }
      RTC_OVERLAY=$2
      shift
      ;;
    --root)
      [ $# -ge 2 ] || { printf '%s: --root needs a DIR\n' "$PROG" >&2; exit 2; }
      ROOT=${2%/}
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      printf '%s: unknown option %s (see --help)\n' "$PROG" "$1" >&2
      exit 2
      ;;
  esac
  shift
done

step() { printf '\n==> %s\n' "$*"; }

# Shell-quotes a command for display: plain words as they are, others in single quotes.
quote() {
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then
      out+=" $arg"
    else
      out+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  printf '%s' "${out# }"
}

# Runs a command, or in --dry-run prints it instead.
run() {
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '[dry-run] %s\n' "$(quote "$@")"
  else
    printf '+ %s\n' "$(quote "$@")"
    "$@"
  fi
}

# Like run, for a step that only happens when a read-only check says so; --dry-run
# prints the step with the condition instead of checking.
run_when() {
  local condition=$1 check=$2
  shift 2
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '[dry-run] %s   # %s\n' "$(quote "$@")" "$condition"
  elif bash -c "$check"; then
    run "$@"
  fi
}

# Writes a file from stdin with mode and owner, or in --dry-run shows it.
write_file() {
  local path=$1 mode=$2 owner=$3 content
  content=$(cat)
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '[dry-run] write %s (mode %s, owner %s):\n' "$path" "$mode" "$owner"
    printf '%s\n' "$content" | sed 's/^/[dry-run]   | /'
  else
    printf '+ write %s\n' "$path"
    printf '%s\n' "$content" | install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" /dev/stdin "$path"
  fi
}

# Replaces PATH with the content of NEW (a temp file, consumed), showing the diff first
# and keeping a dated copy of an old PATH beside it; --dry-run shows the diff only.
# MODE is for a new file; an existing one keeps its own.
replace_with_diff() {
  local path=$1 new=$2 mode=$3 old=$1 backup
  [ -e "$path" ] || old=/dev/null
  if diff -q "$old" "$new" >/dev/null 2>&1; then
    printf '%s is already as needed\n' "$path"
    rm -f "$new"
    return
  fi
  diff -u --label "$path" --label "$path (new)" "$old" "$new" | sed 's/^/  | /' || true
  backup="$path.lockfw-backup-$(date -u +%Y%m%dT%H%M%SZ)"
  if [ "$DRY_RUN" -eq 1 ]; then
    [ "$old" = /dev/null ] || printf '[dry-run] %s\n' "$(quote cp -p "$path" "$backup")"
    printf '[dry-run] write %s: the diff above\n' "$path"
  else
    [ "$old" = /dev/null ] || run cp -p "$path" "$backup"
    printf '+ write %s\n' "$path"
    # Written beside it, then renamed over it: never half-written.
    if [ "$old" = /dev/null ]; then
      install -m "$mode" "$new" "$path.lockfw-new"
    else
      cat "$new" >"$path.lockfw-new"
    fi
    mv -f "$path.lockfw-new" "$path"
  fi
  rm -f "$new"
}

# ---------------------------------------------------------------- checks (read-only)

step "Checking prerequisites"
if ! command -v node >/dev/null 2>&1; then
  die "Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR is required and 'node' is not on PATH (install it, e.g. from NodeSource, and rerun)"
fi
NODE_VERSION=$(node -p 'process.versions.node' 2>/dev/null) || die "could not run 'node -p process.versions.node'"
NODE_MAJOR=${NODE_VERSION%%.*}
NODE_REST=${NODE_VERSION#*.}
NODE_MINOR=${NODE_REST%%.*}
if ! [[ "$NODE_MAJOR" =~ ^[0-9]+$ && "$NODE_MINOR" =~ ^[0-9]+$ ]]; then
  die "could not read the Node.js version (got '$NODE_VERSION')"
fi
if [ "$NODE_MAJOR" -lt "$NODE_MIN_MAJOR" ] ||
  { [ "$NODE_MAJOR" -eq "$NODE_MIN_MAJOR" ] && [ "$NODE_MINOR" -lt "$NODE_MIN_MINOR" ]; }; then
  die "Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR is required (package.json engines); found v$NODE_VERSION"
fi
printf 'node v%s at %s: ok\n' "$NODE_VERSION" "$(command -v node)"
case "$(dirname "$(command -v node)")" in
  /usr/local/sbin | /usr/local/bin | /usr/sbin | /usr/bin | /sbin | /bin) ;;
  *) printf 'warning: node is at %s, outside the path systemd searches for ExecStart=node;\n         link it: ln -s %s /usr/local/bin/node\n' \
    "$(command -v node)" "$(command -v node)" ;;
esac

if [ -n "$ROOT" ] && ! [ -d "$ROOT" ]; then
  die "root $ROOT is not a directory (--root DIR)"
fi
[[ "$RTC_OVERLAY" =~ ^[a-z0-9]+$ ]] || die "--rtc-overlay takes an overlay model like ds3231 (or none), got '$RTC_OVERLAY'"
BOARD_EXPLICIT=1
if [ -z "$BOARD" ]; then
  BOARD_EXPLICIT=0
  BOARD=$REPO/hal/linux/boards/pi-relay-hat.json
fi
[ -r "$BOARD" ] || die "board file $BOARD not found or not readable (--board FILE)"
if [ -n "$PROVISIONING" ]; then
  [ -r "$PROVISIONING" ] || die "provisioning file $PROVISIONING not found or not readable (--provisioning FILE)"
fi
[ -f "$REPO/scripts/lockfw.service" ] || die "$REPO/scripts/lockfw.service missing: run from a Tumbler checkout"
if [ -z "$BOOT_CONFIG" ]; then
  for candidate in "$ROOT/boot/firmware/config.txt" "$ROOT/boot/config.txt"; do
    if [ -f "$candidate" ]; then
      BOOT_CONFIG=$candidate
      break
    fi
  done
elif ! [ -f "$BOOT_CONFIG" ]; then
  die "boot config $BOOT_CONFIG not found (--boot-config FILE)"
fi
command -v npm >/dev/null 2>&1 || die "npm is required and not on PATH (it comes with Node.js from NodeSource or nodejs.org)"
if [ "$DRY_RUN" -eq 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0 ...); --dry-run shows the steps without root"
  command -v systemctl >/dev/null 2>&1 || die "systemd (systemctl) is required"
fi
[ "$DRY_RUN" -eq 1 ] && printf 'dry run: nothing below is executed\n'

# Paths as the service sees them ($PREFIX, $DATA_DIR ...) and as this script writes
# them: the same, or under --root.
on_disk() { printf '%s%s' "$ROOT" "$1"; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
VERSION=$(node -p 'require(process.argv[1]).version' "$REPO/package.json" 2>/dev/null) || VERSION=unknown
# The current release is a relative symlink, so it holds under --root and when moved.
RELEASE_NAME=releases/$VERSION-$STAMP
RELEASE=$PREFIX/$RELEASE_NAME
CURRENT=$PREFIX/current
PREVIOUS=$(readlink "$(on_disk "$CURRENT")" 2>/dev/null || true)
BACKUP_DIR=$DATA_DIR/backups/$STAMP

# ---------------------------------------------------------------- packages

step "Installing Debian packages: gpiod (GPIO tools), util-linux-extra (hwclock), build tools for the native modules"
run apt-get update
run apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"

# ---------------------------------------------------------------- release (the lock stays in service)

step "Building release $VERSION-$STAMP in $RELEASE (a running lockfw keeps running meanwhile)"
R=$(on_disk "$RELEASE")
[ ! -e "$R" ] || die "$RELEASE exists already (two installs in one second?): rerun"
run install -d -m 0755 -o root -g root "$R"
COPY=(tar -C "$REPO" --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./hal/linux/native/build -cf - .)
UNPACK=(tar -C "$R" --no-same-owner -xf -)
if [ "$DRY_RUN" -eq 1 ]; then
  printf '[dry-run] %s | %s\n' "$(quote "${COPY[@]}")" "$(quote "${UNPACK[@]}")"
else
  printf '+ %s | %s\n' "$(quote "${COPY[@]}")" "$(quote "${UNPACK[@]}")"
  "${COPY[@]}" | "${UNPACK[@]}"
fi
# A failure from here on leaves the running release and the store untouched.
run npm --prefix "$R" ci --no-audit --no-fund
# better-sqlite3 fetches a prebuilt binary when one matches, else compiles; either way, prove it loads.
SQLITE_CHECK="const D = require(\"$R/node_modules/better-sqlite3\"); new D(\":memory:\").close()"
if [ "$DRY_RUN" -eq 1 ]; then
  run node -e "$SQLITE_CHECK"
  printf '[dry-run] %s   # only if that check fails\n' "$(quote npm --prefix "$R" rebuild better-sqlite3 --build-from-source)"
elif ! node -e "$SQLITE_CHECK"; then
  run npm --prefix "$R" rebuild better-sqlite3 --build-from-source
  node -e "$SQLITE_CHECK" || die "better-sqlite3 does not load after a source build; see the npm output above"
fi
# The GPIO uAPI / EVIOCGRAB addon (gpio.backend "uapi", keypad.grab): built here for this board.
run npm --prefix "$R" run build:native
run node -e "require(\"$R/hal/linux/native/build/Release/tumbler_gpio.node\")"
run npm --prefix "$R" run build
run npm --prefix "$R" prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------- user and groups

step "Creating the service user $SERVICE_USER in groups $SERVICE_GROUPS"
for group in ${SERVICE_GROUPS//,/ }; do
  run_when "only if the group is missing" "! getent group $group >/dev/null" groupadd --system "$group"
done
run_when "only if the user is missing" "! id -u $SERVICE_USER >/dev/null 2>&1" \
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
run usermod -aG "$SERVICE_GROUPS" "$SERVICE_USER"

step "Giving $SERVICE_USER the GPIO chips and the RTC (udev)"
run install -d -m 0755 -o root -g root "$(dirname "$(on_disk "$UDEV_RULES")")"
write_file "$(on_disk "$UDEV_RULES")" 0644 root:root <<'EOF'
# Tumbler lockfw: GPIO character devices for the gpio group, the RTC for lockfw's hwclock --set.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
SUBSYSTEM=="rtc", KERNEL=="rtc[0-9]*", GROUP="lockfw", MODE="0660"
EOF
run udevadm control --reload-rules
run udevadm trigger --subsystem-match=gpio --subsystem-match=rtc

# ---------------------------------------------------------------- data and configuration

step "Creating the data dir $DATA_DIR (0700) and $CONFIG_DIR"
run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$(on_disk "$DATA_DIR")"
run install -d -m 0750 -o root -g "$SERVICE_USER" "$(on_disk "$CONFIG_DIR")"

step "Placing the board file"
BOARD_FILE=$(on_disk "$CONFIG_DIR/board.json")
if [ "$BOARD_EXPLICIT" -eq 0 ] && [ "$DRY_RUN" -eq 1 ]; then
  printf '[dry-run] %s   # only if there is none yet\n' "$(quote install -m 0640 -o root -g "$SERVICE_USER" "$BOARD" "$BOARD_FILE")"
elif [ "$BOARD_EXPLICIT" -eq 0 ] && [ -e "$BOARD_FILE" ]; then
  printf 'keeping the existing %s (pass --board FILE to replace it)\n' "$BOARD_FILE"
else
  run install -m 0640 -o root -g "$SERVICE_USER" "$BOARD" "$BOARD_FILE"
fi
BOARD_CHECK="import(\"$R/dist/hal/linux/board-config.js\").then((m) => m.loadBoardConfig(\"$BOARD_FILE\")).then(() => console.log(\"board file ok\"), (e) => { console.error(e.message); process.exit(1); })"
run node --input-type=module -e "$BOARD_CHECK"

step "Placing the provisioning file"
# --init lets the first start create the store (lockfw never creates one unasked;
# docs/reliability.md). Delete first-boot.env once the lock has started.
if [ -n "$PROVISIONING" ]; then
  # Read once by lockfw at its first start (run --provisioning); never printed.
  run install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$PROVISIONING" "$(on_disk "$CONFIG_DIR/provisioning.json")"
  write_file "$(on_disk "$CONFIG_DIR/first-boot.env")" 0640 root:"$SERVICE_USER" <<EOF
TUMBLER_FIRST_BOOT_ARGS=--init --provisioning $CONFIG_DIR/provisioning.json
EOF
else
  printf 'no --provisioning given: lockfw makes its own device secret at first start\n'
  write_file "$(on_disk "$CONFIG_DIR/first-boot.env")" 0640 root:"$SERVICE_USER" <<EOF
TUMBLER_FIRST_BOOT_ARGS=--init
EOF
fi

# ---------------------------------------------------------------- outputs and watchdog

step "Raspberry Pi boot config: strict_gpiod, the RTC overlay, the watchdog (shown as a diff first)"
# strict_gpiod: without it a Pi kernel keeps a released output at its last level, so a
# crashed lockfw would leave the strike or motor on until ExecStopPost switches it off.
if [ -z "$BOOT_CONFIG" ]; then
  printf 'no /boot/firmware/config.txt or /boot/config.txt: not Raspberry Pi firmware; skipped (see docs/hardware.md)\n'
else
  WANTED=('dtparam=strict_gpiod|dtparam=strict_gpiod(=on)?' 'dtparam=watchdog=on|dtparam=watchdog(=on)?')
  [ "$RTC_OVERLAY" = none ] || WANTED+=("dtoverlay=i2c-rtc,$RTC_OVERLAY|dtoverlay=i2c-rtc,$RTC_OVERLAY(,.*)?")
  MISSING=()
  for wanted in "${WANTED[@]}"; do
    grep -Eq "^[[:space:]]*(${wanted#*|})[[:space:]]*\$" "$BOOT_CONFIG" || MISSING+=("${wanted%%|*}")
  done
  if [ "${#MISSING[@]}" -eq 0 ]; then
    printf '%s already has %s\n' "$BOOT_CONFIG" "$(for wanted in "${WANTED[@]}"; do printf '%s ' "${wanted%%|*}"; done | sed 's/ $//')"
  else
    NEW_BOOT_CONFIG=$(mktemp)
    {
      cat "$BOOT_CONFIG"
      printf '\n# Added by Tumbler install-pi.sh: released GPIO lines return to input and their pull;\n# the RTC and the hardware watchdog (docs/hardware.md).\n[all]\n'
      printf '%s\n' "${MISSING[@]}"
    } >"$NEW_BOOT_CONFIG"
    replace_with_diff "$BOOT_CONFIG" "$NEW_BOOT_CONFIG" 0644
    printf 'takes effect at the next boot\n'
  fi
fi

step "Hardware watchdog: systemd pets it, and the board resets if systemd hangs"
NEW_WATCHDOG_CONF=$(mktemp)
cat >"$NEW_WATCHDOG_CONF" <<EOF
# Tumbler lockfw: systemd pets the hardware watchdog (/dev/watchdog, bcm2835-wdt on a Pi);
# if systemd itself hangs, the board resets. lockfw's own watchdog is WatchdogSec= in its unit.
[Manager]
RuntimeWatchdogSec=$RUNTIME_WATCHDOG_SEC
RebootWatchdogSec=2min
EOF
run install -d -m 0755 -o root -g root "$(dirname "$(on_disk "$WATCHDOG_CONF")")"
replace_with_diff "$(on_disk "$WATCHDOG_CONF")" "$NEW_WATCHDOG_CONF" 0644
run systemctl daemon-reexec

# ---------------------------------------------------------------- switch, start, roll back

DB=$(on_disk "$DATA_DIR/lock.db")
step "Backing up the store before the new release migrates it: $BACKUP_DIR"
# better-sqlite3's online backup: consistent while the running lockfw writes.
BACKUP_JS="const D = require(\"$R/node_modules/better-sqlite3\"); const db = new D(process.argv[1], { readonly: true, fileMustExist: true }); db.backup(process.argv[2]).then(() => db.close(), (e) => { console.error(e.message); process.exit(1); })"
if [ "$DRY_RUN" -eq 1 ]; then
  printf '[dry-run] %s   # only if there is a store\n' "$(quote install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$(on_disk "$BACKUP_DIR")")"
  printf '[dry-run] %s   # only if there is a store\n' "$(quote node -e "$BACKUP_JS" "$DB" "$(on_disk "$BACKUP_DIR/lock.db")")"
elif [ -f "$DB" ]; then
  run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$(on_disk "$BACKUP_DIR")"
  run node -e "$BACKUP_JS" "$DB" "$(on_disk "$BACKUP_DIR/lock.db")"
  run chown "$SERVICE_USER:$SERVICE_USER" "$(on_disk "$BACKUP_DIR/lock.db")"
  run chmod 0600 "$(on_disk "$BACKUP_DIR/lock.db")"
else
  printf 'no store yet (%s): nothing to back up\n' "$DATA_DIR/lock.db"
fi

# Points $CURRENT at a release in one rename: never missing, never half-switched.
switch_to() {
  run ln -sfn "$1" "$(on_disk "$CURRENT").new"
  run mv -T "$(on_disk "$CURRENT").new" "$(on_disk "$CURRENT")"
}

step "Switching $CURRENT to $RELEASE_NAME${PREVIOUS:+ (was $PREVIOUS)}"
switch_to "$RELEASE_NAME"

step "Installing and enabling the systemd unit"
run install -d -m 0755 -o root -g root "$(dirname "$(on_disk "$UNIT_PATH")")"
run install -m 0644 -o root -g root "$REPO/scripts/lockfw.service" "$(on_disk "$UNIT_PATH")"
run systemctl daemon-reload
run systemctl enable lockfw.service

if [ "$START" -eq 0 ]; then
  printf 'not starting (--no-start): systemctl start lockfw\n'
elif [ "$DRY_RUN" -eq 1 ]; then
  run systemctl restart lockfw.service
  printf '[dry-run] if it does not start: switch %s back to the previous release, restore %s from %s, start that\n' \
    "$CURRENT" "$DATA_DIR/lock.db" "$BACKUP_DIR"
else
  # Type=notify: restart returns once lockfw said READY=1, or fails.
  if run systemctl restart lockfw.service && systemctl is-active --quiet lockfw.service; then
    printf 'lockfw %s is running\n' "$VERSION-$STAMP"
  elif [ -z "$PREVIOUS" ]; then
    die "lockfw did not start (its outputs are off; it keeps retrying every 2 s): journalctl -u lockfw -b"
  else
    step "Rolling back: the new release did not start"
    run systemctl stop lockfw.service
    switch_to "$PREVIOUS"
    if [ -f "$(on_disk "$BACKUP_DIR/lock.db")" ]; then
      # The new release may have migrated the store: the old one gets the store it knew.
      run rm -f "$DB-wal" "$DB-shm"
      run install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$(on_disk "$BACKUP_DIR/lock.db")" "$DB"
    fi
    run systemctl start lockfw.service || true
    die "release $VERSION-$STAMP did not start; rolled back to $PREVIOUS (store restored from $BACKUP_DIR): journalctl -u lockfw -b"
  fi
fi

step "Removing old releases (keeping $KEEP_RELEASES)"
if [ "$DRY_RUN" -eq 1 ]; then
  printf '[dry-run] keep the newest %s in %s, remove the rest\n' "$KEEP_RELEASES" "$PREFIX/releases"
else
  ACTIVE=$(readlink "$(on_disk "$CURRENT")")
  # Newest first by the stamp that ends each name (versions do not sort as text).
  ls -1d "$(on_disk "$PREFIX/releases")"/*/ 2>/dev/null | sed 's:/$::' | awk -F- '{ print $NF " " $0 }' |
    sort -r | cut -d' ' -f2- | tail -n +"$((KEEP_RELEASES + 1))" |
    while read -r old; do
      [ "$old" = "$(on_disk "$PREFIX/$ACTIVE")" ] || run rm -rf "$old"
    done
fi

step "Notes"
if [ "$DRY_RUN" -eq 0 ] && dpkg-query -W -f='${Status}' fake-hwclock 2>/dev/null | grep -q 'install ok'; then
  printf 'fake-hwclock is installed: with a battery-backed RTC, remove it (apt purge fake-hwclock); see docs/hardware.md\n'
fi
printf 'A USB keypad also types into the console: keep getty off tty1 (systemctl disable getty@tty1); see docs/hardware.md\n'
printf 'Follow the log with: journalctl -u lockfw -f\n'
