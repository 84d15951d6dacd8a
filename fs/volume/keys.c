/* keys.c - node master key providers: key file, kernel keyring, command. */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_keys.h"
#include "sfs_log.h"
#include "sfs_sys.h"

extern char **environ;

const char *sfs_key_source_name(enum sfs_key_source s)
{
	switch (s) {
	case SFS_KEY_NONE:
		return "none";
	case SFS_KEY_EPHEMERAL:
		return "ephemeral";
	case SFS_KEY_KEYFILE:
		return "keyfile";
	case SFS_KEY_KEYRING:
		return "keyring";
	case SFS_KEY_COMMAND:
		return "command";
	}
	return "unknown";
}

void sfs_key_spec_defaults(struct sfs_key_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->source = SFS_KEY_EPHEMERAL;
	snprintf(spec->keyfile, sizeof(spec->keyfile), "%s",
		 SFS_DEFAULT_KEYFILE);
	snprintf(spec->keyring_desc, sizeof(spec->keyring_desc), "%s",
		 SFS_DEFAULT_KEYRING_DESC);
	spec->command_timeout = SFS_DEFAULT_KEY_COMMAND_TIMEOUT;
}

/* A spec built by hand with memset may leave these empty: use defaults. */
static const char *keyring_desc(const struct sfs_key_spec *spec)
{
	return spec->keyring_desc[0] ? spec->keyring_desc
				     : SFS_DEFAULT_KEYRING_DESC;
}

static unsigned int command_timeout(const struct sfs_key_spec *spec)
{
	return spec->command_timeout ? spec->command_timeout
				     : SFS_DEFAULT_KEY_COMMAND_TIMEOUT;
}

static const char *file_type(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symlink";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* Checks that a key file or key command (what, at path; st its stat) is a
 * regular file, has none of the mode bits bad ("how by group or others":
 * chmod fix) and, when we are root, is owned by root: one someone else owns
 * could have been planted. 0, or -EINVAL / -EPERM with a message. */
static int check_trusted(const struct stat *st, const char *what,
			 const char *path, mode_t bad, const char *how,
			 const char *fix, char *err, size_t err_len)
{
	if (!S_ISREG(st->st_mode)) {
		sfs_set_err(err, err_len, "%s %s is %s", what, path,
			    file_type(st->st_mode));
		return -EINVAL;
	}
	if (st->st_mode & bad) {
		sfs_set_err(err, err_len,
			    "%s %s is %s by group or others (mode %04o): "
			    "chmod %s %s",
			    what, path, how,
			    (unsigned int)(st->st_mode & 07777), fix, path);
		return -EPERM;
	}
	if (geteuid() == 0 && st->st_uid != 0) {
		sfs_set_err(err, err_len,
			    "%s %s is owned by uid %u, not root: chown root %s",
			    what, path, (unsigned int)st->st_uid, path);
		return -EPERM;
	}
	return 0;
}

/* The directory that contains path (absolute) into dir: "/" for "/x".
 * Returns the last '/' of path. */
static const char *parent_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');

	snprintf(dir, PATH_MAX, "%.*s", slash == path ? 1 : (int)(slash - path),
		 path);
	return slash;
}

/* Opens dir for fsync, creating it (0700, one level only) when missing.
 * Returns an fd or -errno. */
static int open_parent(const char *dir, const char *path, char *err,
		       size_t err_len)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd >= 0 || errno != ENOENT)
		goto out;
	if (mkdir(dir, 0700) == 0) {
		char up[PATH_MAX];

		/* Make the new directory itself durable too. */
		parent_of(dir, up);
		rc = sfs_fsync_dir_at(AT_FDCWD, up);
		if (rc) {
			sfs_set_err(
			    err, err_len,
			    "cannot create key file %s: fsync parent of "
			    "%s: %s",
			    path, dir, strerror(-rc));
			return rc;
		}
	} else if (errno != EEXIST) {
		rc = -errno;
		sfs_set_err(err, err_len,
			    "cannot create key file %s: mkdir %s: %s", path,
			    dir, strerror(-rc));
		return rc;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
out:
	if (fd < 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "cannot create key file %s: %s: %s",
			    path, dir, strerror(-rc));
		return rc;
	}
	return fd;
}

int sfs_keyfile_create(const char *path, const uint8_t key[SFS_KEY_BYTES],
		       char *err, size_t err_len)
{
	const char *slash;
	char dir[PATH_MAX];
	int dfd, fd, rc = 0;

	if (path[0] != '/') {
		sfs_set_err(err, err_len, "key file %s: path must be absolute",
			    path);
		return -EINVAL;
	}
	slash = parent_of(path, dir);
	dfd = open_parent(dir, path, err, err_len);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, slash + 1,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		if (rc != -EEXIST)
			sfs_set_err(err, err_len,
				    "cannot create key file %s: %s", path,
				    strerror(-rc));
		close(dfd);
		return rc;
	}
	rc = sfs_write_full(fd, key, SFS_KEY_BYTES);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && fsync(dfd) != 0)
		rc = -errno;
	if (rc) {
		sfs_set_err(err, err_len, "cannot write key file %s: %s", path,
			    strerror(-rc));
		/* A short key file would be refused forever; remove it. */
		unlinkat(dfd, slash + 1, 0);
	}
	close(dfd);
	return rc;
}

/* Checks an opened key file and reads it into key. */
static int read_key_file(int fd, const char *path, uint8_t *key, char *err,
			 size_t err_len)
{
	struct stat st;
	ssize_t n;
	int rc;

	if (fstat(fd, &st) != 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "key file %s: %s", path,
			    strerror(-rc));
		return rc;
	}
	rc = check_trusted(&st, "key file", path, 077, "accessible", "600", err,
			   err_len);
	if (rc)
		return rc;
	if (st.st_size != SFS_KEY_BYTES) {
		sfs_set_err(err, err_len,
			    "key file %s has %lld bytes, expected %u", path,
			    (long long)st.st_size, SFS_KEY_BYTES);
		return -EINVAL;
	}
	/* pread(2), not stdio: no copies of the key in stdio buffers. */
	n = sfs_pread_full(fd, key, SFS_KEY_BYTES, 0);
	if (n < 0) {
		sfs_set_err(err, err_len, "cannot read key file %s: %s", path,
			    strerror((int)-n));
		return (int)n;
	}
	if (n < (ssize_t)SFS_KEY_BYTES) {
		sfs_set_err(err, err_len, "key file %s shrank while being read",
			    path);
		return -EIO;
	}
	return 0;
}

/* The key file provider: loads spec->keyfile into key (secret memory),
 * creating the file when it is missing (unless spec->no_create). */
static int keyfile_load(const struct sfs_key_spec *spec, uint8_t *key,
			char *err, size_t err_len)
{
	const char *path = spec->keyfile;
	int fd, rc;

	if (strnlen(path, sizeof(spec->keyfile)) == sizeof(spec->keyfile)) {
		sfs_set_err(err, err_len, "key file path is too long");
		return -ENAMETOOLONG;
	}
	if (path[0] != '/') {
		sfs_set_err(err, err_len, "key file %s: path must be absolute",
			    path);
		return -EINVAL;
	}
	/* Two rounds at most: a lost creation race sends us back to read. */
	for (int round = 0; round < 2; round++) {
		/* O_NONBLOCK: a FIFO planted here must not hang the mount. */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			rc = read_key_file(fd, path, key, err, err_len);
			close(fd);
			return rc;
		}
		rc = -errno;
		if (rc == -ELOOP) {
			sfs_set_err(
			    err, err_len,
			    "key file %s is a symlink; refusing to follow "
			    "it",
			    path);
			return rc;
		}
		if (rc != -ENOENT) {
			sfs_set_err(err, err_len, "cannot open key file %s: %s",
				    path, strerror(-rc));
			return rc;
		}
		if (spec->no_create) {
			sfs_set_err(err, err_len, "key file %s does not exist",
				    path);
			return -ENOKEY;
		}
		/* Missing: create it. The key is generated straight into
		 * secret memory and written from there. */
		sfs_random(key, SFS_KEY_BYTES);
		rc = sfs_keyfile_create(path, key, err, err_len);
		if (rc != -EEXIST)
			return rc;
	}
	sfs_set_err(err, err_len, "key file %s: keeps appearing and vanishing",
		    path);
	return -EAGAIN;
}

/*
 * The keyring provider: a "user" key in the user keyring (@u) of our uid.
 */

/* Owner-only: a systemd service has a private session keyring that does not
 * link @u, so it does not "possess" the key and needs the user bits. */
#define KEYRING_PERM (KEY_POS_ALL | KEY_USR_ALL)

int sfs_keyring_desc_check(const char *desc, char *why, size_t why_len)
{
	size_t len = strnlen(desc, SFS_KEYRING_DESC_MAX + 1);

	if (len == 0 || len > SFS_KEYRING_DESC_MAX) {
		sfs_set_err(why, why_len, "must be 1..%u characters long",
			    SFS_KEYRING_DESC_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		/* Printable, no spaces: it shows up in /proc/keys and in
		 * `keyctl` commands an operator types. */
		if (desc[i] <= ' ' || desc[i] > '~') {
			sfs_set_err(why, why_len,
				    "may hold only printable ASCII characters "
				    "without spaces");
			return -EINVAL;
		}
	}
	return 0;
}

/* Finds the key desc in @u. Returns its serial or -errno (-ENOKEY when
 * there is none, -EKEYREVOKED / -EKEYEXPIRED for a dead one). */
static long keyring_find(const char *desc)
{
	long id = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);

	return id < 0 ? -errno : id;
}

static int keyring_err(const char *desc, int rc, const char *what, char *err,
		       size_t err_len)
{
	switch (rc) {
	case -EKEYREVOKED:
		sfs_set_err(
		    err, err_len,
		    "keyring key %s was revoked: the volumes wrapped under "
		    "it cannot be opened any more; wipe them (a new key "
		    "is created once the revoked one is gone: keyctl "
		    "unlink it from @u)",
		    desc);
		break;
	case -EKEYEXPIRED:
		sfs_set_err(
		    err, err_len,
		    "keyring key %s has expired: the volumes wrapped under "
		    "it cannot be opened any more; wipe them",
		    desc);
		break;
	case -ENOSYS:
	case -EPERM:
		sfs_set_err(err, err_len,
			    "keyring key %s: %s: %s (is the kernel keyring "
			    "available here? containers often block keyctl)",
			    desc, what, strerror(-rc));
		break;
	default:
		sfs_set_err(err, err_len, "keyring key %s: %s: %s", desc, what,
			    strerror(-rc));
	}
	return rc;
}

/* Reads key id (desc) into key, which must hold exactly SFS_KEY_BYTES. */
static int keyring_read(long id, const char *desc, uint8_t *key, char *err,
			size_t err_len)
{
	/* Straight into secret memory: keyctl_read_alloc would malloc. */
	long n = keyctl_read((key_serial_t)id, (char *)key, SFS_KEY_BYTES);

	if (n < 0)
		return keyring_err(desc, -errno, "cannot read it", err,
				   err_len);
	if (n != SFS_KEY_BYTES) {
		sfs_wipe(key, SFS_KEY_BYTES);
		sfs_set_err(
		    err, err_len,
		    "keyring key %s holds %ld bytes, expected %u (not a "
		    "scratchfs node key?)",
		    desc, n, SFS_KEY_BYTES);
		return -EINVAL;
	}
	return 0;
}

/* Creates desc in @u holding key unless it exists: -EEXIST then. Atomic:
 * the key is made in our thread keyring and moved with KEYCTL_MOVE_EXCL,
 * so a concurrent creator never has its key replaced (add_key into @u
 * would silently update an existing key: another volume's key lost). */
static int keyring_create_excl(const char *desc, const uint8_t *key, char *err,
			       size_t err_len)
{
	key_serial_t id;
	int rc = 0;

	id = add_key("user", desc, key, SFS_KEY_BYTES, KEY_SPEC_THREAD_KEYRING);
	if (id < 0)
		return keyring_err(desc, -errno, "cannot create it", err,
				   err_len);
	if (keyctl_setperm(id, KEYRING_PERM) < 0 ||
	    keyctl_move(id, KEY_SPEC_THREAD_KEYRING, KEY_SPEC_USER_KEYRING,
			KEYCTL_MOVE_EXCL) < 0)
		rc = -errno;
	if (rc) {
		keyctl_invalidate(id);
		if (rc != -EEXIST)
			keyring_err(desc, rc,
				    "cannot add it to the user keyring", err,
				    err_len);
	}
	return rc;
}

static int keyring_load(const struct sfs_key_spec *spec, uint8_t *key,
			char *err, size_t err_len)
{
	const char *desc = keyring_desc(spec);
	char why[128];
	long id;
	int rc;

	if (sfs_keyring_desc_check(desc, why, sizeof(why))) {
		sfs_set_err(err, err_len, "keyring description \"%.64s\": %s",
			    desc, why);
		return -EINVAL;
	}
	/* Two rounds at most: a lost creation race sends us back to read. */
	for (int round = 0; round < 2; round++) {
		id = keyring_find(desc);
		if (id >= 0)
			return keyring_read(id, desc, key, err, err_len);
		if (id != -ENOKEY)
			return keyring_err(desc, (int)id, "cannot look it up",
					   err, err_len);
		if (spec->no_create) {
			sfs_set_err(
			    err, err_len,
			    "keyring key %s is not in the user keyring of "
			    "uid %u",
			    desc, (unsigned int)geteuid());
			return -ENOKEY;
		}
		sfs_random(key, SFS_KEY_BYTES);
		rc = keyring_create_excl(desc, key, err, err_len);
		if (rc != -EEXIST)
			return rc;
		sfs_wipe(key, SFS_KEY_BYTES);
	}
	sfs_set_err(err, err_len,
		    "keyring key %s: keeps appearing and vanishing", desc);
	return -EAGAIN;
}

int sfs_keyring_store(const char *desc, const uint8_t key[SFS_KEY_BYTES],
		      char *err, size_t err_len)
{
	char why[128];
	long id;

	if (sfs_keyring_desc_check(desc, why, sizeof(why))) {
		sfs_set_err(err, err_len, "keyring description \"%.64s\": %s",
			    desc, why);
		return -EINVAL;
	}
	id = keyring_find(desc);
	if (id >= 0) {
		if (keyctl_update((key_serial_t)id, key, SFS_KEY_BYTES) < 0)
			return keyring_err(desc, -errno, "cannot update it",
					   err, err_len);
		return 0;
	}
	/* Missing or dead: add_key displaces a revoked key of that name. */
	id = add_key("user", desc, key, SFS_KEY_BYTES, KEY_SPEC_USER_KEYRING);
	if (id < 0)
		return keyring_err(desc, -errno, "cannot create it", err,
				   err_len);
	if (keyctl_setperm((key_serial_t)id, KEYRING_PERM) < 0)
		return keyring_err(desc, -errno, "cannot set its permissions",
				   err, err_len);
	return 0;
}

int sfs_keyring_remove(const char *desc, char *err, size_t err_len)
{
	long id = keyring_find(desc);

	if (id == -ENOKEY)
		return -ENOKEY;
	if (id < 0)
		return keyring_err(desc, (int)id, "cannot look it up", err,
				   err_len);
	/* Unlink first so it is gone from @u at once (invalidated keys are
	 * collected asynchronously), then invalidate it for other links. */
	if (keyctl_unlink((key_serial_t)id, KEY_SPEC_USER_KEYRING) < 0 ||
	    keyctl_invalidate((key_serial_t)id) < 0)
		return keyring_err(desc, -errno, "cannot remove it", err,
				   err_len);
	return 0;
}

/*
 * The command provider.
 */

int sfs_key_spec_set_command(struct sfs_key_spec *spec, const char *const *argv,
			     unsigned int argc, char *why, size_t why_len)
{
	size_t len = 0;

	if (argc == 0) {
		sfs_set_err(why, why_len,
			    "needs at least the program (an absolute path)");
		return -EINVAL;
	}
	if (argc > SFS_KEY_COMMAND_MAX_ARGS) {
		sfs_set_err(why, why_len,
			    "has %u arguments, at most %u allowed", argc,
			    SFS_KEY_COMMAND_MAX_ARGS);
		return -EINVAL;
	}
	if (argv[0][0] != '/') {
		sfs_set_err(
		    why, why_len,
		    "the program must be an absolute path, not \"%.200s\"",
		    argv[0]);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (len > sizeof(spec->command)) {
		sfs_set_err(why, why_len,
			    "is too long (%zu bytes, at most %zu)", len,
			    sizeof(spec->command));
		return -EINVAL;
	}
	len = 0;
	for (unsigned int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(spec->command + len, argv[i], n);
		len += n;
	}
	spec->command_len = len;
	spec->command_argc = argc;
	return 0;
}

/* Splits spec->command into argv (argc + 1 entries, NULL-terminated). */
static void command_argv(const struct sfs_key_spec *spec, char **argv)
{
	const char *p = spec->command;

	for (unsigned int i = 0; i < spec->command_argc; i++) {
		argv[i] = (char *)p;
		p += strlen(p) + 1;
	}
	argv[spec->command_argc] = NULL;
}

/* Whether spec's command is well formed (it may come from a hand-made
 * spec, not only from the config parser). */
static bool command_valid(const struct sfs_key_spec *spec)
{
	size_t len = 0;

	if (spec->command_argc == 0 ||
	    spec->command_argc > SFS_KEY_COMMAND_MAX_ARGS ||
	    spec->command_len > sizeof(spec->command) ||
	    spec->command[0] != '/')
		return false;
	for (unsigned int i = 0; i < spec->command_argc; i++) {
		const char *nul =
		    memchr(spec->command + len, '\0', spec->command_len - len);

		if (!nul)
			return false;
		len = (size_t)(nul - spec->command) + 1;
	}
	return len == spec->command_len;
}

/* The program runs as us (root, usually) with the node key on its stdout:
 * refuse one that someone else could have replaced. */
static int check_program(const char *prog, char *err, size_t err_len)
{
	struct stat st;
	int rc;

	if (stat(prog, &st) != 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "key command %s: %s", prog,
			    strerror(-rc));
		return rc;
	}
	rc = check_trusted(&st, "key command", prog, 022, "writable", "go-w",
			   err, err_len);
	if (rc)
		return rc;
	if (access(prog, X_OK) != 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "key command %s: %s", prog,
			    strerror(-rc));
		return rc;
	}
	return 0;
}

/* Starts argv with stdout on out_fd (and stdin /dev/null) in a new process
 * group. Returns the pid or -errno. */
static pid_t spawn_provider(char **argv, int out_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	pid_t pid = -1;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	rc = posix_spawnattr_init(&attr);
	if (rc) {
		posix_spawn_file_actions_destroy(&fa);
		return -rc;
	}
	if (!rc)
		rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
						      O_RDONLY, 0);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	/* Nothing of ours (backing fds, /dev/fuse) leaks into it. */
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* Its own process group, so a timeout kills its children too; and a
	 * clean signal state whatever ours is. */
	if (!rc)
		rc = posix_spawnattr_setflags(
		    &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
			       POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&attr, &all);
	if (!rc)
		rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc ? -rc : pid;
}

/* Kills the provider's process group and reaps it. */
static void kill_provider(pid_t pid)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Reads the provider's stdout into out (SFS_KEY_COMMAND_OUT_MAX bytes) until
 * EOF, out full, or the deadline. Returns the count or -errno (-ETIMEDOUT). */
static ssize_t read_provider(int fd, uint8_t *out, long long deadline)
{
	size_t done = 0;

	while (done < SFS_KEY_COMMAND_OUT_MAX) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - sfs_now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue; /* re-checks the deadline */
		n = read(fd, out + done, SFS_KEY_COMMAND_OUT_MAX - done);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Waits for pid until the deadline. 0 with *status, or -ETIMEDOUT / -errno
 * (the process is still to be killed and reaped then). */
static int wait_provider(pid_t pid, int *status, long long deadline)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		struct timespec tick = {0, 5 * 1000 * 1000};

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (sfs_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
	}
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sfs_keys_parse_command_output(const uint8_t *out, size_t n,
				  uint8_t key[SFS_KEY_BYTES], const char *prog,
				  char *err, size_t err_len)
{
	if (n == SFS_KEY_BYTES) {
		memcpy(key, out, SFS_KEY_BYTES);
		return 0;
	}
	if (n == 2 * SFS_KEY_BYTES ||
	    (n == 2 * SFS_KEY_BYTES + 1 && out[n - 1] == '\n')) {
		int bad = 0;

		for (size_t i = 0; i < SFS_KEY_BYTES; i++) {
			int hi = hex_value(out[2 * i]);
			int lo = hex_value(out[2 * i + 1]);

			bad |= hi < 0 || lo < 0;
			key[i] = (uint8_t)((hi & 15) << 4 | (lo & 15));
		}
		if (!bad)
			return 0;
		sfs_wipe(key, SFS_KEY_BYTES);
		sfs_set_err(
		    err, err_len,
		    "key command %s printed %zu bytes that are not 64 hex "
		    "digits",
		    prog, n);
		return -EINVAL;
	}
	sfs_set_err(
	    err, err_len,
	    "key command %s printed %s%zu bytes; expected 32 raw bytes or "
	    "64 hex digits (and an optional newline)",
	    prog, n >= SFS_KEY_COMMAND_OUT_MAX ? "more than " : "",
	    n >= SFS_KEY_COMMAND_OUT_MAX ? (size_t)(SFS_KEY_COMMAND_OUT_MAX - 1)
					 : n);
	return -EINVAL;
}

static int command_load(const struct sfs_key_spec *spec, uint8_t *key,
			char *err, size_t err_len)
{
	char *argv[SFS_KEY_COMMAND_MAX_ARGS + 1];
	unsigned int timeout = command_timeout(spec);
	long long deadline;
	uint8_t *out;
	ssize_t n;
	int p[2], status = 0, rc;
	pid_t pid;

	if (spec->command_argc == 0) {
		sfs_set_err(
		    err, err_len,
		    "key source command needs key_command (the provider "
		    "program and its arguments) in the config file");
		return -EINVAL;
	}
	if (!command_valid(spec)) {
		sfs_set_err(err, err_len,
			    "key command: malformed command line");
		return -EINVAL;
	}
	command_argv(spec, argv);
	rc = check_program(argv[0], err, err_len);
	if (rc)
		return rc;
	out = sfs_secret_alloc(SFS_KEY_COMMAND_OUT_MAX);
	if (!out) {
		sfs_set_err(err, err_len,
			    "key command %s: out of secret memory", argv[0]);
		return -ENOMEM;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "key command %s: pipe: %s", argv[0],
			    strerror(-rc));
		goto out;
	}
	deadline = sfs_now_ms() + 1000LL * timeout;
	pid = spawn_provider(argv, p[1]);
	close(p[1]);
	if (pid < 0) {
		rc = (int)pid;
		sfs_set_err(err, err_len, "cannot run key command %s: %s",
			    argv[0], strerror(-rc));
		close(p[0]);
		goto out;
	}
	n = read_provider(p[0], out, deadline);
	/* Closed before waiting: a provider still writing gets SIGPIPE. */
	close(p[0]);
	rc = n < 0 ? (int)n : wait_provider(pid, &status, deadline);
	if (rc == 0 && n >= (ssize_t)SFS_KEY_COMMAND_OUT_MAX) {
		/* Too long: say so, not "killed by SIGPIPE". */
		rc = sfs_keys_parse_command_output(out, (size_t)n, key, argv[0],
						   err, err_len);
		goto out;
	}
	if (rc) {
		kill_provider(pid);
		if (rc == -ETIMEDOUT)
			sfs_set_err(
			    err, err_len,
			    "key command %s did not finish within %u s; "
			    "killed it (key_command_timeout)",
			    argv[0], timeout);
		else
			sfs_set_err(err, err_len, "key command %s: %s", argv[0],
				    strerror(-rc));
		goto out;
	}
	if (WIFSIGNALED(status)) {
		sfs_set_err(err, err_len,
			    "key command %s was killed by signal %d", argv[0],
			    WTERMSIG(status));
		rc = -EIO;
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		sfs_set_err(err, err_len,
			    "key command %s failed (exit status %d); see its "
			    "messages above or in the journal",
			    argv[0], WEXITSTATUS(status));
		rc = -EIO;
		goto out;
	}
	rc = sfs_keys_parse_command_output(out, (size_t)n, key, argv[0], err,
					   err_len);
out:
	sfs_secret_free(out);
	return rc;
}

/*
 * Dispatch.
 */

int sfs_keys_load_nmk(const struct sfs_key_spec *spec, uint8_t **nmk, char *err,
		      size_t err_len)
{
	uint8_t *key;
	int rc;

	*nmk = NULL;
	if (spec->source != SFS_KEY_KEYFILE &&
	    spec->source != SFS_KEY_KEYRING &&
	    spec->source != SFS_KEY_COMMAND) {
		sfs_set_err(err, err_len, "key source %s has no node key",
			    sfs_key_source_name(spec->source));
		return -EINVAL;
	}
	key = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!key) {
		sfs_set_err(err, err_len, "%s: out of secret memory",
			    sfs_key_source_name(spec->source));
		return -ENOMEM;
	}
	if (spec->source == SFS_KEY_KEYFILE)
		rc = keyfile_load(spec, key, err, err_len);
	else if (spec->source == SFS_KEY_KEYRING)
		rc = keyring_load(spec, key, err, err_len);
	else
		rc = command_load(spec, key, err, err_len);
	if (rc) {
		sfs_secret_free(key);
		return rc;
	}
	*nmk = key;
	return 0;
}

void sfs_key_spec_describe(const struct sfs_key_spec *spec, char *out,
			   size_t out_len)
{
	switch (spec->source) {
	case SFS_KEY_KEYFILE:
		snprintf(out, out_len, "key file %s", spec->keyfile);
		return;
	case SFS_KEY_KEYRING:
		snprintf(out, out_len,
			 "keyring key %s (user keyring of uid %u)",
			 keyring_desc(spec), (unsigned int)geteuid());
		return;
	case SFS_KEY_COMMAND:
		snprintf(out, out_len, "key command %s",
			 command_valid(spec) ? spec->command : "(none)");
		return;
	case SFS_KEY_EPHEMERAL:
	case SFS_KEY_NONE:
		break;
	}
	snprintf(out, out_len, "%s", sfs_key_source_name(spec->source));
}
