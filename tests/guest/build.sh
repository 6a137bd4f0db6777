#!/usr/bin/env bash
# Builds the test guest, or reuses it: Debian's stock kernel (fetch-kernel.sh) and an initramfs holding
# /init (guest_init.c, static against libbpf.a/libelf.a/libz.a), the project's move_pages helpers built
# static (64-bit and -m32), and the BPF objects from bpf/.output. The result is cached under a hash of
# every input, so only a changed input rebuilds. Prints "kernel=PATH", "initramfs=PATH", "config=PATH",
# "cached=yes|no".
# Needs: gcc, gcc-multilib, libbpf-dev, libelf-dev, zlib1g-dev, busybox-static (its cpio), and the BPF
# objects built (make -C bpf).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${SENTINEL_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sentinel-guest}
helper="$root/src/Sentinel.Simulate/native/move_pages_call.c"
objects=("$root/bpf/.output/move_pages.bpf.o" "$root/bpf/.output/movememory_lsm.bpf.o" "$root/bpf/.output/response.bpf.o")

for o in "${objects[@]}"; do
  [ -r "$o" ] || { echo "guest: $o is missing: build the BPF objects first (make -C bpf)" >&2; exit 1; }
done
for tool in gcc busybox dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "guest: $tool is missing (bash .ci/setup installs it)" >&2; exit 1; }
done

kernel=$(bash "$here/fetch-kernel.sh")
key=$( { cat "$kernel/package.sha256" "$here/build.sh" "$here/guest_init.c" "$root/bpf/sentinel.h" "$root/bpf/response.h" "$helper" \
           "${objects[@]}"; gcc --version | head -1; } | sha256sum | cut -c1-16)
image="$cache/images/$key"

cached=yes
if [ ! -r "$image/initramfs.cpio.gz" ]; then
  cached=no
  mkdir -p "$cache/images"
  work=$(mktemp -d "$cache/images/.build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/root" "$work/out"
  gcc -static -O2 -Wall -Werror -I"$root/bpf" -o "$work/root/init" "$here/guest_init.c" -lbpf -lelf -lz
  gcc -static -O2 -Wall -Werror -pthread -o "$work/root/move_pages64" "$helper"
  gcc -m32 -static -O2 -Wall -Werror -pthread -o "$work/root/move_pages32" "$helper"
  cp "${objects[@]}" "$work/root/"
  (cd "$work/root" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$work/out/initramfs.cpio.gz"
  cp "$kernel/vmlinuz" "$kernel/config" "$kernel/package" "$work/out/"
  # Older images are stale inputs: keep only this one.
  find "$cache/images" -mindepth 1 -maxdepth 1 -type d ! -name '.build.*' -exec rm -rf {} +
  mv "$work/out" "$image" 2>/dev/null || [ -r "$image/initramfs.cpio.gz" ] # a concurrent build won the race
fi
echo "kernel=$image/vmlinuz"
echo "initramfs=$image/initramfs.cpio.gz"
echo "config=$image/config"
echo "cached=$cached"
