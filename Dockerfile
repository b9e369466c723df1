# The postamat service as a container image: built with the Rust toolchain rust-toolchain.toml
# pins, run from a slim Debian as an unprivileged user. How to build and run it:
# docs/operations.md ("Container image"). CI lints this file with hadolint and checks that
# RUST_VERSION matches rust-toolchain.toml; it cannot build it (no container registry is
# reachable from CI's machines to pull the base images).
#
#   docker build --build-arg POSTAMAT_COMMIT="$(git rev-parse --short=12 HEAD)" -t postamat .
#   docker run -d -p 8080:8080 -v postamat-data:/var/lib/postamat postamat

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=trixie

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
ARG RUST_VERSION
# SQLite, libpq and OpenSSL are built from source; OpenSSL's build needs perl and make (the
# image has gcc). The Debian release is pinned by the base image's tag, so the packages are not.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The image's toolchain, which is rust-toolchain.toml's: naming it keeps rustup from fetching
# the file's rustfmt and clippy, which a build does not use.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION}
# The context has no .git (.dockerignore): build.rs takes the commit from this argument, which
# `postamat --version`, `GET /` and the build_info metric show; without it, `unknown`.
ARG POSTAMAT_COMMIT=""
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/postamat /usr/local/bin/postamat

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
ARG POSTAMAT_COMMIT=""
LABEL org.opencontainers.image.title="postamat" \
      org.opencontainers.image.description="The State Corporation's side of the birth-certificate delivery pilot through Kaspi postamats" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${POSTAMAT_COMMIT}"
# Nothing to install: SQLite, libpq and OpenSSL are linked in, the dispatcher's root
# certificates are compiled in, and the health check is bash's. A fixed uid and gid, so a
# volume's owner and a runAsNonRoot policy can name them.
RUN groupadd --system --gid 10001 postamat \
    && useradd --system --uid 10001 --gid postamat --home-dir /var/lib/postamat \
        --no-create-home --shell /usr/sbin/nologin postamat \
    && install -d -o postamat -g postamat -m 0750 /var/lib/postamat
COPY --from=build /usr/local/bin/postamat /usr/local/bin/postamat
COPY deploy/container-healthcheck /usr/local/bin/postamat-healthcheck
ENV POSTAMAT_BIND=0.0.0.0:8080 \
    POSTAMAT_DATABASE_URL=sqlite:///var/lib/postamat/postamat.db \
    POSTAMAT_LOG_FORMAT=json
VOLUME ["/var/lib/postamat"]
WORKDIR /var/lib/postamat
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/postamat-healthcheck"]
ENTRYPOINT ["/usr/local/bin/postamat"]
CMD ["serve"]
