# syntax=docker/dockerfile:1
#
# The operator image: one static (musl) binary on distroless/static: no shell, no libc, no
# package manager; CA certificates, /etc/passwd and the nonroot user (65532) only.
#
#   docker build -t compose-operator:0.1.0 .
#
# Without a container engine, `bash e2e/static-build.sh` runs the same build (and checks that
# the binary is static and works); CI runs it, so this build cannot rot unnoticed.
# Builds for linux/amd64 (the x86_64-unknown-linux-musl target).

ARG RUST_VERSION=1.95

# --- build: cargo for the musl target; ring's C/assembly is compiled with musl-gcc ------------
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TARGETARCH=amd64
RUN [ "$TARGETARCH" = amd64 ] || { echo "only linux/amd64 is supported (got $TARGETARCH)" >&2; exit 1; }
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# Only what the build reads (Cargo.toml names benches/translate.rs, which must exist for the
# manifest to load; it is not compiled).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl --bin compose-operator \
 && cp target/x86_64-unknown-linux-musl/release/compose-operator /compose-operator
# It must run with no shared library at all (the final image has none).
RUN /compose-operator --version \
 && ! ldd /compose-operator 2>/dev/null | grep -q '=>'

# --- image ------------------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="compose-operator" \
      org.opencontainers.image.description="Run docker-compose / swarm stacks on Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /compose-operator /usr/local/bin/compose-operator
USER 65532:65532
# /metrics, /healthz and /readyz.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/compose-operator"]
CMD ["run"]
