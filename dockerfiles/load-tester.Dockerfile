# The load-tester image: one static binary, the built-in scenarios, nothing else.
#
#   docker build -f dockerfiles/load-tester.Dockerfile -t load-tester .          # with registry access
#   dockerfiles/build-local.sh                                                   # without (see README)
#
# The build context is the repository root (as in the platform's compose file). It works with
# the classic builder and with BuildKit (no RUN --mount, no heredocs).
#
# Base images are build arguments:
#   RUST_IMAGE     builder: any Debian-like image with cargo, rustc >= 1.89 (the locked crates'
#                  newest rust-version) and a C compiler (for ring)
#   RUNTIME_IMAGE  runtime: scratch (default) or e.g. gcr.io/distroless/static-debian12
ARG RUST_IMAGE=rust:1.89-bookworm
ARG RUNTIME_IMAGE=scratch

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
# Marks the builder's (untagged) images, so build-local.sh can prune old ones and only them.
LABEL io.load-tester.stage=builder
WORKDIR /src

# Release binary without debug info (Cargo.toml keeps debug = 1 for profiling on hosts).
ENV CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

COPY Cargo.toml Cargo.lock ./
# vendor/ (made by `cargo vendor`, e.g. by dockerfiles/build-local.sh) makes the build offline.
# There is no optional COPY: a wildcard matching nothing is accepted when another source exists,
# so Cargo.toml rides along into vendor/ and is removed again. Without vendor/, cargo fetches
# from crates.io as usual.
COPY Cargo.toml vendo[r] /src/vendor/
RUN set -eu; \
    rm -f vendor/Cargo.toml; \
    if ls vendor/*/Cargo.toml >/dev/null 2>&1; then \
        mkdir -p .cargo; \
        printf '%s\n' '[source.crates-io]' 'replace-with = "vendored-sources"' \
            '[source.vendored-sources]' 'directory = "vendor"' '[net]' 'offline = true' \
            > .cargo/config.toml; \
        echo "building offline from vendor/ ($(ls -d vendor/*/ | wc -l) crates)"; \
    else \
        rm -rf vendor; \
        echo "no vendor/ in the context: fetching crates from the registry"; \
    fi

# Static binary for the builder's own architecture (glibc, crt-static: no loader, no NSS; host
# names are resolved in Rust by hickory-resolver, TLS roots are compiled in by webpki-roots).
# --target keeps RUSTFLAGS away from build scripts and proc macros.
ENV RUSTFLAGS="-C target-feature=+crt-static"

# Dependencies first, in their own layer: a change to src/ does not rebuild them. Cargo must
# find a file for every target the manifest declares: stub-targets.sh puts placeholders there
# (src/ here; tests/, benches/, examples/, which the context leaves out, in both builds).
COPY dockerfiles/stub-targets.sh /usr/local/bin/stub-targets
RUN set -eu; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    sh /usr/local/bin/stub-targets Cargo.toml; \
    cargo build --release --locked --target "$target" --bin load-tester; \
    rm -rf src tests benches examples

COPY src ./src
# COPY keeps the context's mtimes, which may be older than the placeholder build above: touch
# so that cargo rebuilds the crate itself.
RUN set -eu; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    sh /usr/local/bin/stub-targets Cargo.toml; \
    find src -type f -exec touch {} +; \
    cargo build --release --locked --target "$target" --bin load-tester; \
    mkdir -p /out/app/results /out/root/tmp; \
    chmod 1777 /out/root/tmp; \
    cp "target/$target/release/load-tester" /out/load-tester; \
    /out/load-tester --version; \
    if readelf -d /out/load-tester | grep -q NEEDED; then \
        echo "error: /out/load-tester is dynamically linked" >&2; readelf -d /out/load-tester >&2; exit 1; \
    fi

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}

ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="load-tester" \
      org.opencontainers.image.description="Golden-path load tester and probe for agent-chat backends: login, WebSocket, ordered agent events, HDR latency." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

COPY --from=builder /out/load-tester /load-tester
COPY scenarios/ /app/scenarios/
# Results directory owned by the non-root user; a named volume mounted here starts with this
# owner. (scratch has no shell, so it is made in the builder.)
COPY --from=builder --chown=65532:65532 /out/app/results /app/results
# A writable /tmp (mode 1777): `--processes` keeps its children's partial results there.
# (Copied as an entry of its parent: a directory COPY creates its target 0755.)
COPY --from=builder /out/root/ /

# Defaults for the compose layout (services `backend` on 8000 and `auth` on 8081); every one is
# overridden by the environment (compose `environment:`, `docker run -e`) or by a flag.
# The compose service's names (TARGET_URL, AUTH_URL, RESULTS_DIR, ...) are read as they are; every
# other flag's variable has the prefix LOAD_TESTER_, so generic names set for other tools
# (SCENARIO, SEED, WORKERS, QUIET) never change a run.
#   LOAD_TESTER_SCENARIO         the built-in golden path; mount a file over it, or point it elsewhere
#   LOAD_TESTER_WAIT_FOR_TARGET  wait (bounded) for /health of the target and auth; exit 3 if never up
#   LOAD_TESTER_GRACEFUL_STOP    in-flight flows get 3 s after `docker stop` (SIGKILL after 10 s)
ENV LOAD_TESTER_SCENARIO=/app/scenarios/golden-path.toml \
    TARGET_URL=http://backend:8000 \
    AUTH_URL=http://auth:8081 \
    RESULTS_DIR=/app/results \
    LOAD_TESTER_WAIT_FOR_TARGET=120s \
    LOAD_TESTER_GRACEFUL_STOP=3s

WORKDIR /app
USER 65532:65532
# SIGTERM (docker stop) ends the run gracefully; the binary handles it itself as PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/load-tester"]
# No command: wait for the target, run LOAD_TESTER_SCENARIO, write /app/results/results.json + summary.txt,
# exit with the tool's exit code (0 passed, 1 failed, 2 usage, 3 could not run).
CMD ["run"]
