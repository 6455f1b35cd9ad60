# The image of `stackctl watch`, run as a Swarm service by examples/watch/service.yaml; for
# hosts that can pull from a registry:
#
#   docker build -t registry.example.com/stackctl/watch:1.0 .     (BuildKit: RUN --mount)
#
# It cannot be built on this repository's offline test bed: nothing can be pulled there (not
# the base images, not the crates). There, scripts/watcher-image makes the same image from the
# locally built binary, without a registry: same entry point, paths, user and environment.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The caches only speed up rebuilds; the binary is copied out of the target cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && strip --strip-debug -o /usr/local/bin/stackctl target/release/stackctl

FROM debian:bookworm-slim
# zlib1g is what the binary links to dynamically beyond libc (ldd; TLS is rustls, built in);
# ca-certificates gives /etc/ssl/certs/ca-certificates.crt for https remotes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 stackctl \
    && useradd --uid 10001 --gid stackctl --home-dir /var/lib/stackctl --no-create-home \
        --shell /usr/sbin/nologin --comment "stackctl watch" stackctl \
    && mkdir -p /etc/stackctl /var/lib/stackctl
COPY --from=build /usr/local/bin/stackctl /usr/local/bin/stackctl
# XDG_STATE_HOME: the default state directory is /var/lib/stackctl (mount a volume there).
# The user stays root: the watcher talks to the docker socket, which is root's (and the docker
# group's, whose id differs from host to host).
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_DIR=/etc/ssl/certs \
    XDG_STATE_HOME=/var/lib
ENTRYPOINT ["/usr/local/bin/stackctl", "watch"]
