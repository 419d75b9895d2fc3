# syntax=docker/dockerfile:1.7
#
# Portcullis control plane image.
#
# Build from the repository root (the Go workspace needs every module's go.mod):
#   docker build -f deploy/docker/controlplane.Dockerfile -t portcullis/controlplane:dev .
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
      -o /out/portcullis-controlplane ./controlplane/cmd/portcullis-controlplane

FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="portcullis-controlplane" \
      org.opencontainers.image.description="Portcullis control plane: admin API, bundle relay, audit ingest" \
      org.opencontainers.image.source="https://github.com/portcullis/portcullis"

COPY --from=build /out/portcullis-controlplane /usr/local/bin/portcullis-controlplane

# Inside a container the admin API must listen on all interfaces so that the Service /
# port mapping reaches it, which the control plane accepts only with TLS. The paths are
# where the certificate is expected, not the certificate: the image holds no key.
ENV PORTCULLIS_LISTEN=0.0.0.0:8443 \
    PORTCULLIS_TLS_CERT_FILE=/etc/portcullis/tls/tls.crt \
    PORTCULLIS_TLS_KEY_FILE=/etc/portcullis/tls/tls.key

# 65532 is distroless' "nonroot"; numeric so that runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443

ENTRYPOINT ["/usr/local/bin/portcullis-controlplane"]
