/* sfs_plugin.h - scratchfs-volumed, the Docker volume plugin: volume
 * options, mount reference counts, the persistent state, mounting, the
 * volume lifecycle, the endpoint dispatcher and the HTTP server.
 *
 * Modules (tools/volumed/plugin_*.c), from the bottom up:
 *   plugin_opts.c     volume names and "-o" options (validation only)
 *   plugin_refs.c     per-(volume, ID) mount counts and the epoch rule
 *   plugin_state.c    volumes in memory and <root>/state.json on disk
 *   plugin_mount.c    starting, checking and stopping a scratchfs daemon
 *   plugin_backing.c  a volume's directories and their wipe
 *   plugin_volume.c   the lifecycle (Create, Mount, ...) with its locking
 *   plugin_api.c      one request body in, one JSON answer out
 *   plugin_socket.c   the listening unix socket
 *   plugin_http.c     libmicrohttpd on that socket
 *
 * Functions return 0 (or a count) on success and a negative errno on
 * failure; those taking err/err_len write a one-line message there that
 * names the volume or path and never contains key material.
 */
#ifndef SFS_PLUGIN_H
#define SFS_PLUGIN_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "sfs_keys.h"
#include "sfs_plugin_base.h"

struct sfs_audit;

/* Longest volume name; Docker's anonymous volumes use 64. */
#define SFS_PLUGIN_NAME_MAX 128U
/* Longest mount ID (Docker: 64 hex digits). */
#define SFS_PLUGIN_ID_MAX 256U
/* Largest request body accepted (bigger: HTTP 413 with an Err). */
#define SFS_PLUGIN_MAX_BODY (1024U * 1024U)
/* A connection that sends nothing for this long is closed, so that idle
 * ones cannot hold all the connection slots. The engine sends each request
 * at once and reconnects when a kept-alive connection was closed. */
#define SFS_PLUGIN_IDLE_TIMEOUT_S 10
/* Version of the state file layout. */
#define SFS_PLUGIN_STATE_VERSION 1
#define SFS_PLUGIN_STATE_FILE "state.json"
/* Content type of every answer (what docker/go-plugins-helpers uses). */
#define SFS_PLUGIN_CONTENT_TYPE "application/vnd.docker.plugins.v1.1+json"

/*
 * plugin_opts.c
 */

enum sfs_plugin_wipe {
	SFS_PLUGIN_WIPE_ON_UNMOUNT = 0, /* last Unmount wipes (hbi default) */
	SFS_PLUGIN_WIPE_ON_REMOVE = 1,	/* data kept until Remove */
};

/* A volume's settings, fixed at Create. */
struct sfs_plugin_opts {
	bool encrypted;		 /* option hbi */
	enum sfs_key_source key; /* SFS_KEY_NONE when !encrypted */
	enum sfs_plugin_wipe wipe;
	uid_t uid; /* owner of the volume root */
	gid_t gid;
	mode_t mode; /* permission bits of the volume root, <= 07777 */
};

/* True when name is a usable volume name: 1..SFS_PLUGIN_NAME_MAX bytes of
 * [A-Za-z0-9_.-], the first one a letter or digit (so never "." or ".."
 * and never a path). */
bool sfs_plugin_name_ok(const char *name);

/* True when id is a usable mount ID: 1..SFS_PLUGIN_ID_MAX printable ASCII
 * characters without spaces. */
bool sfs_plugin_id_ok(const char *id);

/* Fills o from the request's "Opts" (NULL, JSON null or an object of
 * strings) over the defaults encrypted_default and key_default: hbi=1|0,
 * key=ephemeral|keyfile, wipe=on-unmount|on-remove, uid=N, gid=N,
 * mode=OCTAL. Unknown or malformed options give -EINVAL and a message
 * naming the option; a bad key= value is never echoed (it could be a key
 * someone tried to pass). */
int sfs_plugin_opts_parse(const json_t *opts, bool encrypted_default,
			  enum sfs_key_source key_default,
			  struct sfs_plugin_opts *o, char *err, size_t err_len);

/* "on-unmount" or "on-remove". */
const char *sfs_plugin_wipe_name(enum sfs_plugin_wipe w);

/*
 * plugin_refs.c - who has a volume mounted.
 *
 * One entry per mount ID with a count: Docker sends Mount again for an ID
 * that is already mounted (docker cp into a running container) and balances
 * each Mount with one Unmount; podman uses one ID for all its users.
 *
 * Epochs (reclaiming references a crashed engine leaked): every
 * /Plugin.Activate starts a new epoch, and each entry remembers the epoch of
 * its last Mount. A dockerd that crashed never unmounts what its containers
 * had mounted; when it comes back it activates the plugin again and
 * re-mounts the containers it restarts with their old IDs. So, unless the
 * engine runs with --live-restore (where containers outlive the engine and
 * old entries are live), an entry from an older epoch is dead: a Mount of
 * its ID restarts its count at 1, and it is dropped as soon as no entry of
 * the current epoch remains.
 */

struct sfs_plugin_ref {
	char *id;	/* malloc'ed */
	uint64_t count; /* >= 1 */
	uint64_t epoch; /* of the last Mount of this ID */
};

struct sfs_plugin_refs {
	struct sfs_plugin_ref *v; /* malloc'ed array */
	size_t n;
	size_t cap;
};

/* Counts one Mount of id in epoch. With reset_old, an entry of an older
 * epoch restarts at 1. Returns the new count of id, or -ENOMEM (nothing
 * changed). */
int64_t sfs_plugin_refs_mount(struct sfs_plugin_refs *r, const char *id,
			      uint64_t epoch, bool reset_old);

/* Counts one Unmount of id: returns its remaining count (0: the entry is
 * gone) or -ENOENT when id holds no reference. */
int64_t sfs_plugin_refs_unmount(struct sfs_plugin_refs *r, const char *id);

/* Sum of all counts. */
uint64_t sfs_plugin_refs_total(const struct sfs_plugin_refs *r);

/* Sum of the counts of entries whose epoch is >= epoch. */
uint64_t sfs_plugin_refs_since(const struct sfs_plugin_refs *r, uint64_t epoch);

/* Drops every entry older than epoch; returns the sum of their counts. */
uint64_t sfs_plugin_refs_drop_before(struct sfs_plugin_refs *r, uint64_t epoch);

/* Sets an entry directly (loading state): -EINVAL for count 0 or a
 * duplicate id, -ENOMEM. */
int sfs_plugin_refs_set(struct sfs_plugin_refs *r, const char *id,
			uint64_t count, uint64_t epoch);

/* Frees every entry; r is empty and reusable afterwards. */
void sfs_plugin_refs_clear(struct sfs_plugin_refs *r);

/*
 * plugin_state.c - the volumes, in memory and in <root>/state.json.
 *
 * Not thread-safe: plugin_volume.c holds its lock around every call.
 */

struct sfs_plugin_vol {
	/* Persisted. */
	char name[SFS_PLUGIN_NAME_MAX + 1];
	struct sfs_plugin_opts opts;
	time_t created;
	bool mounted;	 /* a scratchfs mount is (believed) up */
	char cipher[32]; /* AEAD of the mounted volume; "" unknown */
	struct sfs_plugin_refs refs;

	/* Runtime only (plugin_volume.c). */
	pthread_mutex_t op_lock; /* serialises Create/Mount/Unmount/Remove of
				    this volume; taken before the plugin lock */
	unsigned int pins;	 /* threads using this struct; under the
				    plugin lock */
	/* Written with both op_lock and the plugin lock held, so either
	 * one is enough to read them. */
	bool removing; /* Remove in progress */
	bool gone;     /* removed from the state */
};

struct sfs_plugin_state {
	char path[PATH_MAX]; /* the state file */
	uint64_t epoch;	     /* bumped by every /Plugin.Activate */
	struct sfs_plugin_vol **vols;
	size_t n;
	size_t cap;
};

/* A new volume record (not in any state), or NULL when out of memory. */
struct sfs_plugin_vol *sfs_plugin_vol_new(const char *name,
					  const struct sfs_plugin_opts *o,
					  time_t created);
/* Frees v and its references; NULL is a no-op. */
void sfs_plugin_vol_free(struct sfs_plugin_vol *v);

/* Loads path into an empty state s (also records path for saving). A
 * missing file gives an empty state; anything unreadable, malformed, of an
 * unknown version or with invalid entries is -EINVAL (or the errno) with a
 * message naming the file: the plugin must not start on a state it cannot
 * trust (answering Get wrongly makes the engine forget volumes). */
int sfs_plugin_state_load(struct sfs_plugin_state *s, const char *path,
			  char *err, size_t err_len);
/* The same over the file's text (len bytes) already in memory; path is
 * recorded for saving and names the file in messages. */
int sfs_plugin_state_parse(struct sfs_plugin_state *s, const char *path,
			   const char *text, size_t len, char *err,
			   size_t err_len);

/* Writes the whole state atomically: PATH.tmp (0600), fsync, rename over
 * PATH, fsync of the directory. */
int sfs_plugin_state_save(const struct sfs_plugin_state *s, char *err,
			  size_t err_len);

/* The volume called name, or NULL. */
struct sfs_plugin_vol *sfs_plugin_state_find(const struct sfs_plugin_state *s,
					     const char *name);

/* Appends v (the state takes ownership): 0, -EEXIST, -ENOMEM. */
int sfs_plugin_state_add(struct sfs_plugin_state *s, struct sfs_plugin_vol *v);

/* Takes v out of the state (not freed). BUG when v is not in it. */
void sfs_plugin_state_del(struct sfs_plugin_state *s, struct sfs_plugin_vol *v);

/* Frees every volume and the array. */
void sfs_plugin_state_free(struct sfs_plugin_state *s);

/*
 * plugin_volume.c - the volume lifecycle.
 */

struct sfs_plugin_cfg {
	const char *root;	/* plugin state and volumes */
	const char *conf;	/* config file for scratchfs, NULL: none */
	const char *scratchfs;	/* the daemon binary (absolute) */
	bool encrypted_default; /* from the config file */
	enum sfs_key_source key_default;
	bool live_restore; /* never reclaim refs of older epochs */
	unsigned int mount_timeout_s;
	struct sfs_plugin_wipe_cfg wipe;
};

struct sfs_plugin {
	pthread_mutex_t lock; /* state, and every volume's fields except
				 op_lock; taken after a volume's op_lock */
	struct sfs_plugin_state state;
	char root[PATH_MAX];
	char conf[PATH_MAX]; /* "" none */
	char scratchfs[PATH_MAX];
	bool encrypted_default;
	enum sfs_key_source key_default;
	bool live_restore;
	unsigned int mount_timeout_s;
	struct sfs_plugin_wipe_cfg wipe;
};

/* Creates root (0700) and root/volumes when missing, loads the state and
 * reconciles it with the mounts that exist (a volume marked mounted whose
 * mount is gone, e.g. after a reboot, is marked unmounted). */
int sfs_plugin_open(struct sfs_plugin *p, const struct sfs_plugin_cfg *cfg,
		    char *err, size_t err_len);
/* Frees the in-memory state; mounts stay up. */
void sfs_plugin_close(struct sfs_plugin *p);

/* /Plugin.Activate: starts a new epoch (see plugin_refs.c above). */
int sfs_plugin_activate(struct sfs_plugin *p, char *err, size_t err_len);

/* Creates a volume (directories and state entry; nothing is mounted).
 * An existing name is success and keeps its original options, as the
 * engine expects (it never re-creates with new options). -EINVAL bad name
 * or options, -EBUSY while that name is being removed. */
int sfs_plugin_create(struct sfs_plugin *p, const char *name,
		      const json_t *opts, char *err, size_t err_len);

/* Unmounts (when mounted), wipes and deletes a volume. -ENOENT unknown,
 * -EBUSY while mount IDs of the current engine life hold it. */
int sfs_plugin_remove(struct sfs_plugin *p, const char *name, char *err,
		      size_t err_len);

/* Counts a Mount of id; the first one mounts. A mount whose daemon died is
 * cleaned up and replaced (an ephemeral volume's data is lost with its
 * key). Copies the mount point to mnt. */
int sfs_plugin_mount(struct sfs_plugin *p, const char *name, const char *id,
		     char *mnt, size_t mnt_len, char *err, size_t err_len);

/* Counts an Unmount of id (an unknown id is logged and succeeds); the last
 * one unmounts and, with wipe=on-unmount, wipes. */
int sfs_plugin_unmount(struct sfs_plugin *p, const char *name, const char *id,
		       char *err, size_t err_len);

/* The mount point while mounted, else "". -ENOENT unknown. */
int sfs_plugin_path(struct sfs_plugin *p, const char *name, char *mnt,
		    size_t mnt_len, char *err, size_t err_len);

/* The engine's "Volume" object {Name, Mountpoint, CreatedAt, Status} for
 * an existing volume (never an error: the engine forgets a volume whose
 * Get fails), NULL with -ENOENT in *rc for an unknown one (or -ENOMEM). */
json_t *sfs_plugin_get(struct sfs_plugin *p, const char *name, int *rc,
		       char *err, size_t err_len);

/* [{Name, Mountpoint}, ...] of every volume; NULL when out of memory. */
json_t *sfs_plugin_list(struct sfs_plugin *p);

/*
 * plugin_api.c
 */

/* Answers one request: path is the URL path ("/VolumeDriver.Create"),
 * body/len the raw request body (may be empty). Returns the JSON answer
 * (never NULL unless out of memory) and sets *status to the HTTP status:
 * 200, or 400 (malformed request), 404 (unknown endpoint) or 500 (the
 * operation failed), each error with {"Err": "..."}. */
json_t *sfs_plugin_handle(struct sfs_plugin *p, const char *path,
			  const char *body, size_t len, unsigned int *status);

/*
 * plugin_socket.c, plugin_http.c
 */

struct sfs_plugin_http;

/* Creates the unix socket at path (0600; parent directories 0755 when
 * missing) and listens. A stale socket file nobody answers on is replaced;
 * a live one (another plugin) or any other file is refused. Returns the fd
 * (close-on-exec) or -errno. */
int sfs_plugin_listen(const char *path, char *err, size_t err_len);

/* Serves HTTP/1.1 on the listening fd (owned by the server from now on)
 * with one thread per connection; every request goes to
 * sfs_plugin_handle(p, ...). NULL with a message on failure (fd closed). */
struct sfs_plugin_http *sfs_plugin_http_start(int fd, struct sfs_plugin *p,
					      char *err, size_t err_len);

/* Stops accepting, finishes the requests in flight, frees the server. */
void sfs_plugin_http_stop(struct sfs_plugin_http *h);

#endif
