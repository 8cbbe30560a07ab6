# dreamd as a container sidecar: a static-enough binary on a distroless base, run as non-root.
#   docker build -t dreamd .
#   docker run --read-only --user "$(id -u):$(id -g)" \
#     -v /srv/agent/memory:/memory -v /srv/agent/sessions:/sessions:ro -v dreamd-state:/var/lib/dreamd dreamd
# Kubernetes: examples/kubernetes/.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN CARGO_PROFILE_RELEASE_STRIP=true cargo build --release --locked --bin dreamd \
    && mkdir -p /out/memory /out/sessions /out/var/lib/dreamd /out/run/dreamd

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/dreamd /usr/local/bin/dreamd
COPY config/container.yaml /etc/dreamd/dreamd.yaml
# Mount points owned by the image's non-root user, so fresh named volumes are writable.
COPY --from=build --chown=65532:65532 /out/ /
ENV DREAMD_CONFIG=/etc/dreamd/dreamd.yaml
USER 65532:65532
VOLUME ["/memory", "/var/lib/dreamd"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/dreamd", "health", "--timeout", "4s"]
ENTRYPOINT ["/usr/local/bin/dreamd"]
CMD ["run", "--log-format", "json"]
