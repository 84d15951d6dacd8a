/* status.c - the daemon's live status as a JSON document (served by ops.c
 * as the mount root's virtual attribute SFS_STATUS_XATTR). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_crypto.h"
#include "sfs_keys.h"
#include "sfs_log.h"
#include "sfs_status.h"
#include "sfs_uring.h"
#include "sfs_volume.h"

struct out {
	char *p;
	size_t cap, len;
	bool overflow;
};

static __attribute__((format(printf, 2, 3))) void put(struct out *o,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void put_u64(struct out *o, const char *name,
		    const atomic_uint_fast64_t *v)
{
	put(o, ",\"%s\":%llu", name, (unsigned long long)atomic_load(v));
}

/* A 16-byte id as a hex string, or null when it is all zero (no key id
 * for ephemeral and plain volumes). */
static void put_id(struct out *o, const char *name, const uint8_t *id)
{
	char hex[2 * SFS_KEY_ID_BYTES + 1];

	if (sfs_is_zero(id, SFS_KEY_ID_BYTES)) {
		put(o, ",\"%s\":null", name);
		return;
	}
	sfs_hex(hex, id, SFS_KEY_ID_BYTES);
	put(o, ",\"%s\":\"%s\"", name, hex);
}

ssize_t sfs_status_json(const struct sfs_fs *fs, char *buf, size_t size)
{
	_Static_assert(SFS_VOLUME_UUID_BYTES == SFS_KEY_ID_BYTES, "id size");
	char doc[SFS_STATUS_MAX];
	struct out o = {doc, sizeof(doc), 0, false};
	const struct sfs_volume_header *h = fs->volume;

	/* Every string below is hex or a fixed enum name: nothing needs
	 * escaping. */
	put(&o, "{\"version\":%d,\"pid\":%ld,\"mode\":\"%s\"",
	    SFS_STATUS_VERSION, (long)getpid(),
	    fs->encrypted ? "encrypted" : "plain");
	if (h) {
		put(&o, ",\"cipher\":\"%s\",\"key_source\":\"%s\"",
		    h->aead == SFS_AEAD_NONE ? "none" : sfs_aead_name(h->aead),
		    sfs_key_source_name(h->key_source));
		put_id(&o, "key_id", h->key_id);
		put_id(&o, "volume_id", h->uuid);
	}
	put_u64(&o, "read_ops", &fs->read_ops);
	put_u64(&o, "write_ops", &fs->write_ops);
	put_u64(&o, "bytes_read", &fs->bytes_read);
	put_u64(&o, "bytes_written", &fs->bytes_written);
	put_u64(&o, "integrity_failures", &fs->integrity_failures);
	put_u64(&o, "open_files", &fs->open_files);
	put(&o, ",\"audit_dropped\":%llu",
	    (unsigned long long)sfs_audit_dropped());
	put(&o, ",\"transport\":\"%s\",\"uring_requests\":%llu",
	    sfs_uring_active() ? "io_uring" : "dev_fuse",
	    (unsigned long long)sfs_uring_requests());
	put(&o, "}");
	if (o.overflow) {
		sfs_bug("status document over %u bytes", SFS_STATUS_MAX);
	}
	if (size == 0)
		return (ssize_t)o.len;
	if (size < o.len)
		return -ERANGE;
	memcpy(buf, doc, o.len);
	return (ssize_t)o.len;
}
