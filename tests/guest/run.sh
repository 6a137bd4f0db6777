#!/usr/bin/env bash
# Boots the test guest once under qemu (software emulation, no KVM needed) and powers off when /init is
# done. usage: run.sh KERNEL INITRAMFS CONSOLE_LOG DATA_LOG
# The kernel console goes to CONSOLE_LOG (ttyS0); /init's results to DATA_LOG (ttyS1). Two NUMA nodes
# (node 1 memory-only) so pages can really move. "bpf" in lsm= enables BPF LSM programs. lockdown=integrity
# is what Debian's kernel sets under UEFI Secure Boot: the stricter of the two ways it runs on real machines.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: run.sh KERNEL INITRAMFS CONSOLE_LOG DATA_LOG" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "guest: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2; exit 1; }
exec qemu-system-x86_64 \
  -machine pc -accel tcg -cpu max -smp 1 -m 512 \
  -object memory-backend-ram,id=m0,size=256M -numa node,nodeid=0,cpus=0,memdev=m0 \
  -object memory-backend-ram,id=m1,size=256M -numa node,nodeid=1,memdev=m1 \
  -display none -monitor none -no-reboot -nodefaults \
  -serial "file:$3" -serial "file:$4" \
  -kernel "$1" -initrd "$2" \
  -append "console=ttyS0 panic=-1 lsm=lockdown,capability,yama,bpf lockdown=integrity rdinit=/init"
