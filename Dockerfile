# parquet_compact:latest: the compiled binary alone in an empty image (no shell, no package manager).
#
#   docker build -t parquet_compact:latest .
#   docker run --rm -e DATABASE_URL -e AWS_REGION parquet_compact:latest compact --chain-id 10143 ...
#
# docs/DEPLOY.md has the ECS task definition. tests/container.test.ts runs the same root
# (scripts/image-root.sh) with chroot against real Postgres and S3, since no engine runs in CI.

# Build: the same `make build` as on a workstation: npm ci, then bun build --compile.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends make ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN make build \
  && dist/parquet_compact --version \
  && sh scripts/image-root.sh /image dist/parquet_compact

# Run: the binary, the C library files it links (as ldd names them), CA certificates, passwd/group.
FROM scratch
COPY --from=build /image/ /
# Bun trusts its built-in roots; this adds the bundle, which an operator may replace (e.g. the RDS CA)
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  HOME=/home/nonroot
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/parquet_compact"]
# settings from PARQUET_COMPACT_* variables when the task gives no command
CMD ["compact"]
