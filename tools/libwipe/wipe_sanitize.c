/* wipe_sanitize.c - the wipe record's "sanitization" object: the fields of
 * a certificate of sanitization (NIST SP 800-88 Rev. 1, Appendix G) that
 * apply to a scratchfs volume, and the backing filesystem and device it
 * lived on (see wipe_sanitize.h and scratchfs-wipe(8)). */
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_mountinfo.h"
#include "sfs_version.h"
#include "sfs_wipe.h"
#include "wipe_sanitize.h"

struct media_find {
	const char *path;
	char devno[16];
	size_t best; /* length of the longest mount point over path */
	struct sfs_wipe_report *r;
};

static int media_match(const struct sfs_mountinfo *mi, void *arg)
{
	struct media_find *m = arg;
	size_t n = strlen(mi->target);

	if (strcmp(mi->devno, m->devno) != 0 || n < m->best)
		return 0;
	if (strcmp(mi->target, "/") != 0 &&
	    (strncmp(m->path, mi->target, n) != 0 ||
	     (m->path[n] != '/' && m->path[n] != '\0')))
		return 0;
	m->best = n;
	snprintf(m->r->fstype, sizeof(m->r->fstype), "%s", mi->fstype);
	snprintf(m->r->device, sizeof(m->r->device), "%s", mi->source);
	return 0;
}

void sfs_wipe_media(struct sfs_wipe_report *r)
{
	struct media_find m = {.path = r->backing, .r = r};
	struct stat st;

	if (!r->backing[0] || lstat(r->backing, &st) != 0)
		return;
	snprintf(m.devno, sizeof(m.devno), "%u:%u", major(st.st_dev),
		 minor(st.st_dev));
	snprintf(r->devno, sizeof(r->devno), "%s", m.devno);
	sfs_mountinfo_each(SFS_MOUNTINFO, NULL, media_match, &m);
}

/* NIST's category for what this wipe did, and why. */
static const char *category(const struct sfs_wipe_report *r, const char **why)
{
	*why = "";
	switch (r->method) {
	case SFS_WIPE_CRYPTO_ERASE:
		if (r->key_source == SFS_KEY_EPHEMERAL &&
		    r->ephemeral_key_destroyed) {
			*why = "cryptographic erase: the volume key never "
			       "reached a disk and is gone with its daemon, "
			       "so every copy of the ciphertext, wherever it "
			       "remains, is unreadable";
			return "purge";
		}
		*why = "cryptographic erase of a wrapped key: the keyslot is "
		       "destroyed, but the node key survives, and a stale "
		       "copy of the keyslot in blocks the filesystem or the "
		       "device remapped would open the data with it; "
		       "destroying or rotating the node key once no volume "
		       "needs it makes this a purge";
		return "clear";
	case SFS_WIPE_OVERWRITE_DELETE:
		*why = "overwrite through the filesystem: journals, "
		       "copy-on-write filesystems and the device's remapped "
		       "blocks can keep older copies";
		return "clear";
	case SFS_WIPE_DELETE:
		*why = "delete only: not a sanitization method (plain volume, "
		       "no overwrite passes)";
		return "none";
	case SFS_WIPE_NOOP:
		break;
	}
	*why = "nothing was left to sanitize";
	return "none";
}

static const char *method_text(const struct sfs_wipe_report *r, char *buf,
			       size_t len)
{
	switch (r->method) {
	case SFS_WIPE_CRYPTO_ERASE:
		return "cryptographic erase, then delete";
	case SFS_WIPE_OVERWRITE_DELETE:
		snprintf(buf, len,
			 "overwrite (%u pass%s, the last one zeros), then "
			 "delete",
			 r->passes, r->passes == 1 ? "" : "es");
		return buf;
	case SFS_WIPE_DELETE:
		return "delete";
	case SFS_WIPE_NOOP:
		break;
	}
	return "none: already wiped";
}

/* Every copy of a key this volume had, and what became of it. */
static json_t *keys(const struct sfs_wipe_report *r, const char *volume_key,
		    const char *node_key, const char *daemon)
{
	json_t *a = json_array();
	char where[128];

	if (!a || !r->header_found || r->mode != SFS_MODE_ENCRYPTED)
		return a;
	snprintf(where, sizeof(where), "the daemon's memory: %s", daemon);
	json_array_append_new(a, json_pack("{s:s,s:s}", "copy",
					   "volume key in the memory of the "
					   "daemon (mlocked where the limits "
					   "allow)",
					   "fate", where));
	if (r->key_source == SFS_KEY_EPHEMERAL)
		return a;
	json_array_append_new(
	    a, json_pack("{s:s,s:s}", "copy",
			 "volume key wrapped in the header's keyslot "
			 "(.scratchfs/volume)",
			 "fate", volume_key));
	json_array_append_new(a, json_pack("{s:s,s:s}", "copy",
					   "node key (the key source)", "fate",
					   node_key));
	return a;
}

json_t *sfs_wipe_sanitization(const struct sfs_wipe_report *r,
			      const char *volume_key, const char *node_key,
			      const char *daemon)
{
	static const char *const not_covered[] = {
	    "plaintext in the page cache of the mount (freed with the mount, "
	    "not overwritten)",
	    "swap, if plaintext of the volume's users or an unlocked key "
	    "page was swapped out",
	    "blocks the backing device remapped or holds in reserve (SSD "
	    "wear levelling): a filesystem cannot reach them; only the "
	    "device's own sanitize command can",
	    "copies made by the volume's users elsewhere",
	};
	char method[96], host[256] = "", user[64] = "?";
	const char *why, *cat = category(r, &why);
	struct passwd *pw = getpwuid(geteuid());
	json_t *nc = json_array(), *o;

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	if (pw)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	for (size_t i = 0; nc && i < sizeof(not_covered) / sizeof(*not_covered);
	     i++)
		json_array_append_new(nc, json_string(not_covered[i]));
	/* "o" steals the arrays and objects, also when it fails. */
	o = json_pack(
	    "{s:s,s:{s:s,s:s,s:o,s:o,s:o,s:o,s:s},s:{s:I,s:s},s:s,s:s,s:s,"
	    "s:{s:s,s:s,s:s},s:s,s:o,s:{s:s,s:s},s:s,s:s,s:s,s:o}",
	    "standard", "NIST SP 800-88 Rev. 1, Appendix G", "media", "type",
	    "scratchfs volume: the files of a backing directory", "volume_id",
	    r->volume_id, "backing", sfs_audit_string(r->backing), "filesystem",
	    sfs_audit_string(r->fstype), "device", sfs_audit_string(r->device),
	    "device_number", sfs_audit_string(r->devno), "node", host,
	    "performed_by", "uid", (json_int_t)geteuid(), "user", user,
	    "method_type", cat, "method",
	    method_text(r, method, sizeof(method)), "method_note", why, "tool",
	    "name", program_invocation_short_name, "engine",
	    "scratchfs wipe engine (libsfswipe)", "version", SFS_VERSION,
	    "key_source",
	    r->header_found ? sfs_key_source_name(r->key_source) : "unknown",
	    "keys", keys(r, volume_key, node_key, daemon), "verification",
	    "method",
	    "full: no mount of the volume, no daemon, no header or keyslot, "
	    "nothing left but an empty .scratchfs/",
	    "result", r->verified ? "pass" : "fail", "started", r->started,
	    "ended", r->time, "destination",
	    r->verified ? "the backing directory holds only an empty "
			  ".scratchfs/ (the tombstone) and can be reused"
			: "not verified: see error",
	    "not_covered", nc);
	return o;
}
