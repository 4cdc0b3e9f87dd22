#!/usr/bin/env bash
# Builds the load-tester image on a Docker engine that cannot pull images (no registry access).
#
#   dockerfiles/build-local.sh [IMAGE_TAG]        # default load-tester:local
#
# 1. The builder base image (LOCAL_RUST_IMAGE, default load-tester-local/rust:bookworm) is made
#    once, if that tag does not exist yet: a minimal Debian bookworm (debootstrap, with gcc and
#    libc6-dev) plus this machine's Rust toolchain (cargo, rustc, the host target's std and
#    linker; no docs or sources), imported with `docker import`.
# 2. `cargo vendor` puts every locked crate into vendor/ (gitignored), so the build needs no
#    network: the Dockerfile switches cargo to vendor/ when it finds it in the context.
# 3. `docker build -f dockerfiles/load-tester.Dockerfile --build-arg RUST_IMAGE=<base> .`
#
# Needs: docker, cargo/rustc on the host (x86_64 or any target rustup installed as host),
# root for debootstrap (installed with apt-get when missing). Every step is bounded in time.
# Environment: LOCAL_RUST_IMAGE, LOCAL_BUILD_CACHE (tag kept for the builder stage, default
# load-tester-local/build-cache:latest), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# BUILD_TIMEOUT (seconds for docker build, default 2400).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${1:-${LOAD_TESTER_IMAGE:-load-tester:local}}"
BASE="${LOCAL_RUST_IMAGE:-load-tester-local/rust:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-2400}"
CACHE="${LOCAL_BUILD_CACHE:-load-tester-local/build-cache:latest}"

say() { printf '[build-local] %s\n' "$*" >&2; }
die() { printf '[build-local] error: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker not found"
timeout 30 docker info >/dev/null 2>&1 || die "the docker engine does not answer (docker info)"

ROOTFS_TMP=""
cleanup() {
    if [ -n "$ROOTFS_TMP" ] && [ -d "$ROOTFS_TMP" ]; then
        # debootstrap mounts proc/sys inside the tree; never delete through a mount.
        local m
        for m in $(awk -v p="$ROOTFS_TMP/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
            umount -l "$m" 2>/dev/null || true
        done
        rm -rf --one-file-system "$ROOTFS_TMP"
    fi
}
trap cleanup EXIT

make_base() {
    if docker image inspect "$BASE" >/dev/null 2>&1; then
        say "builder base $BASE exists: reused"
        return
    fi
    say "making builder base $BASE (debootstrap bookworm + host Rust toolchain)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root (or make $BASE another way)"
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        command -v apt-get >/dev/null || die "debootstrap is missing and apt-get is not available"
        export DEBIAN_FRONTEND=noninteractive
        timeout 600 apt-get update -qq >/dev/null
        timeout 600 apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    command -v rustc >/dev/null && command -v cargo >/dev/null || die "rustc/cargo not found on the host"
    local sysroot host
    sysroot="$(rustc --print sysroot)"
    host="$(rustc -vV | sed -n 's/^host: //p')"
    case "$host" in *-linux-gnu) ;; *) die "host toolchain is $host; a *-linux-gnu toolchain is needed";; esac
    [ -x "$sysroot/bin/cargo" ] || die "no cargo in $sysroot/bin (the toolchain's own, not rustup's proxy)"
    [ -d "$sysroot/lib/rustlib/$host/lib" ] || die "no std for $host in $sysroot"

    ROOTFS_TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/load-tester-base.XXXXXX")"
    local root="$ROOTFS_TMP/rootfs"
    say "debootstrap bookworm into $root (from $MIRROR)"
    if ! timeout 1200 debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates \
        bookworm "$root" "$MIRROR" >"$ROOTFS_TMP/debootstrap.log" 2>&1; then
        tail -n 30 "$ROOTFS_TMP/debootstrap.log" >&2
        die "debootstrap failed (log above)"
    fi

    say "copying the Rust toolchain ($(rustc -V)) from $sysroot"
    mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/rustlib"
    cp -a "$sysroot/bin/cargo" "$sysroot/bin/rustc" "$root/usr/local/bin/"
    # rustc and its LLVM, found through rustc's $ORIGIN/../lib
    find "$sysroot/lib" -maxdepth 1 -name '*.so*' -exec cp -a {} "$root/usr/local/lib/" \;
    # the host target's std and its self-contained linker (rust-lld, gcc-ld)
    cp -a "$sysroot/lib/rustlib/$host" "$root/usr/local/lib/rustlib/"

    # Smaller: no package lists, caches, docs, manuals, locales.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
        "$root"/usr/share/info/* "$root"/var/log/*.log

    say "importing as $BASE"
    tar --numeric-owner -C "$root" -c . | timeout 600 docker import \
        --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV CARGO_HOME=/usr/local/cargo' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap bookworm (minbase, gcc, libc6-dev) + $(rustc -V)" \
        - "$BASE" >/dev/null
    cleanup
    ROOTFS_TMP=""
    # (rustc finds its libraries through $ORIGIN, i.e. /proc: check in a container, not a chroot.)
    if ! timeout 120 docker run --rm --network none "$BASE" \
        sh -c 'rustc -vV && cargo -V && cc --version' >/dev/null; then
        docker image rm "$BASE" >/dev/null 2>&1 || true
        die "the toolchain does not run in $BASE (image removed)"
    fi
    docker image ls "$BASE" >&2
}

vendor() {
    say "cargo vendor → vendor/"
    timeout 900 cargo vendor --locked --quiet vendor >/dev/null
}

build() {
    local version revision created
    version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
    revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    local previous
    previous="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
    say "docker build → $IMAGE (builder $BASE)"
    timeout "$BUILD_TIMEOUT" docker build --force-rm \
        --build-arg RUST_IMAGE="$BASE" \
        --build-arg VERSION="$version" \
        --build-arg REVISION="$revision" \
        --build-arg CREATED="$created" \
        -f dockerfiles/load-tester.Dockerfile -t "$IMAGE" . \
        || die "docker build failed (or took longer than ${BUILD_TIMEOUT}s)"
    # Keep the newest builder stage as the cache for the next build (tagged: all steps cached,
    # seconds), then drop older builder stages, which nothing else uses: each holds a target/.
    timeout 600 docker build -q --target builder --build-arg RUST_IMAGE="$BASE" \
        -f dockerfiles/load-tester.Dockerfile -t "$CACHE" . >/dev/null \
        && timeout 300 docker image prune -f --filter label=io.load-tester.stage=builder >/dev/null \
        || say "warning: could not keep/prune the builder cache (the image is built)"
    # The image this build replaced, now untagged (a container still using it keeps it).
    if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ] \
        && [ "$(docker image inspect -f '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
        docker image rm "$previous" >/dev/null 2>&1 || true
    fi
    docker image ls "$IMAGE" >&2
}

make_base
vendor
build
