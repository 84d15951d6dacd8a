/* report.c - the wipe engine's record: method names and the JSON report. */
#include "sfs_audit.h"
#include "sfs_wipe.h"
#include "wipe_sanitize.h"

const char *sfs_wipe_method_name(enum sfs_wipe_method m)
{
	switch (m) {
	case SFS_WIPE_CRYPTO_ERASE:
		return "crypto-erase";
	case SFS_WIPE_OVERWRITE_DELETE:
		return "overwrite+delete";
	case SFS_WIPE_DELETE:
		return "delete";
	case SFS_WIPE_NOOP:
		break;
	}
	return "none";
}

/*
 * The record
 */

static const char *daemon_fate(const struct sfs_wipe_report *r)
{
	switch (r->daemon) {
	case SFS_WIPE_DAEMON_EXITED:
		return "exited after unmount";
	case SFS_WIPE_DAEMON_TERMINATED:
		return "did not exit after unmount: stopped with SIGTERM";
	case SFS_WIPE_DAEMON_KILLED:
		return "did not stop: killed with SIGKILL";
	case SFS_WIPE_DAEMON_RUNNING:
		return "still running";
	case SFS_WIPE_DAEMON_NONE:
		break;
	}
	return "none running";
}

static const char *key_text(const struct sfs_wipe_report *r)
{
	if (r->already_wiped)
		return "none left";
	if (!r->header_found)
		return r->header_destroyed ? "unreadable header overwritten, "
					     "fsynced and unlinked"
					   : "no header found";
	if (r->mode == SFS_MODE_PLAIN)
		return "none (plain volume): header overwritten and unlinked";
	if (r->key_source == SFS_KEY_EPHEMERAL)
		return !r->ephemeral_key_destroyed ? "ephemeral: not destroyed"
		       : r->daemon != SFS_WIPE_DAEMON_NONE
			   ? "ephemeral: existed only in the daemon's memory; "
			     "the daemon has exited"
		       : r->was_mounted && !r->stale
			   ? "ephemeral: existed only in the daemon's memory; "
			     "no daemon was visible to this wipe (another "
			     "user's?), the unmount ends it"
			   : "ephemeral: existed only in the memory of a "
			     "daemon that had already exited";
	return r->keyslot_destroyed ? "keyslot (wrapped volume key) "
				      "overwritten with random bytes then "
				      "zeros, fsynced, unlinked"
				    : "keyslot: not destroyed";
}

static const char *node_key_text(const struct sfs_wipe_report *r)
{
	if (!r->header_found || r->mode != SFS_MODE_ENCRYPTED ||
	    r->key_source == SFS_KEY_EPHEMERAL)
		return "not used";
	return "kept: the node key is shared by other volumes and is not "
	       "this volume's to destroy; without the keyslot it opens "
	       "nothing here";
}

/* Milliseconds rounded to whole microseconds, for readable records. */
static double us(double ms)
{
	return ms <= 0 ? 0.0 : (double)(long long)(ms * 1000.0 + 0.5) / 1000.0;
}

char *sfs_wipe_report_json(const struct sfs_wipe_report *r)
{
	json_t *rec =
	    sfs_audit_record(NULL, "wipe", r->time[0] ? r->time : NULL);
	json_t *holders = json_array(), *destroyed, *ver, *main, *times;
	char *out = NULL;
	int rc = 0;

	if (!rec || !holders)
		goto out;
	for (int i = 0; i < r->n_holders; i++)
		rc |= json_array_append_new(
		    holders,
		    json_pack("{s:i,s:o}", "pid", r->holders[i].pid, "comm",
			      sfs_audit_string(r->holders[i].comm)));
	destroyed = json_pack(
	    "{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:i,s:I,s:I,s:b,s:o}", "key",
	    key_text(r), "node_key", node_key_text(r), "keyring",
	    "not used: scratchfs keeps no per-volume keyring entries", "header",
	    r->header_destroyed, "files", (json_int_t)r->files_deleted, "dirs",
	    (json_int_t)r->dirs_deleted, "bytes", (json_int_t)r->bytes_deleted,
	    "bytes_overwritten", (json_int_t)r->bytes_overwritten, "passes",
	    (int)r->passes, "mounts_detached", (json_int_t)r->mounts_detached,
	    "mounts_skipped", (json_int_t)r->mounts_skipped, "discarded",
	    r->discarded, "discard_note", sfs_audit_string(r->discard_note));
	ver = json_pack("{s:b,s:b,s:b}", "not_mounted", r->verify_not_mounted,
			"no_key_material", r->verify_no_key, "no_files",
			r->verify_no_files);
	/* "o" steals holders, destroyed and ver, also when it fails. */
	main = json_pack(
	    "{s:s,s:o,s:o,s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:O,s:s,"
	    "s:o*,s:b,s:o*}",
	    "volume_id", r->volume_id, "backing", sfs_audit_string(r->backing),
	    "mountpoint", sfs_audit_string(r->mountpoint), "mode",
	    !r->header_found		    ? "unknown"
	    : r->mode == SFS_MODE_ENCRYPTED ? "encrypted"
					    : "plain",
	    "key_source",
	    r->header_found ? sfs_key_source_name(r->key_source) : "unknown",
	    "method", sfs_wipe_method_name(r->method), "refused", r->refused,
	    "already_wiped", r->already_wiped, "half_wiped", r->half_wiped,
	    "was_mounted", r->was_mounted, "stale", r->stale, "lazy",
	    r->lazy_detached, "holders", holders, "daemon", daemon_fate(r),
	    "destroyed", destroyed, "verified", r->verified, "verification",
	    ver);
	times = json_pack(
	    "{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:o}", "resolve_ms",
	    us(r->resolve_ms), "unmount_ms", us(r->unmount_ms), "erase_ms",
	    us(r->erase_ms), "overwrite_ms", us(r->overwrite_ms), "delete_ms",
	    us(r->delete_ms), "discard_ms", us(r->discard_ms), "verify_ms",
	    us(r->verify_ms), "total_ms", us(r->total_ms), "note",
	    sfs_audit_string(r->note), "error", sfs_audit_string(r->error));
	if (!destroyed || !ver || !main || !times)
		rc = -1;
	rc |= json_object_update_new(rec, main);
	rc |= json_object_update_new(rec, times);
	rc |= json_object_set_new(rec, "sanitization",
				  sfs_wipe_sanitization(r, key_text(r),
							node_key_text(r),
							daemon_fate(r)));
	if (rc == 0)
		out = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(12));
out:
	json_decref(holders);
	json_decref(rec);
	return out;
}
