#!/bin/sh
# Installs the Debian packages scratchfs builds, tests and runs with, when any
# is missing. Quiet and quick when everything is there. The second group
# are the real programs tests/compat runs on the mount (tar, gzip,
# coreutils, util-linux and the rest are essential packages).
set -eu
PKGS="gcc make pkg-config libfuse3-dev fuse3 libsodium-dev libssl-dev libconfig-dev
libcriterion-dev attr e2fsprogs libjansson-dev libkeyutils-dev
libmicrohttpd-dev liburing-dev docker.io busybox-static podman runc
rsync zip unzip bzip2 xz-utils zstd sqlite3 git python3 python3-venv
python3-pip python3-setuptools python3-wheel libpython3.11-testsuite
slurm-wlm libslurm-dev munge
python3-nacl python3-cryptography
clang libclang-rt-dev clang-format"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "scratchfs: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "scratchfs: installing missing packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
