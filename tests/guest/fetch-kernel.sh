#!/usr/bin/env bash
# Fetches Debian's stock kernel image (the package linux-image-amd64 depends on) with apt-get download and
# unpacks its vmlinuz and config into the cache. Prints the unpacked directory. Idempotent: a kernel
# already unpacked is reused, and with no package index reachable the newest cached kernel is used.
set -euo pipefail

cache=${SENTINEL_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sentinel-guest}
mkdir -p "$cache/kernel"

# "linux-image-6.1.0-NN-amd64=VERSION", from the metapackage's exact dependency (one apt-cache call).
resolve() {
  apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
    sed -n 's/^Depends: .*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1=\2/p' | head -1
}

package=$(resolve)
if [ -z "$package" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  package=$(resolve)
fi
if [ -z "$package" ]; then
  newest=$(ls -1d "$cache"/kernel/*/ 2>/dev/null | sort -V | tail -1)
  if [ -n "$newest" ] && [ -r "$newest/vmlinuz" ]; then echo "${newest%/}"; exit 0; fi
  echo "guest: cannot resolve linux-image-amd64 (no apt package index, and no kernel cached in $cache)" >&2
  exit 1
fi

dir="$cache/kernel/${package/=/-}"
if [ ! -r "$dir/vmlinuz" ]; then
  work=$(mktemp -d "$cache/kernel/.fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$package" >/dev/null) || {
    echo "guest: apt-get download $package failed (no Debian mirror reachable?)" >&2
    exit 1
  }
  dpkg-deb -x "$work"/*.deb "$work/x"
  mkdir -p "$work/out"
  cp "$work"/x/boot/vmlinuz-* "$work/out/vmlinuz"
  cp "$work"/x/boot/config-* "$work/out/config"
  sha256sum "$work"/*.deb | cut -d' ' -f1 > "$work/out/package.sha256"
  echo "$package" > "$work/out/package"
  rm -rf "$dir" && mv "$work/out" "$dir"
fi
echo "$dir"
