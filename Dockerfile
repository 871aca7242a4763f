# syntax=docker/dockerfile:1
# Two images: "agent" (calico-vpp-agent, felix-proxy, cni-plugin,
# calivppctl) and "vpp" (vpp-manager plus VPP 25.10 from FD.io's release
# packages). Build with `make images`.

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN make build VERSION=${VERSION} CGO_ENABLED=0

FROM gcr.io/distroless/static-debian12 AS agent
ARG VERSION=dev
LABEL org.opencontainers.image.title="calico-vpp agent" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /src/bin/calico-vpp-agent /src/bin/calivppctl /src/bin/calico-vpp-cni /src/bin/felix-proxy /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/calico-vpp-agent"]

FROM ubuntu:24.04 AS vpp
ARG VERSION=dev
ARG VPP_VERSION=25.10
LABEL org.opencontainers.image.title="calico-vpp vpp" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates gnupg iproute2 kmod \
 && curl -fsSL https://packagecloud.io/fdio/2510/gpgkey | gpg --dearmor -o /usr/share/keyrings/fdio.gpg \
 && echo "deb [signed-by=/usr/share/keyrings/fdio.gpg] https://packagecloud.io/fdio/2510/ubuntu noble main" > /etc/apt/sources.list.d/fdio.list \
 && apt-get update && apt-get install -y --no-install-recommends vpp vpp-plugin-core vpp-plugin-dpdk \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/vpp-manager /src/bin/calivppctl /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/vpp-manager"]
