#!/bin/bash
# make-corpus.sh - writes the committed seed corpora, tests/fuzz/corpus/
# (one folder a harness, small files), again from scratch.
#
# usage: tests/fuzz/make-corpus.sh BUILD_DIR      (make fuzz-corpus)
#
# Binary formats come from BUILD_DIR/tests/fuzz/gen_corpus: volume headers
# that sfs_volume_open created, names, symlink targets, xattrs and content
# blocks sealed under the fixed keys of fuzz_util.c, a state.json written
# by the plugin. Text formats come from here: the shipped config file and
# every setting, key command outputs, lines of this machine's
# /proc/self/mountinfo and scratchfs mount lines, and plugin sessions with
# the requests Docker and podman send (doc/scratchfs-volumed.8).
set -eu
cd "$(dirname "$0")/../.."
build=${1:?usage: $0 BUILD_DIR}
out=tests/fuzz/corpus
gen=$build/tests/fuzz/gen_corpus
[ -x "$gen" ] || { echo "$0: build $gen first (make fuzz-corpus)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
"$gen" "$out" 2>/dev/null

# seed HARNESS NAME: stdin to the seed file.
seed() {
	mkdir -p "$out/$1"
	cat >"$out/$1/$2"
}

# The config file: the shipped one, then each group and setting.
seed fuzz_config shipped <conf/scratchfs.conf
printf 'hbi_workspace = true;\ncipher = "auto";\nkey_source = "keyfile";\nkeyfile = "/etc/scratchfs/node.key";\n' |
	seed fuzz_config top
printf 'key_source = "keyring";\nkeyring_description = "scratchfs:node";\n' |
	seed fuzz_config keyring
printf 'key_source = "command";\nkey_command = ["/usr/bin/kms-unseal", "--id", "node-1"];\nkey_command_timeout = 30;\n' |
	seed fuzz_config command
printf 'fuse = {\n  max_threads = 16;\n  max_write = 0x100000;\n  cache_timeout = 2.5;\n  allow_other = false;\n  default_permissions = true;\n  writeback_cache = true;\n  xattrs = true;\n  io_uring = false;\n};\n' |
	seed fuzz_config fuse
printf 'fuse: { max_threads = 4294967304; };\n' | seed fuzz_config truncated-int
printf 'audit = { file = "/var/log/scratchfs/audit.log"; syslog = false; };\nwipe = { passes = 3; discard = true; };\n' |
	seed fuzz_config audit-wipe
printf 'volume_plugin = { socket = "/run/docker/plugins/scratchfs.sock"; root = "/var/lib/scratchfs-volumed"; };\n' |
	seed fuzz_config plugin
printf '@include "other.conf"\ncipher = "xchacha20poly1305";\n' | seed fuzz_config include
printf '\001hbi=1\nkey=keyfile:/etc/scratchfs/node.key\ncipher=auto\nkey=keyring\nhbi=no\nro\n' |
	seed fuzz_config options

# Key command output: raw, hex, hex and a newline.
head -c 32 /dev/urandom | seed fuzz_keyout raw
printf '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' |
	seed fuzz_keyout hex-newline
printf 'A0B1C2D3E4F5A6B7C8D9EAFB0C1D2E3F404142434445464748494A4B4C4D4E4F' |
	seed fuzz_keyout hex-upper

# mountinfo: this machine's first lines, and scratchfs mounts.
head -n 4 /proc/self/mountinfo | seed fuzz_mountinfo machine
printf '812 29 0:77 / /mnt/scratch rw,nosuid,nodev,relatime shared:420 - fuse.scratchfs /srv/scratch/backing rw,user_id=0,group_id=0,default_permissions\n' |
	seed fuzz_mountinfo scratchfs
printf '813 29 0:78 / /mnt/with\\040space\\011tab rw,relatime - fuse.scratchfs /srv/back\\134slash rw\n45 29 0:21 / /proc rw,nosuid - proc proc rw\n' |
	seed fuzz_mountinfo escapes
printf '900 812 0:79 / /var/lib/docker/volumes/x rw master:1 unbindable - fuse.scratchfs /var/lib/scratchfs-volumed/volumes/x/backing rw\n' |
	seed fuzz_mountinfo optional-fields

# Plugin sessions: requests separated by NUL bytes, "PATH\nBODY".
session() {
	local first=1
	for r in "$@"; do
		[ $first -eq 1 ] || printf '\0'
		printf '%s' "$r"
		first=0
	done
}
nl=$'\n'
session "/Plugin.Activate$nl" "/VolumeDriver.Capabilities$nl{}" \
	"/VolumeDriver.List$nl{}" | seed fuzz_plugin_api activate
session "/VolumeDriver.Create$nl{\"Name\":\"scratch1\",\"Opts\":{}}" \
	"/VolumeDriver.Get$nl{\"Name\":\"scratch1\"}" \
	"/VolumeDriver.Path$nl{\"Name\":\"scratch1\"}" \
	"/VolumeDriver.Remove$nl{\"Name\":\"scratch1\"}" | seed fuzz_plugin_api create-remove
session "/VolumeDriver.Create$nl{\"Name\":\"v2\",\"Opts\":{\"hbi\":\"0\",\"wipe\":\"on-remove\",\"uid\":\"1000\",\"gid\":\"1000\",\"mode\":\"0750\"}}" \
	"/VolumeDriver.List$nl{}" | seed fuzz_plugin_api create-opts
session "/VolumeDriver.Create$nl{\"Name\":\"v3\",\"Opts\":{\"key\":\"keyfile\"}}" \
	"/VolumeDriver.Mount$nl{\"Name\":\"v3\",\"ID\":\"0123456789abcdef\"}" \
	"/VolumeDriver.Unmount$nl{\"Name\":\"v3\",\"ID\":\"0123456789abcdef\"}" \
	"/VolumeDriver.Get$nl{\"Name\":\"nope\"}" | seed fuzz_plugin_api mount-unmount
session "/VolumeDriver.Create$nl{\"Name\":\"../x\"}" "/VolumeDriver.Nope$nl{}" \
	"/VolumeDriver.Create$nl[1,2]" | seed fuzz_plugin_api refused

echo "make-corpus: $(find "$out" -type f | wc -l) seeds, $(du -sk "$out" | cut -f1) KiB in $out"
