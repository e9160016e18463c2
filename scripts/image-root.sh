#!/bin/sh
# Assembles the whole file system of the runtime image in ROOT: the compiled binary, the C library
# files it links (as ldd names them, loader included), CA certificates, and a passwd/group naming
# the unprivileged user it runs as. The Dockerfile copies ROOT into a scratch image;
# tests/container.test.ts chroots into the same ROOT. Usage: scripts/image-root.sh ROOT BINARY
set -eu
root=$1
binary=$2
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot"
chmod 1777 "$root/tmp"
cp "$binary" "$root/usr/local/bin/parquet_compact"
# every absolute path ldd prints: the libraries and the loader (linux-vdso has none: the kernel maps it)
for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
  cp -L --parents "$lib" "$root/"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
chown 65532:65532 "$root/home/nonroot"
