# syntax=docker/dockerfile:1.7
#
# Portcullis gateway (data plane) image.
#
# Build from the repository root (the Go workspace needs every module's go.mod):
#   docker build -f deploy/docker/gateway.Dockerfile -t portcullis/gateway:dev .
#
# The final stage is distroless "static" running as the unprivileged user 65532: no shell,
# no package manager, no libc, nothing but the statically linked binary and CA
# certificates. There is therefore no HEALTHCHECK instruction (it would need a shell or a
# client binary inside the image); orchestrators probe the HTTP endpoints instead:
#   liveness  GET /healthz   readiness  GET /readyz   metrics  GET /metrics   (HTTPS, port 8443)
#
# TLS is served by the binary itself from mounted files (plain HTTP is refused on a
# non-loopback address): mount a certificate chain and its key at
# /etc/portcullis/tls/tls.crt and /etc/portcullis/tls/tls.key (the layout of a Kubernetes
# kubernetes.io/tls Secret), or point PORTCULLIS_TLS_CERT_FILE / PORTCULLIS_TLS_KEY_FILE
# elsewhere. Comma-separated lists serve several certificates, chosen by SNI.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Static, reproducible build: no cgo (the distroless static image has no libc), no VCS
# stamping (the build context has no .git), paths trimmed, symbol tables stripped.
ENV CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false

# The whole workspace is copied because go.work lists every module; .dockerignore keeps
# local data, VCS metadata and secrets out of the context. The cache mounts keep the
# module download and build caches between builds without baking them into a layer.
COPY . .

ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" \
      -o /out/portcullis-gateway ./dataplane/cmd/portcullis-gateway

# The gateway's state directory (bundle snapshot file), created here because the final
# stage has no shell: copied with the nonroot owner, so a fresh Docker volume mounted
# there inherits that owner and the gateway can write it.
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="portcullis-gateway" \
      org.opencontainers.image.description="Portcullis gateway: MCP data plane enforcing signed bundles" \
      org.opencontainers.image.source="https://github.com/portcullis/portcullis"

COPY --from=build /out/portcullis-gateway /usr/local/bin/portcullis-gateway
COPY --from=build --chown=65532:65532 /out/state /var/lib/portcullis

# Inside a container the MCP endpoint must listen on all interfaces so that the Service /
# load balancer reaches it, which the gateway accepts only with TLS. The paths are where
# the certificate is expected, not the certificate: the image holds no key. The snapshot
# file keeps the last verified bundles for a start while NATS is unreachable. Everything
# else (public URL, NATS, keys, issuers) is deployment-specific: see deploy/README.md.
ENV PORTCULLIS_LISTEN=0.0.0.0:8443 \
    PORTCULLIS_TLS_CERT_FILE=/etc/portcullis/tls/tls.crt \
    PORTCULLIS_TLS_KEY_FILE=/etc/portcullis/tls/tls.key \
    PORTCULLIS_SNAPSHOT_FILE=/var/lib/portcullis/snapshot.json

# 65532 is distroless' "nonroot"; numeric so that runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443

ENTRYPOINT ["/usr/local/bin/portcullis-gateway"]
