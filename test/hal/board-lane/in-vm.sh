#!/bin/bash
# Runs inside the board lane's VM (run.sh), chrooted into the host's root over 9p:
# gpio-sim as the header chip, QEMU's CMOS RTC, a uinput keypad, a Wiegand reader
# played on gpio-sim lines, and lockfw end to end on the uAPI backend.
# Prints "LANE ok ..." or "LANE FAIL ..." per check.
set -uo pipefail
WORK=$1 REPO=$2
FAILED=0
ok() { echo "LANE ok $*"; }
fail() {
  echo "LANE FAIL $*"
  FAILED=1
}
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then ok "$1 ($3)"; else fail "$1: expected $2, got $3"; fi
}
lockfw() { node "$REPO/scripts/lockfw.js" "$@"; }

modprobe configfs && mount -t configfs none /sys/kernel/config
insmod "$WORK/mod/gpio-sim-lane.ko" || { fail "gpio-sim did not load"; exit 1; }
SIMCFG=/sys/kernel/config/gpio-sim/lane
mkdir -p "$SIMCFG/bank0"
echo 32 >"$SIMCFG/bank0/num_lines"
echo pinctrl-bcm2711 >"$SIMCFG/bank0/label" # the Pi 4 header's label
echo 1 >"$SIMCFG/live"
CHIP=$(cat "$SIMCFG/bank0/chip_name")
SIM=/sys/devices/platform/$(cat "$SIMCFG/dev_name")/$CHIP
echo "LANE info $(gpiodetect | grep "$CHIP") $(gpioset --version | head -1) rtc0=$(cat /sys/class/rtc/rtc0/name)"
level() { cat "$SIM/sim_gpio$1/value"; }

echo pull-down >"$SIM/sim_gpio17/pull" # door closed (high = open)

# The uAPI backend's own contract on this kernel: set() resolves once the line is
# driven, writes in call order, bias incl. disabled, kernel-timestamped edges, none lost
# right after a request, and the motor's dead time measured on the lines.
(cd "$REPO" && node --import tsx test/hal/board-lane/uapi-check.ts "$SIM" pinctrl-bcm2711)
check "uAPI contract checks" 0 $?

# The data dir on a tmpfs of the VM's own (9p cannot make a FIFO).
D=/run/tumbler-lane
mkdir -p "$D" && mount -t tmpfs none "$D"

# A keypad made with uinput: a real evdev node that lockfw takes with EVIOCGRAB.
# evdev makes the /dev/input/eventN node (no udev here to load it on demand).
modprobe uinput && modprobe evdev || fail "uinput or evdev did not load"
mkfifo "$D/keys"
python3 "$REPO/test/hal/board-lane/uinput-keypad.py" serve "$D/keys" >"$D/keypad-node" 2>"$D/keypad.log" &
KEYPAD_PID=$!
exec 4<>"$D/keys" # the keypad lives while this stays open (read-write: never blocks)
for _ in $(seq 1 100); do [ -s "$D/keypad-node" ] && break; sleep 0.1; done
KEYPAD=$(cat "$D/keypad-node")
[ -c "$KEYPAD" ] && ok "uinput keypad at $KEYPAD" || fail "no uinput keypad ($KEYPAD): $(cat "$D/keypad.log")"
press() { echo "$1" >&4; }
# peek NODE SECONDS OUT: another reader of the keypad, in the background, once it has the node open.
peek() {
  rm -f "$3.open"
  python3 "$REPO/test/hal/board-lane/uinput-keypad.py" peek "$1" "$2" >"$3" 2>"$3.open" &
  PEEK=$!
  for _ in $(seq 1 150); do [ -s "$3.open" ] && break; sleep 0.1; done
}

cat >"$D/board.json" <<BOARD
{
  "gpio": { "chip": "pinctrl-bcm2711", "backend": "uapi" },
  "relay": { "mode": "strike", "strikeLine": 26, "failMode": "fail-secure", "pulseMs": 4000 },
  "keypad": { "device": "$KEYPAD", "grab": true },
  "rtc": { "device": "rtc_cmos", "hwclock": "/bin/true" },
  "door": { "line": 17, "activeLow": false, "bias": "as-is" },
  "wiegand": { "d0": 7, "d1": 8, "bias": "pull-up", "frameGapMs": 1500 },
  "indicator": { "led": { "red": 22, "green": 23 }, "buzzer": { "line": 24 } }
}
BOARD
sed -e 's/"backend": "uapi"/"backend": "gpiod-tools"/' -e '/"wiegand"/d' "$D/board.json" >"$D/board-tools.json"

# A Wiegand frame on gpio-sim: each bit a low pulse on D0 (line 7) or D1 (line 8).
wiegand() {
  local bits line
  bits=$(python3 - "$1" <<'PY'
import sys
body = format(int(sys.argv[1]), "024b")
even = body[:12].count("1") % 2
odd = 1 - body[12:].count("1") % 2
print(f"{even}{body}{odd}")
PY
  )
  [ "${#bits}" = 26 ] || fail "no Wiegand frame for $1: '$bits'"
  for ((i = 0; i < ${#bits}; i++)); do
    line=$([ "${bits:i:1}" = 0 ] && echo 7 || echo 8)
    echo pull-down >"$SIM/sim_gpio$line/pull"
    echo pull-up >"$SIM/sim_gpio$line/pull"
  done
}
start_lock() { # start_lock LOG [--init]: its own session, as a unit has its own cgroup
  setsid node "$REPO/scripts/lockfw.js" run --hal linux --board "$D/board.json" --data "$D/data" "${@:2}" >"$1" 2>&1 &
  LOCK=$!
  for _ in $(seq 1 150); do
    grep -q '"msg":"ready"' "$1" 2>/dev/null && break
    sleep 0.2
  done
  sleep 1
}

lockfw outputs-off --board "$D/board-tools.json" >"$D/off.log" 2>&1
check "outputs-off on the gpiod-tools backend (chosen in the board file) exits 0" 0 $?
lockfw outputs-off --board "$D/board.json" >>"$D/off.log" 2>&1
check "outputs-off by label through the uAPI exits 0" 0 $?
check "strike off after outputs-off" 0 "$(level 26)"

start_lock "$D/first.log" --init
kill -TERM "$LOCK"; wait "$LOCK"
check "first start and SIGTERM stop" 0 $?
echo 2580 | lockfw codes add --data "$D/data" --name lane --pin-stdin >"$D/codes.log" 2>&1
check "code added" 0 $?

start_lock "$D/run.log"
check "strike off while running idle" 0 "$(level 26)"
peek "$KEYPAD" 6 "$D/peek.out"
press 2580#
sleep 2
check "strike on after the code typed on the uinput keypad (the grant)" 1 "$(level 26)"
wait "$PEEK"
check "another reader of the keypad saw no key while lockfw held it (EVIOCGRAB)" 0 "$(cat "$D/peek.out")"
for _ in $(seq 1 50); do [ "$(level 26)" = 0 ] && break; sleep 0.2; done
check "strike off again after its pulse" 0 "$(level 26)"
wiegand 2580
for _ in $(seq 1 100); do [ "$(level 26)" = 1 ] && break; sleep 0.2; done
check "strike on after the same code as a 26-bit Wiegand frame" 1 "$(level 26)"
kill -KILL "$LOCK"
sleep 0.3
kill -KILL -- "-$LOCK" 2>/dev/null # what systemd does to the rest of the unit
sleep 0.5
echo "LANE info strike after kill -9 and the group kill: $(level 26) (mainline gpio-sim: a released line goes back to its pull)"
lockfw outputs-off --board "$D/board.json" >>"$D/off.log" 2>&1
check "ExecStopPost's outputs-off after the crash exits 0" 0 $?
check "strike off after the crash and outputs-off" 0 "$(level 26)"
lockfw audit list --data "$D/data" --limit 100 >"$D/audit.log" 2>&1
grep -q 'decision .*outcome=granted.*source=keypad' "$D/audit.log" &&
  grep -q 'decision .*outcome=granted.*source=wiegand' "$D/audit.log" &&
  ok "the audit has both grants, sources keypad and wiegand" ||
  fail "audit: $(grep -E 'decision|wiegand' "$D/audit.log" | tr '\n' ';')"
peek "$KEYPAD" 4 "$D/peek2.out"
press 1
wait "$PEEK"
check "with lockfw gone the keypad is no longer held: another reader sees the key" 1 "$(cat "$D/peek2.out")"

exec 4>&- # EOF: the uinput keypad is removed (unplugged)
wait "$KEYPAD_PID"
lockfw run --hal linux --board "$D/board.json" --data "$D/data" >"$D/nokeypad.log" 2>&1
check "a start without the keypad is refused" 1 $?
grep -q 'board.keypad.device' "$D/nokeypad.log" && ok "it names board.keypad.device" || fail "no keypad message: $(tail -1 "$D/nokeypad.log")"
check "strike off after the refused start" 0 "$(level 26)"

cp "$D"/*.log "$WORK/" 2>/dev/null
exit "$FAILED"
