/* sfs_audit.h - the audit trail: one JSON object per line (mount, unmount,
 * wipe, key creation and destruction, integrity failures) appended to a
 * file and/or sent to syslog (LOG_AUTHPRIV). Records carry volume ids,
 * inode and block numbers, the backing directory and mount point; never
 * key bytes, never names or data inside a volume.
 */
#ifndef SFS_AUDIT_H
#define SFS_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfs_log.h"

struct sfs_audit;

/* Opens a sink. file: absolute path of the log (created 0600 with
 * O_APPEND|O_NOFOLLOW, its parent directory 0750 when missing; one level
 * only) or NULL/"" for none; use_syslog: also send each record to syslog.
 * With neither, records are dropped (a valid, empty sink). prog names the
 * writer ("scratchfs", "scratchfs-wipe", ...) in every record. Returns 0
 * or -errno with a message naming the file. */
int sfs_audit_open(struct sfs_audit **out, const char *file, bool use_syslog,
		   const char *prog, char *err, size_t err_len);
/* Reopens the sink's file by its name (after logrotate moved it away):
 * the new descriptor replaces the old one atomically (dup3), so threads
 * writing at the same time lose no record. 0 (also with no file), or
 * -errno with a message; the old file stays in use then. */
int sfs_audit_reopen(struct sfs_audit *a, char *err, size_t err_len);

/* Closes the sink; NULL is a no-op. Clears the global sink if it is a. */
void sfs_audit_close(struct sfs_audit *a);

/* Where a record goes when none of the configured sinks takes it (syslog
 * absent, the file failing). */
#define SFS_AUDIT_FALLBACK SFS_LOG_FALLBACK_DIR "/audit.log"

/* Writes one record {"time","event","prog","pid","host", ...fields} as a
 * single write(2) (so concurrent writers never interleave lines) to each
 * configured sink. A sink that fails is logged once; a record that no
 * configured sink took goes to SFS_AUDIT_FALLBACK, and one that cannot go
 * there either is counted (sfs_audit_dropped). fields is a JSON object or
 * NULL; the reference is stolen (also on failure). a may be NULL (no-op,
 * 0). Returns 0, or -errno when the configured file's write failed; a
 * record that reached no sink at all is logged and counted, not an error
 * of the caller's. */
int sfs_audit_write(struct sfs_audit *a, const char *event, json_t *fields);

/* Records this process could deliver nowhere. */
uint64_t sfs_audit_dropped(void);

/* A new record object holding the common fields, in this order: "time"
 * (time, or now when NULL), "event", "prog" (the sink's, else the program
 * name), "pid", "host". NULL on allocation failure. */
json_t *sfs_audit_record(const struct sfs_audit *a, const char *event,
			 const char *time);

/* Appends one finished record (a JSON object, as made with
 * sfs_audit_record); a may be NULL. Returns 0 or -errno as above. */
int sfs_audit_write_record(struct sfs_audit *a, const json_t *rec);

/* The process-wide sink the driver's layers report to (fs/store/events.c), with
 * the volume id of this daemon's volume ("" unknown). Not owned: close it
 * after clearing with sfs_audit_set_global(NULL, NULL). */
void sfs_audit_set_global(struct sfs_audit *a, const char *volume_id);

struct sfs_volume_header;

/* The daemon's records. sfs_audit_mount: "mount" (volume id, backing,
 * mount point, mode, cipher, key source, new_volume) and, when the mount
 * made a key (every ephemeral mount; a new wrapped volume), "key_create".
 * sfs_audit_unmount, called after the keys are wiped from memory:
 * "unmount" and, for an ephemeral volume, "key_destroy" (the volume is now
 * crypto-erased). Failures to write are logged, not returned. */
void sfs_audit_mount(struct sfs_audit *a, const struct sfs_volume_header *h,
		     const char *backing, const char *mountpoint, bool created);
void sfs_audit_unmount(struct sfs_audit *a, const struct sfs_volume_header *h,
		       const char *backing, const char *mountpoint);

/* An integrity failure on the global sink: volume id, backing inode, block
 * (SFS_NO_BLOCK: omitted) and a fixed description (never a name). */
void sfs_audit_integrity(uint64_t ino, uint64_t block, const char *what);

/* A JSON string for text from outside (paths, process names): as is when
 * it is valid UTF-8, else with every byte >= 0x80 replaced by '?' (so a
 * record never fails or turns invalid over an odd name). NULL gives "". */
json_t *sfs_audit_string(const char *s);

/* Current time as RFC 3339 UTC with milliseconds, e.g.
 * "2024-05-01T12:00:00.123Z" (buf >= 32 bytes). */
void sfs_audit_timestamp(char *buf, size_t len);

#endif
