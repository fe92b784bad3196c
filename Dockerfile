# syntax=docker/dockerfile:1
# The etcdbak image for Docker or BuildKit users:
#   docker build -t ghcr.io/etcdbak/etcdbak:0.1.0 .
#
# This file cannot be built on the machines this project is tested on (no base image can be pulled there), so
# CI builds the same image offline with scripts/image (Debian's umoci). The two must stay equivalent: the same
# static binary at /usr/local/bin/etcdbak, the same /etc files, user, entrypoint, environment and labels. A
# change here needs the same change there, and the other way round.

# Bookworm: the same Debian (glibc 2.36, ca-certificates) scripts/image builds on.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Static glibc: the final image has no libc. glibc >= 2.34 has the files and dns NSS modules built in, so
# name resolution needs no libnss_*.so. --target keeps RUSTFLAGS off build scripts and proc macros.
RUN target="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$target" --bin etcdbak \
 && install -D -m 0755 "target/$target/release/etcdbak" /out/usr/local/bin/etcdbak \
 && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt \
 && mkdir -p /out/tmp /out/home/nonroot && chmod 1777 /out/tmp && chown 65532:65532 /out/home/nonroot \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/out/etc/group \
 && printf 'hosts: files dns\n' >/out/etc/nsswitch.conf

FROM scratch
ARG REVISION=unknown
COPY --from=build /out/ /
USER 65532:65532
WORKDIR /
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="etcdbak" \
      org.opencontainers.image.description="Keeps etcd clusters backed up: snapshots to S3, retention, a Kubernetes controller and a guided restore" \
      org.opencontainers.image.source="https://github.com/etcdbak/etcdbak" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["etcdbak"]
