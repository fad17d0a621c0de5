#!/bin/busybox sh
# PID 1 of shadowvm's Linux guest. Runs a small deterministic workload so that replicas have
# something real to compare: each round checksums generated data, prints the result on the
# serial console, writes it to a disk sector and publishes it over busybox httpd.
# Kernel parameters read: shadowvm.rounds=N (0 = forever, then power off), shadowvm.size=N.
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
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    shadowvm.rounds=*) rounds=${arg#*=} ;;
    shadowvm.size=*) size=${arg#*=} ;;
  esac
done

if [ -e /sys/class/net/eth0 ]; then
  ifconfig lo 127.0.0.1 up
  ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
  httpd -p 80 -h /www
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
