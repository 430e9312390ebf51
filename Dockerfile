# The image templates/k8s/backup-cronjob.yaml runs: lockstep on Debian 12 (bookworm) with
# the shared libraries it links, /bin/sh for the CronJob's script, and a non-root user
# (65532, the CronJob's runAsUser). Build from the repository root:
#   docker build -t registry.example.com/lockstep:0.1.0 .
# The Swift runtime is linked statically, so the final stage needs only the C libraries;
# Tests/CLITests/TemplateTests.swift checks this list against the binary's DT_NEEDED.
ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libsodium-dev libhiredis-dev libcurl4-openssl-dev libpq-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift Package.resolved ./
RUN swift package resolve
COPY Sources Sources
RUN swift build -c release --product lockstep --static-swift-stdlib \
 && install -m 0755 .build/release/lockstep /usr/local/bin/lockstep
# kubectl (a static Go binary) for k8s: drift sources and rotations; checked against the
# published SHA-256.
ARG KUBECTL_VERSION=v1.31.4
RUN curl -fsSLo /usr/local/bin/kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl" \
 && echo "$(curl -fsSL "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl.sha256")  /usr/local/bin/kubectl" | sha256sum -c - \
 && chmod 0755 /usr/local/bin/kubectl

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libsodium23 libhiredis0.14 libcurl4 libpq5 libssl3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/lockstep /usr/local/bin/kubectl /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/lockstep"]
