#!/usr/bin/env bash
# The board lane: the Linux HAL and lockfw end to end against a real kernel's GPIO
# character device. A Debian 6.1 kernel under QEMU, the kernel's own gpio-sim driver
# built out of tree (Debian does not build it), the host's root shared read-write over
# 9p, and lockfw run from this checkout on the in-process uAPI backend (the native
# addon), with Debian's gpiod tools for the explicit fallback. Models mainline's release
# behaviour only (a released line goes back to its pull).
#
#   sudo apt-get install qemu-system-x86 linux-image-amd64 linux-headers-amd64 \
#        linux-source-6.1 busybox-static gpiod python3
#   npm run build:native
#   bash test/hal/board-lane/run.sh
#
# Prints the in-VM test's lines and exits 0 only if every check passed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
KVER=${KVER:-$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -1)}
# A WORK dir of our own is removed when the lane passes; a failed run keeps its logs.
OWN_WORK=${WORK:+no}
WORK=${WORK:-$(mktemp -d /tmp/tumbler-board-lane-XXXXXX)}
die() { printf 'board lane: %s\n' "$*" >&2; exit 1; }

[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] || die "no Debian kernel (apt-get install linux-image-amd64)"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || die "no /bin/busybox (apt-get install busybox-static)"
[ -d "/lib/modules/$KVER/build" ] || die "no headers for $KVER (apt-get install linux-headers-$KVER)"
SOURCE=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | tail -1)
[ -n "$SOURCE" ] || die "no kernel source (apt-get install linux-source-6.1)"
[ -f "$REPO/hal/linux/native/build/Release/tumbler_gpio.node" ] || die "no native GPIO addon (npm run build:native)"

# gpio-sim and the irq_sim it needs, as one out-of-tree module. irq_to_desc is not
# exported to modules in 6.1, so the simulated interrupt goes through the exported
# generic_handle_irq_safe instead.
mkdir -p "$WORK/mod"
tar -xJf "$SOURCE" -C "$WORK" --wildcards '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' '*/kernel/irq/irq_sim.c'
cp "$WORK"/linux-source-*/drivers/gpio/gpio-sim.c "$WORK"/linux-source-*/drivers/gpio/gpiolib.h \
  "$WORK"/linux-source-*/kernel/irq/irq_sim.c "$WORK/mod/"
sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq_safe(irqnum);/' "$WORK/mod/irq_sim.c"
printf 'obj-m += gpio-sim-lane.o\ngpio-sim-lane-objs := gpio-sim.o irq_sim.o\n' >"$WORK/mod/Makefile"
make -s -C "/lib/modules/$KVER/build" M="$WORK/mod" modules >"$WORK/mod/build.log" 2>&1 ||
  { cat "$WORK/mod/build.log"; die "gpio-sim did not build"; }

# An initramfs that loads virtio and 9p, mounts the host's root and runs the test in it.
INITRD="$WORK/initramfs"
mkdir -p "$INITRD"/{bin,proc,sys,dev,host,modules}
cp /bin/busybox "$INITRD/bin/busybox"
MODULES=()
for module in virtio_pci 9pnet_virtio 9p; do
  while read -r _ path; do
    case " ${MODULES[*]} " in *" $path "*) ;; *) MODULES+=("$path") ;; esac
  done < <(modprobe -S "$KVER" --show-depends "$module" | grep '^insmod')
done
: >"$INITRD/modules/order"
for path in "${MODULES[@]}"; do
  cp "$path" "$INITRD/modules/"
  printf '%s\n' "$(basename "$path")" >>"$INITRD/modules/order"
done
cat >"$INITRD/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in \$(cat /modules/order); do insmod /modules/\$module; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host /host
for fs in proc sys dev; do mount --bind /\$fs /host/\$fs; done
chroot /host /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root \
  /bin/bash "$HERE/in-vm.sh" "$WORK" "$REPO" "$KVER"
echo "LANE exit \$?"
poweroff -f
INIT
chmod +x "$INITRD/init"
(cd "$INITRD" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"

# TCG, not KVM: under nested virtualisation (as on the machine this was written on)
# the Debian kernel hung at boot with -enable-kvm. LANE_ACCEL='-enable-kvm -cpu host'
# where KVM works. Under TCG on 2 busy cores the lane took 20-30 minutes.
timeout "${LANE_TIMEOUT:-2700}" qemu-system-x86_64 ${LANE_ACCEL:--accel tcg,thread=multi -cpu max} -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "/boot/vmlinuz-$KVER" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 ${LANE_KERNEL_ARGS:-quiet} panic=-1" \
  -virtfs local,path=/,mount_tag=host,security_model=none,multidevs=remap \
  | tee "$WORK/console.log" | grep --line-buffered -a -o 'LANE .*' || true
grep -a -q 'LANE exit 0' "$WORK/console.log" || die "failed; console log: $WORK/console.log"
! grep -a -q 'LANE FAIL' "$WORK/console.log" || die "a check failed; console log: $WORK/console.log"
if [ "${OWN_WORK:-yes}" = yes ]; then
  rm -rf "$WORK"
  printf 'board lane: passed\n'
else
  rm -rf "$WORK/initramfs" "$WORK/initrd.gz" "$WORK"/linux-source-*
  printf 'board lane: passed (logs in %s)\n' "$WORK"
fi
