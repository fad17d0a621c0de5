#!/bin/busybox sh
# PID 1 of shadowvm's Linux guest. Runs a small deterministic workload so that replicas have
# something real to compare: each round checksums generated data, prints the result on the
# serial console, writes it to a disk sector and publishes it over busybox httpd.
# Kernel parameters read: shadowvm.rounds=N (0 = forever, then power off), shadowvm.size=N,
# shadowvm.netprobe=S (every S seconds, try to reach the host through the NIC and print the outcome).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

# The virtio modules' dependencies change between kernel releases (virtio needs virtio_ring in
# some, the reverse in others): repeat the pass so any order loads them all.
for pass in 1 2 3; do
  for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
done

rounds=0
size=3000
netprobe=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    shadowvm.rounds=*) rounds=${arg#*=} ;;
    shadowvm.size=*) size=${arg#*=} ;;
    shadowvm.netprobe=*) netprobe=${arg#*=} ;;
  esac
done

if [ -e /sys/class/net/eth0 ]; then
  ifconfig lo 127.0.0.1 up
  ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
  route add default gw 10.0.2.2
  # QEMU user networking's gateway has a fixed MAC. A static entry keeps a shadow able to answer
  # mirrored requests: its own ARP requests are captured by the host and never answered.
  arp -s 10.0.2.2 52:55:0a:00:02:02
  # A page every healthy replica serves identically (unlike /www/result): one marker line, found
  # in guest RAM by fault-injection tests, then fixed lines. The marker is assembled here so the
  # whole line appears only in the file's page.
  part=SHADOWVM
  { echo "$part-DATA-PAGE"; seq -w 1 700; } > /www/data
  # A fixed mtime: its Last-Modified and ETag headers must not depend on when a replica booted.
  touch -d '2000-01-01 00:00:00' /www/data
  httpd -p 80 -h /www
  if [ "$netprobe" -gt 0 ]; then
    while true; do
      sleep "$netprobe"
      if wget -q -T 2 -O /dev/null http://10.0.2.2/ 2>/dev/null; then echo "shadowvm: netprobe reachable"; else echo "shadowvm: netprobe unreachable"; fi
    done &
  fi
fi

echo "shadowvm: ready"
n=0
while [ "$rounds" -eq 0 ] || [ "$n" -lt "$rounds" ]; do
  n=$((n + 1))
  # vCPUs hot-plugged by the host arrive offline without udev: bring them up.
  for c in /sys/devices/system/cpu/cpu*/online; do
    [ -e "$c" ] && [ "$(cat "$c")" = 0 ] && echo 1 > "$c"
  done
  sum=$(seq "$n" "$((n + size))" | sha256sum | cut -c1-16)
  line="round $n sum $sum"
  echo "shadowvm: $line"
  echo "$line" > /www/result
  if [ -b /dev/vda ]; then
    printf '%-511s\n' "$line" | dd of=/dev/vda bs=512 seek=$((1 + n % 30000)) count=1 conv=notrunc,fsync 2>/dev/null
    printf '%-511s\n' "$line" | dd of=/dev/vda bs=512 seek=0 count=1 conv=notrunc,fsync 2>/dev/null
  fi
done
echo "shadowvm: done $n"
sync
poweroff -f
