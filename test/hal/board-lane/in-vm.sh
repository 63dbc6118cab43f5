#!/bin/bash
# Runs inside the board lane's VM (run.sh), chrooted into the host's root over 9p:
# gpio-sim as the header chip, QEMU's CMOS RTC, a FIFO keypad, and lockfw end to end.
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

# The data dir and the FIFO keypad on a tmpfs of the VM's own (9p cannot make a FIFO).
D=/run/tumbler-lane
mkdir -p "$D" && mount -t tmpfs none "$D"
FIFO=$D/keypad
mkfifo "$FIFO"
exec 3<>"$FIFO"
cat >"$D/board.json" <<BOARD
{
  "gpio": { "chip": "pinctrl-bcm2711" },
  "relay": { "mode": "strike", "strikeLine": 26, "failMode": "fail-secure", "pulseMs": 20000 },
  "keypad": { "device": "$FIFO" },
  "rtc": { "device": "rtc_cmos", "hwclock": "/bin/true" },
  "door": { "line": 17, "activeLow": false, "bias": "as-is" },
  "indicator": { "led": { "red": 22, "green": 23 }, "buzzer": { "line": 24 } }
}
BOARD
press() {
  python3 - "$FIFO" "$1" <<'PY'
import struct, sys
codes = {"0": 82, "1": 79, "2": 80, "3": 81, "4": 75, "5": 76, "6": 77, "7": 71, "8": 72, "9": 73, "#": 96, "*": 55}
with open(sys.argv[1], "wb", buffering=0) as node:
    for key in sys.argv[2]:
        for value in (1, 0):
            node.write(struct.pack("<qqHHi", 0, 0, 1, codes[key], value) + struct.pack("<qqHHi", 0, 0, 0, 0, 0))
PY
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

lockfw outputs-off --board "$D/board.json" >"$D/off.log" 2>&1
check "outputs-off by label on a real GPIO chip exits 0" 0 $?
check "strike off after outputs-off" 0 "$(level 26)"

start_lock "$D/first.log" --init
kill -TERM "$LOCK"; wait "$LOCK"
check "first start and SIGTERM stop" 0 $?
echo 2580 | lockfw codes add --data "$D/data" --name lane --pin-stdin >"$D/codes.log" 2>&1
check "code added" 0 $?

start_lock "$D/run.log"
check "strike off while running idle" 0 "$(level 26)"
press 2580#
sleep 2
check "strike on after a granted code (the grant)" 1 "$(level 26)"
kill -KILL "$LOCK"
sleep 0.3
kill -KILL -- "-$LOCK" 2>/dev/null # what systemd does to the rest of the unit
sleep 0.5
echo "LANE info strike after kill -9 and the group kill: $(level 26) (mainline gpio-sim: a released line goes back to its pull)"
lockfw outputs-off --board "$D/board.json" >>"$D/off.log" 2>&1
check "ExecStopPost's outputs-off after the crash exits 0" 0 $?
check "strike off after the crash and outputs-off" 0 "$(level 26)"

exec 3>&-
rm -f "$FIFO"
lockfw run --hal linux --board "$D/board.json" --data "$D/data" >"$D/nokeypad.log" 2>&1
check "a start without the keypad is refused" 1 $?
grep -q 'board.keypad.device' "$D/nokeypad.log" && ok "it names board.keypad.device" || fail "no keypad message: $(tail -1 "$D/nokeypad.log")"
check "strike off after the refused start" 0 "$(level 26)"

cp "$D"/*.log "$WORK/" 2>/dev/null
exit "$FAILED"
