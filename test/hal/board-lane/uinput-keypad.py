#!/usr/bin/env python3
"""A USB-like keypad made with the kernel's uinput, for the board lane's VM.

  uinput-keypad.py serve COMMAND_FIFO   creates "tumbler-lane-keypad", prints its
                                        /dev/input/eventN, then types every line read
                                        from COMMAND_FIFO (e.g. "2580#"); EOF removes it
  uinput-keypad.py peek EVENT_NODE SECONDS
                                        reads EVENT_NODE as any other program in the
                                        `input` group could, for SECONDS, and prints how
                                        many key presses it saw ("open" on stderr once it
                                        has the node open)
"""
import fcntl
import os
import struct
import sys
import time

EV_SYN, EV_KEY = 0, 1
UI_SET_EVBIT = 0x40045564  # _IOW('U', 100, int)
UI_SET_KEYBIT = 0x40045565  # _IOW('U', 101, int)
UI_DEV_SETUP = 0x405C5503  # _IOW('U', 3, struct uinput_setup), 92 bytes
UI_DEV_CREATE = 0x5501
UI_DEV_DESTROY = 0x5502
NAME = b"tumbler-lane-keypad"
# Keypad keys, as lockfw's default keymap reads them (KEY_KP0.., KEY_KPASTERISK, KEY_KPENTER).
CODES = {"0": 82, "1": 79, "2": 80, "3": 81, "4": 75, "5": 76, "6": 77, "7": 71, "8": 72,
         "9": 73, "*": 55, "#": 96}
EVENT = struct.Struct("<qqHHi")  # struct input_event of a 64-bit process


def event_node():
    for entry in sorted(os.listdir("/sys/class/input")):
        if entry.startswith("event"):
            with open(f"/sys/class/input/{entry}/device/name", "rb") as name:
                if name.read().strip() == NAME:
                    return f"/dev/input/{entry}"
    return None


def serve(commands):
    fd = os.open("/dev/uinput", os.O_WRONLY)
    fcntl.ioctl(fd, UI_SET_EVBIT, EV_KEY)
    for code in CODES.values():
        fcntl.ioctl(fd, UI_SET_KEYBIT, code)
    fcntl.ioctl(fd, UI_DEV_SETUP, struct.pack("<HHHH80sI", 0x03, 0x1209, 0x0001, 1, NAME, 0))
    fcntl.ioctl(fd, UI_DEV_CREATE)
    for _ in range(200):
        node = event_node()
        if node and os.path.exists(node):
            break
        time.sleep(0.05)
    if not node or not os.path.exists(node):
        sys.exit(f"no event node for {NAME.decode()} (is the evdev module loaded?)")
    print(node, flush=True)
    with open(commands, "r") as source:
        for line in source:
            for key in line.strip():
                for value in (1, 0):
                    os.write(fd, EVENT.pack(0, 0, EV_KEY, CODES[key], value) + EVENT.pack(0, 0, EV_SYN, 0, 0))
                    time.sleep(0.02)
    fcntl.ioctl(fd, UI_DEV_DESTROY)
    os.close(fd)


def peek(node, seconds):
    fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    print("open", file=sys.stderr, flush=True)  # the caller types only after this
    presses = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            data = os.read(fd, EVENT.size * 64)
        except BlockingIOError:
            time.sleep(0.05)
            continue
        for offset in range(0, len(data) - len(data) % EVENT.size, EVENT.size):
            _, _, kind, _, value = EVENT.unpack_from(data, offset)
            if kind == EV_KEY and value == 1:
                presses += 1
    os.close(fd)
    print(presses, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "peek":
        peek(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)
