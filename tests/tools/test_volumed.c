/* test_volumed.c - scratchfs-volumed over its unix socket, with requests
 * byte for byte as dockerd sends them (empty Host header, no Content-Type,
 * an empty Activate body, "Opts":null, a trailing newline): every endpoint,
 * error shapes, bad input, concurrency, a plugin restart, a dead FUSE
 * daemon, the epoch rule, and a load run. Unit tests of the plugin's option
 * parser, reference counts and state file come first. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_plugin.h"
#include "util.h"

#define PLUGIN_BIN SFS_BUILD_DIR "/scratchfs-volumed"
#define MARKER "plaintext-marker-7f3a9c"

/* snprintf into an array that fails the test instead of truncating. */
#define FMT(buf, ...)                                                          \
	cr_assert((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) <          \
		      sizeof(buf),                                             \
		  "path too long")

/*
 * Fixture: one plugin with its own root, socket and log.
 */

struct fx {
	char root[PATH_MAX];  /* /tmp/sfs-test.XXXXXX */
	char sock[PATH_MAX];  /* root/p.sock */
	char proot[PATH_MAX]; /* root/plugin: the plugin's --root */
	char conf[PATH_MAX];  /* root/scratchfs.conf */
	char log[PATH_MAX];   /* the plugin's stderr */
	char audit[PATH_MAX]; /* root/audit.log */
	pid_t pid;
};

static struct fx fx;

static void dump_log(void)
{
	size_t len;
	char *text = sfs_read_file(fx.log, &len);

	if (text) {
		fprintf(stderr, "---- plugin log ----\n%s--------\n", text);
		free(text);
	}
}

/* True when the plugin log contains needle. */
static bool log_has(const char *needle)
{
	size_t len;
	char *text = sfs_read_file(fx.log, &len);
	bool found = text && strstr(text, needle);

	free(text);
	return found;
}

static int connect_sock(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(a.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

#define START_OK (-1)	   /* listening (fx.pid set) */
#define START_TIMEOUT (-2) /* neither listened nor exited in 10 s */

/* Starts the plugin with extra arguments (NULL-terminated) and waits until
 * its socket answers (START_OK) or it exits (its exit status, >= 0; with
 * expect_fail it is not expected to listen). No assertions: .init uses it
 * and must clean up before failing. */
static int try_start_plugin(bool expect_fail, const char *const extra[])
{
	const char *argv[16] = {PLUGIN_BIN, "-c",     fx.conf, "--socket",
				fx.sock,    "--root", fx.proot};
	size_t n = 7;
	double deadline = sfs_now_s() + 10;
	int status, fd;
	pid_t pid;

	for (size_t i = 0; extra && extra[i] && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return START_TIMEOUT;
	if (pid == 0) {
		int lfd = open(fx.log, O_WRONLY | O_APPEND | O_CREAT, 0600);

		if (lfd >= 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (sfs_now_s() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		if (!expect_fail) {
			fd = connect_sock(fx.sock);
			if (fd >= 0) {
				close(fd);
				fx.pid = pid;
				return START_OK;
			}
		}
		sfs_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return START_TIMEOUT;
}

/* Starts the plugin with extra arguments; fails the test unless it
 * listens. */
static void start_plugin_args(const char *const extra[])
{
	int rc = try_start_plugin(false, extra);

	if (rc != START_OK)
		dump_log();
	cr_assert_eq(rc, START_OK, "the plugin did not start (%d)", rc);
}

/* Runs the plugin expecting it to refuse to start; its exit status. */
static int plugin_refuses(void)
{
	int rc = try_start_plugin(true, NULL);

	cr_assert_neq(rc, START_TIMEOUT, "the plugin did not exit");
	return rc;
}

static void start_plugin(void)
{
	start_plugin_args(NULL);
}

/* Sends sig and reaps; returns the wait status. */
static int stop_plugin(int sig)
{
	int status = 0;

	if (fx.pid <= 0)
		return 0;
	kill(fx.pid, sig);
	waitpid(fx.pid, &status, 0);
	fx.pid = 0;
	return status;
}

static int count_mounts(void)
{
	static char mps[64][PATH_MAX];

	return sfs_mounts_under(fx.root, NULL, mps, 64);
}

/* No scratchfs daemon of ours left: they exit after their unmount. */
static int wait_no_daemons(double seconds)
{
	double deadline = sfs_now_s() + seconds;
	int n;

	while ((n = sfs_procs_mentioning(fx.root, PLUGIN_BIN, NULL)) > 0 &&
	       sfs_now_s() < deadline)
		sfs_sleep_ms(20);
	return n;
}

static void fx_init_with(const char *conf_text)
{
	char *run_id = getenv("SFS_TEST_RUN_ID");

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.root, sizeof(fx.root), "%sXXXXXX", SFS_TEST_ROOT_PREFIX);
	cr_assert(mkdtemp(fx.root), "mkdtemp: %s", strerror(errno));
	FMT(fx.sock, "%s/p.sock", fx.root);
	FMT(fx.proot, "%s/plugin", fx.root);
	FMT(fx.conf, "%s/scratchfs.conf", fx.root);
	FMT(fx.log, "%s/plugin.log", fx.root);
	FMT(fx.audit, "%s/audit.log", fx.root);
	if (run_id)
		sfs_write_file(sfs_join(fx.root, "run-id"), run_id,
			       strlen(run_id));
	if (!conf_text) {
		char text[PATH_MAX + 64];

		snprintf(text, sizeof(text),
			 "audit = { file = \"%s\"; syslog = false; };\n",
			 fx.audit);
		cr_assert(sfs_write_file(fx.conf, text, strlen(text)) == 0);
	} else {
		cr_assert(
		    sfs_write_file(fx.conf, conf_text, strlen(conf_text)) == 0);
	}
}

static void fx_fini(void);

static void fx_init(void)
{
	fx_init_with(NULL);
	if (try_start_plugin(false, NULL) != START_OK) {
		/* A failing .init never gets its .fini. */
		dump_log();
		fx_fini();
		cr_assert_fail("the plugin did not start");
	}
}

static void fx_init_noplugin(void)
{
	fx_init_with(NULL);
}

static void fx_fini(void)
{
	static char mps[64][PATH_MAX];
	int n;

	if (!fx.root[0])
		return;
	stop_plugin(SIGKILL);
	/* Whatever a failed test left mounted: detach it; the daemons then
	 * exit by themselves. */
	n = sfs_mounts_under(fx.root, NULL, mps, 64);
	for (int i = 0; i < n; i++)
		umount2(mps[i], MNT_DETACH);
	if (wait_no_daemons(5) > 0) {
		pid_t pid;

		while (sfs_procs_mentioning(fx.root, PLUGIN_BIN, &pid) > 0) {
			kill(pid, SIGKILL);
			sfs_sleep_ms(20);
		}
	}
	if (!strncmp(fx.root, SFS_TEST_ROOT_PREFIX,
		     strlen(SFS_TEST_ROOT_PREFIX)))
		nftw(fx.root, sfs_rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	fx.root[0] = '\0';
}

/*
 * A client that speaks exactly like dockerd's (moby pkg/plugins).
 */

struct resp {
	int status;
	char ctype[128];
	char *body;
	json_t *j;
};

static void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->j);
	memset(r, 0, sizeof(*r));
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The request bytes dockerd 20.10 sends: body NULL is Activate's empty
 * body; any other body gets the encoder's trailing newline. */
static char *docker_request(const char *path, const char *body)
{
	char *req;
	size_t blen = body ? strlen(body) + 1 : 0;

	cr_assert(
	    asprintf(&req,
		     "POST %s HTTP/1.1\r\n"
		     "Host: \r\n"
		     "User-Agent: Go-http-client/1.1\r\n"
		     "Content-Length: %zu\r\n"
		     "Accept: application/vnd.docker.plugins.v1.2+json\r\n"
		     "\r\n"
		     "%s%s",
		     path, blen, body ? body : "", body ? "\n" : "") > 0);
	return req;
}

/* Reads one response (Content-Length framed). 0 or -errno. */
static int read_resp(int fd, struct resp *r)
{
	size_t cap = 65536, len = 0, hdr_end = 0, clen = 0;
	char *buf = malloc(cap), *p;
	ssize_t n;

	cr_assert(buf);
	memset(r, 0, sizeof(*r));
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
		if (hdr_end && len >= hdr_end + clen)
			break;
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0) {
			free(buf);
			return n == 0 ? -ECONNRESET : -errno;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (!hdr_end && (p = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");
			char *ct = strcasestr(buf, "\r\nContent-Type:");

			hdr_end = (size_t)(p - buf) + 4;
			cr_assert(cl && cl < p, "no Content-Length: %s", buf);
			clen = strtoul(cl + 17, NULL, 10);
			if (ct && ct < p)
				sscanf(ct + 15, " %127[^\r]", r->ctype);
			cr_assert(sscanf(buf, "HTTP/1.%*d %d", &r->status) ==
				  1);
		}
	}
	r->body = strndup(buf + hdr_end, clen);
	free(buf);
	r->j = json_loads(r->body, 0, NULL);
	return 0;
}

/* One request on a new connection. */
static void post_raw(const char *raw, size_t len, struct resp *r)
{
	int fd = connect_sock(fx.sock);

	cr_assert(fd >= 0, "connect %s: %s", fx.sock, strerror(-fd));
	cr_assert(send_all(fd, raw, len) == 0);
	cr_assert(read_resp(fd, r) == 0, "no response to %.60s", raw);
	close(fd);
}

static void post(const char *path, const char *body, struct resp *r)
{
	char *req = docker_request(path, body);

	post_raw(req, strlen(req), r);
	free(req);
}

/* POST and insist on success; returns the answer (caller decrefs). */
static json_t *ok(const char *path, const char *body)
{
	struct resp r;
	const char *e;
	json_t *j;

	post(path, body, &r);
	e = json_string_value(json_object_get(r.j, "Err"));
	if (r.status != 200 || !r.j || (e && *e)) {
		dump_log();
		cr_assert_fail("%s %s: HTTP %d %s", path, body ? body : "",
			       r.status, r.body);
	}
	cr_assert_str_eq(r.ctype, SFS_PLUGIN_CONTENT_TYPE);
	j = json_incref(r.j);
	resp_free(&r);
	return j;
}

/* POST and insist on {"Err": "...sub..."} with the given status. */
static void fails(const char *path, const char *body, int status,
		  const char *sub)
{
	struct resp r;
	const char *e;

	post(path, body, &r);
	cr_assert(r.j && json_is_object(r.j), "%s: not JSON: %s", path, r.body);
	e = json_string_value(json_object_get(r.j, "Err"));
	cr_assert(e && *e, "%s %s: no Err in %s", path, body ? body : "",
		  r.body);
	cr_assert(strstr(e, sub), "%s: Err \"%s\" lacks \"%s\"", path, e, sub);
	cr_assert_eq(r.status, status, "%s: HTTP %d, expected %d (%s)", path,
		     r.status, status, r.body);
	resp_free(&r);
}

static void create(const char *name, const char *opts_json)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"Opts\":%s}", name,
		 opts_json ? opts_json : "null");
	json_decref(ok("/VolumeDriver.Create", body));
}

/* Mounts and returns the mount point (static buffer). */
static const char *mount_vol(const char *name, const char *id)
{
	static char mnt[PATH_MAX];
	char body[512];
	json_t *j;

	snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"ID\":\"%s\"}", name,
		 id);
	j = ok("/VolumeDriver.Mount", body);
	cr_assert(json_is_string(json_object_get(j, "Mountpoint")));
	snprintf(mnt, sizeof(mnt), "%s",
		 json_string_value(json_object_get(j, "Mountpoint")));
	json_decref(j);
	return mnt;
}

static void unmount_vol(const char *name, const char *id)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"ID\":\"%s\"}", name,
		 id);
	json_decref(ok("/VolumeDriver.Unmount", body));
}

static void remove_vol(const char *name)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"Name\":\"%s\"}", name);
	json_decref(ok("/VolumeDriver.Remove", body));
}

/* The Status object of a volume (caller decrefs). */
static json_t *status_of(const char *name)
{
	char body[512];
	json_t *j, *st;

	snprintf(body, sizeof(body), "{\"Name\":\"%s\"}", name);
	j = ok("/VolumeDriver.Get", body);
	st = json_object_get(json_object_get(j, "Volume"), "Status");
	cr_assert(json_is_object(st), "no Status");
	json_incref(st);
	json_decref(j);
	return st;
}

static long long refcount_of(const char *name)
{
	json_t *st = status_of(name);
	long long n = json_integer_value(json_object_get(st, "refcount"));

	json_decref(st);
	return n;
}

static bool is_mount(const char *path)
{
	char parent[PATH_MAX];
	struct stat a, b;

	snprintf(parent, sizeof(parent), "%s/..", path);
	return stat(path, &a) == 0 && stat(parent, &b) == 0 &&
	       a.st_dev != b.st_dev;
}

static const char *vol_dir(const char *name)
{
	static char p[PATH_MAX];

	FMT(p, "%s/volumes/%s", fx.proot, name);
	return p;
}

TestSuite(volumed, .init = fx_init, .fini = fx_fini, .timeout = 60);
/* Tests that start the plugin themselves (a test's .init would run after
 * the suite's, not instead of it). */
TestSuite(volumed_cli, .init = fx_init_noplugin, .fini = fx_fini,
	  .timeout = 60);

/*
 * Unit tests: options, reference counts, state file.
 */

/* Arrays, not pointers: Criterion runs each test in a fresh process of
 * this (position-independent) binary, where the pointers would be stale. */
struct opt_case {
	char json[96]; /* the Opts value */
	int rc;	       /* 0 or -EINVAL */
	char sub[48];  /* in the message (error) */
	bool encrypted;
	enum sfs_key_source key;
	enum sfs_plugin_wipe wipe;
	unsigned int uid, gid, mode;
};

ParameterizedTestParameters(plugin_opts, parse)
{
	static struct opt_case cases[] = {
	    {"null", 0, "", true, SFS_KEY_EPHEMERAL, SFS_PLUGIN_WIPE_ON_UNMOUNT,
	     0, 0, 0755},
	    {"{}", 0, "", true, SFS_KEY_EPHEMERAL, SFS_PLUGIN_WIPE_ON_UNMOUNT,
	     0, 0, 0755},
	    {"{\"hbi\":\"0\"}", 0, "", false, SFS_KEY_NONE,
	     SFS_PLUGIN_WIPE_ON_REMOVE, 0, 0, 0755},
	    {"{\"hbi\":\"0\",\"wipe\":\"on-unmount\"}", 0, "", false,
	     SFS_KEY_NONE, SFS_PLUGIN_WIPE_ON_UNMOUNT, 0, 0, 0755},
	    {"{\"hbi\":\"yes\",\"key\":\"keyfile\",\"wipe\":\"on-remove\"}", 0,
	     "", true, SFS_KEY_KEYFILE, SFS_PLUGIN_WIPE_ON_REMOVE, 0, 0, 0755},
	    {"{\"uid\":\"1000\",\"gid\":\"4294967294\",\"mode\":\"0777\"}", 0,
	     "", true, SFS_KEY_EPHEMERAL, SFS_PLUGIN_WIPE_ON_UNMOUNT, 1000,
	     4294967294U, 0777},
	    {"{\"mode\":\"0\"}", 0, "", true, SFS_KEY_EPHEMERAL,
	     SFS_PLUGIN_WIPE_ON_UNMOUNT, 0, 0, 0},
	    {"{\"size\":\"1G\"}", -EINVAL, "unknown option \"size\"", 0, 0, 0,
	     0, 0, 0},
	    {"{\"flag\":\"\"}", -EINVAL, "unknown option \"flag\"", 0, 0, 0, 0,
	     0, 0},
	    {"{\"hbi\":\"\"}", -EINVAL, "option hbi", 0, 0, 0, 0, 0, 0},
	    {"{\"hbi\":\"maybe\"}", -EINVAL, "option hbi", 0, 0, 0, 0, 0, 0},
	    {"{\"key\":\"keyring\"}", -EINVAL, "option key", 0, 0, 0, 0, 0, 0},
	    {"{\"key\":\"keyfile:/etc/shadow\"}", -EINVAL, "option key", 0, 0,
	     0, 0, 0, 0},
	    {"{\"hbi\":\"0\",\"key\":\"keyfile\"}", -EINVAL, "hbi=1", 0, 0, 0,
	     0, 0, 0},
	    {"{\"wipe\":\"on-remove\"}", -EINVAL, "ephemeral", 0, 0, 0, 0, 0,
	     0},
	    {"{\"wipe\":\"never\"}", -EINVAL, "option wipe", 0, 0, 0, 0, 0, 0},
	    {"{\"uid\":\"-1\"}", -EINVAL, "option uid", 0, 0, 0, 0, 0, 0},
	    {"{\"uid\":\"4294967295\"}", -EINVAL, "option uid", 0, 0, 0, 0, 0,
	     0},
	    {"{\"gid\":\"12a\"}", -EINVAL, "option gid", 0, 0, 0, 0, 0, 0},
	    {"{\"gid\":\" 1\"}", -EINVAL, "option gid", 0, 0, 0, 0, 0, 0},
	    {"{\"mode\":\"0789\"}", -EINVAL, "option mode", 0, 0, 0, 0, 0, 0},
	    {"{\"mode\":\"17777\"}", -EINVAL, "option mode", 0, 0, 0, 0, 0, 0},
	    {"{\"mode\":\"7777\"}", -EINVAL, "set-ID and sticky", 0, 0, 0, 0, 0,
	     0},
	    {"{\"mode\":\"4755\"}", -EINVAL, "option mode", 0, 0, 0, 0, 0, 0},
	    {"{\"mode\":\"2775\"}", -EINVAL, "option mode", 0, 0, 0, 0, 0, 0},
	    {"{\"mode\":\"1777\"}", -EINVAL, "option mode", 0, 0, 0, 0, 0, 0},
	    {"{\"mode\":\"\"}", -EINVAL, "option mode", 0, 0, 0, 0, 0, 0},
	    {"{\"uid\":1000}", -EINVAL, "must be a string", 0, 0, 0, 0, 0, 0},
	    {"\"hbi=1\"", -EINVAL, "object", 0, 0, 0, 0, 0, 0},
	    {"[]", -EINVAL, "object", 0, 0, 0, 0, 0, 0},
	};

	return cr_make_param_array(struct opt_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct opt_case *c, plugin_opts, parse)
{
	struct sfs_plugin_opts o;
	char err[256] = "";
	json_t *j = json_loads(c->json, JSON_DECODE_ANY, NULL);
	int rc;

	cr_assert(j, "bad test JSON %s", c->json);
	rc = sfs_plugin_opts_parse(j, true, SFS_KEY_EPHEMERAL, &o, err,
				   sizeof(err));
	json_decref(j);
	cr_assert_eq(rc, c->rc, "%s: rc %d (%s)", c->json, rc, err);
	if (rc) {
		cr_assert(strstr(err, c->sub), "%s: \"%s\" lacks \"%s\"",
			  c->json, err, c->sub);
		return;
	}
	cr_assert_eq(o.encrypted, c->encrypted, "%s", c->json);
	cr_assert_eq(o.key, c->key, "%s", c->json);
	cr_assert_eq(o.wipe, c->wipe, "%s", c->json);
	cr_assert_eq(o.uid, c->uid, "%s", c->json);
	cr_assert_eq(o.gid, c->gid, "%s", c->json);
	cr_assert_eq(o.mode, c->mode, "%s", c->json);
}

Test(plugin_opts, key_value_never_echoed)
{
	const char *secret = "00112233445566778899aabbccddeeff";
	struct sfs_plugin_opts o;
	char err[256] = "";
	json_t *j = json_pack("{s:s}", "key", secret);

	cr_assert_eq(sfs_plugin_opts_parse(j, true, SFS_KEY_EPHEMERAL, &o, err,
					   sizeof(err)),
		     -EINVAL);
	cr_assert(!strstr(err, secret) && !strstr(err, "0011"), "%s", err);
	json_decref(j);
}

Test(plugin_opts, defaults_follow_config)
{
	struct sfs_plugin_opts o;

	cr_assert_eq(
	    sfs_plugin_opts_parse(NULL, false, SFS_KEY_EPHEMERAL, &o, NULL, 0),
	    0);
	cr_assert_eq(o.encrypted, false);
	cr_assert_eq(o.key, SFS_KEY_NONE);
	cr_assert_eq(o.wipe, SFS_PLUGIN_WIPE_ON_REMOVE);
	cr_assert_eq(
	    sfs_plugin_opts_parse(NULL, true, SFS_KEY_KEYFILE, &o, NULL, 0), 0);
	cr_assert_eq(o.key, SFS_KEY_KEYFILE);
	cr_assert_eq(o.wipe, SFS_PLUGIN_WIPE_ON_UNMOUNT);
}

Test(plugin_opts, names_and_ids)
{
	char longname[SFS_PLUGIN_NAME_MAX + 2];
	char longid[SFS_PLUGIN_ID_MAX + 2];

	cr_assert(sfs_plugin_name_ok("v1"));
	cr_assert(sfs_plugin_name_ok("a"));
	cr_assert(sfs_plugin_name_ok("My_vol.2-x"));
	cr_assert(sfs_plugin_name_ok("0123456789abcdef0123456789abcdef012345678"
				     "9abcdef0123456789abcdef"));
	cr_assert(!sfs_plugin_name_ok(""));
	cr_assert(!sfs_plugin_name_ok("."));
	cr_assert(!sfs_plugin_name_ok(".."));
	cr_assert(!sfs_plugin_name_ok("-x"));
	cr_assert(!sfs_plugin_name_ok("_x"));
	cr_assert(!sfs_plugin_name_ok("a/b"));
	cr_assert(!sfs_plugin_name_ok("../etc"));
	cr_assert(!sfs_plugin_name_ok("a b"));
	cr_assert(!sfs_plugin_name_ok("a\n"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert(!sfs_plugin_name_ok(longname));
	longname[SFS_PLUGIN_NAME_MAX] = '\0';
	cr_assert(sfs_plugin_name_ok(longname));

	cr_assert(sfs_plugin_id_ok("2f73349cfc4630255319c6c8dfc1b46a"));
	cr_assert(!sfs_plugin_id_ok(""));
	cr_assert(!sfs_plugin_id_ok("a b"));
	cr_assert(!sfs_plugin_id_ok("a\tb"));
	cr_assert(!sfs_plugin_id_ok("\x7f"));
	memset(longid, 'f', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	cr_assert(!sfs_plugin_id_ok(longid));
}

Test(plugin_refs, counts_per_id)
{
	struct sfs_plugin_refs r = {0};

	cr_assert_eq(sfs_plugin_refs_mount(&r, "a", 1, true), 1);
	cr_assert_eq(sfs_plugin_refs_mount(&r, "a", 1, true), 2);
	cr_assert_eq(sfs_plugin_refs_mount(&r, "b", 1, true), 1);
	cr_assert_eq(sfs_plugin_refs_total(&r), 3);
	cr_assert_eq(sfs_plugin_refs_unmount(&r, "a"), 1);
	cr_assert_eq(sfs_plugin_refs_unmount(&r, "zz"), -ENOENT);
	cr_assert_eq(sfs_plugin_refs_unmount(&r, "a"), 0);
	cr_assert_eq(sfs_plugin_refs_unmount(&r, "a"), -ENOENT);
	cr_assert_eq(sfs_plugin_refs_total(&r), 1);
	cr_assert_eq(r.n, 1);
	cr_assert_eq(sfs_plugin_refs_unmount(&r, "b"), 0);
	cr_assert_eq(r.n, 0);
	sfs_plugin_refs_clear(&r);
}

Test(plugin_refs, epoch_rule)
{
	struct sfs_plugin_refs r = {0};

	/* Engine life 1: a twice (docker cp), b once. */
	sfs_plugin_refs_mount(&r, "a", 1, true);
	sfs_plugin_refs_mount(&r, "a", 1, true);
	sfs_plugin_refs_mount(&r, "b", 1, true);
	/* The engine crashed; life 2 re-mounts a with the same ID. */
	cr_assert_eq(sfs_plugin_refs_mount(&r, "a", 2, true), 1);
	cr_assert_eq(sfs_plugin_refs_since(&r, 2), 1);
	cr_assert_eq(sfs_plugin_refs_total(&r), 2);
	cr_assert_eq(sfs_plugin_refs_unmount(&r, "a"), 0);
	cr_assert_eq(sfs_plugin_refs_since(&r, 2), 0);
	cr_assert_eq(sfs_plugin_refs_drop_before(&r, 2), 1);
	cr_assert_eq(sfs_plugin_refs_total(&r), 0);
	/* live-restore: no reset. */
	sfs_plugin_refs_mount(&r, "c", 1, false);
	cr_assert_eq(sfs_plugin_refs_mount(&r, "c", 2, false), 2);
	cr_assert_eq(sfs_plugin_refs_since(&r, 2), 2);
	cr_assert_eq(sfs_plugin_refs_set(&r, "c", 1, 1), -EINVAL);
	cr_assert_eq(sfs_plugin_refs_set(&r, "d", 0, 1), -EINVAL);
	cr_assert_eq(sfs_plugin_refs_set(&r, "d", 3, 1), 0);
	cr_assert_eq(sfs_plugin_refs_total(&r), 5);
	sfs_plugin_refs_clear(&r);
	cr_assert_eq(r.n, 0);
}

Test(plugin_state, save_load_roundtrip, .init = fx_init_noplugin,
     .fini = fx_fini)
{
	struct sfs_plugin_opts o = {.encrypted = true,
				    .key = SFS_KEY_KEYFILE,
				    .wipe = SFS_PLUGIN_WIPE_ON_REMOVE,
				    .uid = 1000,
				    .gid = 7,
				    .mode = 0770};
	struct sfs_plugin_state s = {0}, t = {0};
	struct sfs_plugin_vol *v, *w;
	char path[PATH_MAX + 16], err[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/state.json", fx.root);
	cr_assert_eq(sfs_plugin_state_load(&s, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(s.n, 0);
	s.epoch = 5;
	v = sfs_plugin_vol_new("v1", &o, 1700000000);
	cr_assert(v);
	v->mounted = true;
	strcpy(v->cipher, "xchacha20poly1305");
	sfs_plugin_refs_set(&v->refs, "id-1", 2, 4);
	sfs_plugin_refs_set(&v->refs, "id-2", 1, 5);
	cr_assert_eq(sfs_plugin_state_add(&s, v), 0);
	cr_assert_eq(sfs_plugin_state_add(&s, v), -EEXIST);
	cr_assert_eq(sfs_plugin_state_save(&s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(access(sfs_join(fx.root, "state.json.tmp"), F_OK), -1);

	cr_assert_eq(sfs_plugin_state_load(&t, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(t.epoch, 5);
	cr_assert_eq(t.n, 1);
	w = sfs_plugin_state_find(&t, "v1");
	cr_assert(w);
	cr_assert_eq(w->opts.encrypted, true);
	cr_assert_eq(w->opts.key, SFS_KEY_KEYFILE);
	cr_assert_eq(w->opts.wipe, SFS_PLUGIN_WIPE_ON_REMOVE);
	cr_assert_eq(w->opts.uid, 1000);
	cr_assert_eq(w->opts.gid, 7);
	cr_assert_eq(w->opts.mode, 0770);
	cr_assert_eq(w->created, 1700000000);
	cr_assert_eq(w->mounted, true);
	cr_assert_str_eq(w->cipher, "xchacha20poly1305");
	cr_assert_eq(w->refs.n, 2);
	cr_assert_eq(sfs_plugin_refs_total(&w->refs), 3);
	cr_assert_eq(sfs_plugin_refs_since(&w->refs, 5), 1);
	sfs_plugin_state_del(&t, w);
	sfs_plugin_vol_free(w);
	cr_assert_eq(t.n, 0);
	sfs_plugin_state_free(&t);
	sfs_plugin_state_free(&s);
}

struct bad_state {
	char text[400];
	char sub[32];
};

ParameterizedTestParameters(plugin_state, refuses_bad_files)
{
	static struct bad_state cases[] = {
	    {"", "state.json"},
	    {"{", "state.json"},
	    {"[]", "state.json"},
	    {"{\"version\":2,\"epoch\":0,\"volumes\":[]}", "version 2"},
	    {"{\"version\":1,\"epoch\":0,\"volumes\":[],\"x\":1}", "x"},
	    {"{\"version\":1,\"epoch\":-1,\"volumes\":[]}", "epoch"},
	    {"{\"version\":1,\"epoch\":0,\"volumes\":[{\"name\":\"v\"}]}",
	     "volumes[0]"},
	    {"{\"version\":1,\"epoch\":1,\"volumes\":[{\"name\":\"../x\","
	     "\"created\":1,\"hbi\":true,\"key\":\"ephemeral\",\"wipe\":\"on-"
	     "unmount\",\"uid\":0,\"gid\":0,\"mode\":493,\"mounted\":false,"
	     "\"cipher\":\"\",\"refs\":[]}]}",
	     "bad volume name"},
	    {"{\"version\":1,\"epoch\":1,\"volumes\":[{\"name\":\"v\","
	     "\"created\":1,\"hbi\":true,\"key\":\"none\",\"wipe\":\"on-"
	     "unmount\",\"uid\":0,\"gid\":0,\"mode\":493,\"mounted\":false,"
	     "\"cipher\":\"\",\"refs\":[]}]}",
	     "bad key"},
	    {"{\"version\":1,\"epoch\":1,\"volumes\":[{\"name\":\"v\","
	     "\"created\":1,\"hbi\":true,\"key\":\"ephemeral\",\"wipe\":\"on-"
	     "unmount\",\"uid\":0,\"gid\":0,\"mode\":99999,\"mounted\":false,"
	     "\"cipher\":\"\",\"refs\":[]}]}",
	     "mode"},
	    {"{\"version\":1,\"epoch\":1,\"volumes\":[{\"name\":\"v\","
	     "\"created\":1,\"hbi\":true,\"key\":\"ephemeral\",\"wipe\":\"on-"
	     "unmount\",\"uid\":0,\"gid\":0,\"mode\":493,\"mounted\":false,"
	     "\"cipher\":\"\",\"refs\":[{\"id\":\"a\",\"count\":0,\"epoch\":1}"
	     "]}]}",
	     "refs[0]"},
	    {"{\"version\":1,\"epoch\":1,\"volumes\":[{\"name\":\"v\","
	     "\"created\":1,\"hbi\":true,\"key\":\"ephemeral\",\"wipe\":\"on-"
	     "unmount\",\"uid\":0,\"gid\":0,\"mode\":493,\"mounted\":false,"
	     "\"cipher\":\"\",\"refs\":[{\"id\":\"a\",\"count\":1,\"epoch\":9}"
	     "]}]}",
	     "refs[0]"},
	};

	return cr_make_param_array(struct bad_state, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_state *c, plugin_state, refuses_bad_files,
		  .init = fx_init_noplugin, .fini = fx_fini)
{
	struct sfs_plugin_state s = {0};
	char path[PATH_MAX + 16], err[512] = "";

	snprintf(path, sizeof(path), "%s/state.json", fx.root);
	cr_assert_eq(sfs_write_file(path, c->text, strlen(c->text)), 0);
	cr_assert_eq(sfs_plugin_state_load(&s, path, err, sizeof(err)), -EINVAL,
		     "accepted: %s", c->text);
	cr_assert(strstr(err, c->sub), "\"%s\" lacks \"%s\"", err, c->sub);
	cr_assert(strstr(err, path), "\"%s\" does not name the file", err);
	cr_assert_eq(s.n, 0);
}

/*
 * Protocol.
 */

Test(volumed, activate_and_capabilities_exact_engine_bytes)
{
	json_t *j = ok("/Plugin.Activate", NULL);
	json_t *impl = json_object_get(j, "Implements");

	cr_assert(json_is_array(impl) && json_array_size(impl) == 1);
	cr_assert_str_eq(json_string_value(json_array_get(impl, 0)),
			 "VolumeDriver");
	json_decref(j);
	j = ok("/VolumeDriver.Capabilities", "{}");
	cr_assert_str_eq(json_string_value(json_object_get(
			     json_object_get(j, "Capabilities"), "Scope")),
			 "local");
	json_decref(j);
	/* podman: Activate before every call; each is answered. */
	for (int i = 0; i < 3; i++)
		json_decref(ok("/Plugin.Activate", NULL));
}

Test(volumed, lifecycle_create_get_list_path_remove)
{
	json_t *j, *vol, *st, *vols;
	char created[64];
	struct tm tm;

	create("v1", NULL); /* "Opts":null, as without -o */
	j = ok("/VolumeDriver.Get", "{\"Name\":\"v1\"}");
	vol = json_object_get(j, "Volume");
	cr_assert_str_eq(json_string_value(json_object_get(vol, "Name")), "v1");
	cr_assert_str_eq(json_string_value(json_object_get(vol, "Mountpoint")),
			 "");
	/* CreatedAt must parse as RFC 3339 (Go's time.Time). */
	snprintf(created, sizeof(created), "%s",
		 json_string_value(json_object_get(vol, "CreatedAt")));
	cr_assert(strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm), "%s", created);
	st = json_object_get(vol, "Status");
	cr_assert(json_is_true(json_object_get(st, "hbi")));
	cr_assert_str_eq(json_string_value(json_object_get(st, "key")),
			 "ephemeral");
	cr_assert(json_is_string(json_object_get(st, "cipher")));
	cr_assert(json_is_false(json_object_get(st, "mounted")));
	cr_assert_eq(json_integer_value(json_object_get(st, "refcount")), 0);
	json_decref(j);

	j = ok("/VolumeDriver.List", "{}");
	vols = json_object_get(j, "Volumes");
	cr_assert_eq(json_array_size(vols), 1);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(vols, 0), "Name")),
	    "v1");
	json_decref(j);
	j = ok("/VolumeDriver.Path", "{\"Name\":\"v1\"}");
	cr_assert_str_eq(json_string_value(json_object_get(j, "Mountpoint")),
			 "");
	json_decref(j);
	cr_assert_eq(access(vol_dir("v1"), F_OK), 0);

	/* The engine re-creates an existing name: success, options kept. */
	create("v1", "{\"hbi\":\"0\"}");
	st = status_of("v1");
	cr_assert(json_is_true(json_object_get(st, "hbi")));
	json_decref(st);

	remove_vol("v1");
	fails("/VolumeDriver.Get", "{\"Name\":\"v1\"}", 500, "no such volume");
	j = ok("/VolumeDriver.List", "{}");
	cr_assert_eq(json_array_size(json_object_get(j, "Volumes")), 0);
	json_decref(j);
	cr_assert_eq(access(vol_dir("v1"), F_OK), -1);
}

Test(volumed, mount_refcounts_per_id_and_wipe_on_last_unmount)
{
	char path[PATH_MAX], backing[PATH_MAX];
	const char *mnt;
	json_t *st;

	create("v1", NULL);
	mnt = mount_vol("v1", "id1");
	cr_assert(is_mount(mnt), "%s is not mounted", mnt);
	snprintf(path, sizeof(path), "%s/" MARKER ".txt", mnt);
	cr_assert_eq(sfs_write_file(path, MARKER MARKER, 2 * strlen(MARKER)),
		     0);
	/* docker cp re-mounts the same ID; another container adds id2. */
	cr_assert_str_eq(mount_vol("v1", "id1"), mnt);
	mount_vol("v1", "id2");
	cr_assert_eq(refcount_of("v1"), 3);
	{
		json_t *j = ok("/VolumeDriver.Path", "{\"Name\":\"v1\"}");

		cr_assert_str_eq(
		    json_string_value(json_object_get(j, "Mountpoint")), mnt);
		json_decref(j);
	}
	st = status_of("v1");
	cr_assert(json_is_true(json_object_get(st, "mounted")));
	cr_assert_str_neq(json_string_value(json_object_get(st, "cipher")),
			  "chosen at mount");
	json_decref(st);

	/* Ciphertext only: neither the name nor the data in the backing. */
	FMT(backing, "%s/backing", vol_dir("v1"));
	cr_assert(!sfs_tree_contains(backing, MARKER, NULL));
	cr_assert(!sfs_tree_contains(backing, "txt", NULL));

	unmount_vol("v1", "id1");
	cr_assert(is_mount(mnt));
	unmount_vol("v1", "id1");
	cr_assert(is_mount(mnt), "unmounted while id2 still holds it");
	unmount_vol("v1", "unknown-id"); /* tolerated, changes nothing */
	cr_assert(is_mount(mnt));
	cr_assert_eq(refcount_of("v1"), 1);
	unmount_vol("v1", "id2");
	cr_assert(!is_mount(mnt), "still mounted after the last unmount");
	/* wipe=on-unmount (default for hbi): the ciphertext is gone. */
	cr_assert_eq(access(backing, F_OK), -1, "backing left after wipe");
	cr_assert_eq(wait_no_daemons(5), 0, "scratchfs daemon still running");
	{
		size_t len;
		char *a = sfs_read_file(fx.audit, &len);

		cr_assert(a && strstr(a, "wipe"), "no wipe audit record");
		free(a);
	}
	/* A new mount starts from an empty volume. */
	mnt = mount_vol("v1", "id3");
	cr_assert_eq(access(path, F_OK), -1);
	unmount_vol("v1", "id3");
	remove_vol("v1");
	cr_assert_eq(count_mounts(), 0);
}

Test(volumed, plain_volume_keeps_data_until_remove)
{
	char path[PATH_MAX], backing[PATH_MAX];
	const char *mnt;
	size_t len;
	char *text;

	create("p1", "{\"hbi\":\"0\"}");
	mnt = mount_vol("p1", "a");
	snprintf(path, sizeof(path), "%s/data", mnt);
	cr_assert_eq(sfs_write_file(path, MARKER, strlen(MARKER)), 0);
	unmount_vol("p1", "a");
	cr_assert(!is_mount(mnt));
	FMT(backing, "%s/backing", vol_dir("p1"));
	/* Plain: readable on disk, as documented; kept until Remove. */
	cr_assert(sfs_tree_contains(backing, MARKER, NULL));
	mnt = mount_vol("p1", "b");
	text = sfs_read_file(path, &len);
	cr_assert(text && !strcmp(text, MARKER));
	free(text);
	unmount_vol("p1", "b");
	remove_vol("p1");
	cr_assert_eq(access(vol_dir("p1"), F_OK), -1);
}

/* Creates dir/name as uid/gid 1000 in a child; returns its exit status.
 * The directory is opened first, as root: like a container that gets the
 * volume bind-mounted, the user need not reach it through our 0700
 * test directories. */
static int as_user_1000(const char *dir, const char *name)
{
	pid_t pid = fork();
	int status, dfd, fd;

	cr_assert(pid >= 0);
	if (pid == 0) {
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(1000, 1000, 1000) < 0 ||
		    setresuid(1000, 1000, 1000) < 0)
			_exit(2);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		_exit(fd >= 0 && write(fd, "u", 1) == 1 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

Test(volumed, uid_gid_mode_let_a_non_root_user_write)
{
	char path[PATH_MAX];
	const char *mnt;
	struct stat st;

	create("u1", "{\"uid\":\"1000\",\"gid\":\"1000\",\"mode\":\"0750\"}");
	create("r1", NULL);
	mnt = mount_vol("u1", "a");
	cr_assert_eq(stat(mnt, &st), 0);
	cr_assert_eq(st.st_uid, 1000);
	cr_assert_eq(st.st_gid, 1000);
	cr_assert_eq(st.st_mode & 07777, 0750);
	FMT(path, "%s/by-user", mnt);
	cr_assert_eq(as_user_1000(mnt, "by-user"), 0, "uid 1000 cannot write");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_uid, 1000);
	/* Without the options the root is root's 0755: refused. */
	mnt = mount_vol("r1", "a");
	cr_assert_eq(as_user_1000(mnt, "by-user"), 1,
		     "uid 1000 wrote to a 0755 root");
	unmount_vol("u1", "a");
	unmount_vol("r1", "a");
	remove_vol("u1");
	remove_vol("r1");
}

Test(volumed, status_never_shows_secrets)
{
	json_t *j;
	char *text;

	create("k1", "{\"key\":\"keyfile\",\"wipe\":\"on-remove\"}");
	j = ok("/VolumeDriver.Get", "{\"Name\":\"k1\"}");
	text = json_dumps(j, 0);
	cr_assert(strstr(text, "\"key\": \"keyfile\""), "%s", text);
	cr_assert(!strstr(text, "node.key") && !strstr(text, "keyslot") &&
		      !strstr(text, "passphrase"),
		  "%s", text);
	free(text);
	json_decref(j);
	remove_vol("k1");
	/* A key passed as an option is refused and not echoed back. */
	fails("/VolumeDriver.Create",
	      "{\"Name\":\"k2\",\"Opts\":{\"key\":\"deadbeefcafe0123\"}}", 500,
	      "option key");
	{
		size_t len;
		char *log = sfs_read_file(fx.log, &len);

		cr_assert(log && !strstr(log, "deadbeefcafe0123"),
			  "a key value reached the log");
		free(log);
	}
}

Test(volumed, error_shapes)
{
	/* Bad options name the option. */
	fails("/VolumeDriver.Create",
	      "{\"Name\":\"e1\",\"Opts\":{\"size\":\"1G\"}}", 500,
	      "unknown option \"size\"");
	fails("/VolumeDriver.Create", "{\"Name\":\"e1\",\"Opts\":\"x\"}", 500,
	      "object");
	fails("/VolumeDriver.Create", "{\"Name\":\"../../etc\"}", 500,
	      "invalid volume name");
	fails("/VolumeDriver.Create", "{\"Name\":\"\"}", 500,
	      "invalid volume name");
	/* Missing or mistyped members. */
	fails("/VolumeDriver.Create", "{}", 400, "missing Name");
	fails("/VolumeDriver.Create", "{\"Name\":7}", 400, "missing Name");
	fails("/VolumeDriver.Get", "{}", 400, "missing Name");
	fails("/VolumeDriver.Remove", "{}", 400, "missing Name");
	fails("/VolumeDriver.Path", "{}", 400, "missing Name");
	fails("/VolumeDriver.Mount", "{\"Name\":\"x\"}", 400, "missing ID");
	fails("/VolumeDriver.Unmount", "{\"ID\":\"x\"}", 400, "missing Name");
	/* Unknown volumes. */
	fails("/VolumeDriver.Get", "{\"Name\":\"nope\"}", 500,
	      "no such volume");
	fails("/VolumeDriver.Mount", "{\"Name\":\"nope\",\"ID\":\"a\"}", 500,
	      "no such volume");
	fails("/VolumeDriver.Unmount", "{\"Name\":\"nope\",\"ID\":\"a\"}", 500,
	      "no such volume");
	fails("/VolumeDriver.Path", "{\"Name\":\"nope\"}", 500,
	      "no such volume");
	fails("/VolumeDriver.Remove", "{\"Name\":\"nope\"}", 500,
	      "no such volume");
	/* Malformed JSON and non-objects. */
	fails("/VolumeDriver.Create", "{\"Name\":", 400, "malformed JSON");
	fails("/VolumeDriver.Get", "{\"Name\":\"a\"} trailing", 400,
	      "malformed JSON");
	fails("/VolumeDriver.Get", "{\"Name\":\"a\",\"Name\":\"b\"}", 400,
	      "malformed JSON");
	fails("/VolumeDriver.List", "[1,2]", 400, "JSON object");
	fails("/VolumeDriver.List", "\"x\"", 400, "malformed JSON");
	/* Unknown endpoints and methods. */
	fails("/VolumeDriver.Frobnicate", "{}", 404, "unknown endpoint");
	fails("/", "{}", 404, "unknown endpoint");
	{
		const char *get = "GET /VolumeDriver.List HTTP/1.1\r\n"
				  "Host: \r\n\r\n";
		struct resp r;

		post_raw(get, strlen(get), &r);
		cr_assert_eq(r.status, 405);
		cr_assert(json_is_string(json_object_get(r.j, "Err")));
		resp_free(&r);
	}
	/* An empty body for List/Capabilities is fine too. */
	json_decref(ok("/VolumeDriver.List", ""));
	json_decref(ok("/VolumeDriver.Capabilities", ""));
	/* Still serving. */
	create("e2", NULL);
	remove_vol("e2");
}

Test(volumed, body_over_1mib_refused_and_daemon_keeps_serving)
{
	size_t big = SFS_PLUGIN_MAX_BODY + 10;
	char *body = malloc(big + 1), *req;
	struct resp r;
	int fd;

	cr_assert(body);
	memset(body, ' ', big);
	memcpy(body, "{\"Name\":\"x\"}", 12);
	body[big] = '\0';
	/* With Content-Length: refused before the body is read. */
	req = docker_request("/VolumeDriver.Create", body);
	fd = connect_sock(fx.sock);
	cr_assert(fd >= 0);
	send_all(fd, req, strlen(req)); /* may fail: the plugin hangs up */
	cr_assert_eq(read_resp(fd, &r), 0);
	close(fd);
	cr_assert_eq(r.status, 413);
	cr_assert(
	    strstr(json_string_value(json_object_get(r.j, "Err")), "1 MiB"));
	resp_free(&r);
	free(req);

	/* Chunked (no Content-Length): counted as it arrives. */
	fd = connect_sock(fx.sock);
	cr_assert(fd >= 0);
	{
		const char *hdr =
		    "POST /VolumeDriver.Create HTTP/1.1\r\n"
		    "Host: \r\nTransfer-Encoding: chunked\r\n\r\n";
		char chunk_hdr[32];

		cr_assert_eq(send_all(fd, hdr, strlen(hdr)), 0);
		for (size_t off = 0; off < big; off += 65536) {
			size_t n = big - off < 65536 ? big - off : 65536;

			snprintf(chunk_hdr, sizeof(chunk_hdr), "%zx\r\n", n);
			send_all(fd, chunk_hdr, strlen(chunk_hdr));
			send_all(fd, body + off, n);
			send_all(fd, "\r\n", 2);
		}
		send_all(fd, "0\r\n\r\n", 5);
	}
	cr_assert_eq(read_resp(fd, &r), 0);
	close(fd);
	cr_assert_eq(r.status, 413);
	resp_free(&r);
	free(body);

	/* Exactly at the limit is fine (and a bad request, not a 413). */
	body = malloc(SFS_PLUGIN_MAX_BODY);
	memset(body, ' ', SFS_PLUGIN_MAX_BODY - 1);
	memcpy(body, "{\"Name\":\"x\"}", 12);
	body[SFS_PLUGIN_MAX_BODY - 1] = '\0'; /* + the request's "\n" */
	post("/VolumeDriver.Path", body, &r);
	cr_assert_eq(r.status, 500, "%s", r.body);
	resp_free(&r);
	free(body);
	json_decref(ok("/VolumeDriver.Capabilities", "{}"));
}

Test(volumed, keep_alive_connection_serves_many_requests)
{
	char *a = docker_request("/VolumeDriver.List", "{}");
	int fd = connect_sock(fx.sock);
	struct resp r;

	cr_assert(fd >= 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(send_all(fd, a, strlen(a)), 0);
		cr_assert_eq(read_resp(fd, &r), 0, "request %d", i);
		cr_assert_eq(r.status, 200);
		resp_free(&r);
	}
	close(fd);
	free(a);
}

struct client_arg {
	int fd;
	int i;
	int failures;
};

static void *client_thread(void *p)
{
	struct client_arg *c = p;
	static const char *const bodies[] = {"{\"Name\":\"nope\"}",
					     "{\"Name\":", "{}", "[]"};
	char *req = docker_request("/VolumeDriver.Get", bodies[c->i % 4]);
	struct resp r = {0};
	size_t len = strlen(req);

	/* Half the request, a pause, the rest: all 64 are open at once. */
	if (send_all(c->fd, req, len / 2) < 0)
		c->failures++;
	sfs_sleep_ms(100);
	if (send_all(c->fd, req + len / 2, len - len / 2) < 0 ||
	    read_resp(c->fd, &r) < 0 || !r.j ||
	    !json_is_string(json_object_get(r.j, "Err")) ||
	    (r.status != 500 && r.status != 400))
		c->failures++;
	resp_free(&r);
	free(req);
	return NULL;
}

/* Connections that never send a request would otherwise hold every one
 * of the plugin's 512 connection slots, so that the engine's real requests
 * fail: they are closed after SFS_PLUGIN_IDLE_TIMEOUT_S. */
Test(volumed, idle_connections_time_out, .timeout = 60)
{
	static int idle[600];
	double deadline;
	char c;
	int n = 0;

	for (; n < 600; n++) {
		idle[n] = connect_sock(fx.sock);
		if (idle[n] < 0)
			break;
	}
	cr_assert_geq(n, 512, "only %d connections", n);
	deadline = sfs_now_s() + SFS_PLUGIN_IDLE_TIMEOUT_S + 15;
	/* The server ends them: each reads end of file. */
	for (int i = 0; i < n; i++) {
		struct timeval tv = {.tv_sec = 1};

		setsockopt(idle[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (recv(idle[i], &c, 1, 0) < 0 && sfs_now_s() < deadline)
			;
		cr_assert_lt(sfs_now_s(), deadline,
			     "idle connection %d still open after %d s", i,
			     SFS_PLUGIN_IDLE_TIMEOUT_S + 15);
	}
	json_decref(ok("/VolumeDriver.List", "{}"));
	for (int i = 0; i < n; i++)
		close(idle[i]);
}

Test(volumed, sixty_four_concurrent_clients)
{
	struct client_arg args[64];
	pthread_t th[64];
	int failures = 0;

	create("c1", NULL);
	for (int i = 0; i < 64; i++) {
		args[i] = (struct client_arg){connect_sock(fx.sock), i, 0};
		cr_assert(args[i].fd >= 0, "connect %d: %s", i,
			  strerror(-args[i].fd));
	}
	for (int i = 0; i < 64; i++)
		cr_assert_eq(
		    pthread_create(&th[i], NULL, client_thread, &args[i]), 0);
	for (int i = 0; i < 64; i++) {
		pthread_join(th[i], NULL);
		failures += args[i].failures;
		close(args[i].fd);
	}
	cr_assert_eq(failures, 0, "%d clients got no proper JSON error",
		     failures);
	/* A Mount among the crowd still works, and so does Get. */
	mount_vol("c1", "x");
	cr_assert_eq(refcount_of("c1"), 1);
	unmount_vol("c1", "x");
	remove_vol("c1");
}

/* The scratchfs daemon serving mnt. */
static pid_t daemon_of(const char *mnt)
{
	pid_t pid = sfs_plugin_mount_daemon(SFS_BUILD_DIR "/scratchfs", mnt);

	if (pid <= 0) {
		char real[PATH_MAX];

		/* The plugin runs the binary by its resolved path. */
		if (realpath(SFS_BUILD_DIR "/scratchfs", real))
			pid = sfs_plugin_mount_daemon(real, mnt);
	}
	return pid;
}

Test(volumed, restart_after_kill_9_keeps_volumes_counts_and_mounts)
{
	char path[PATH_MAX], mnt[PATH_MAX];
	pid_t daemon;
	size_t len;
	char *text;
	json_t *j;
	int fd;

	create("r1", "{\"uid\":\"1000\"}");
	create("r2", NULL);
	json_decref(ok("/Plugin.Activate", NULL));
	snprintf(mnt, sizeof(mnt), "%s", mount_vol("r1", "ctr"));
	mount_vol("r1", "ctr");
	daemon = daemon_of(mnt);
	cr_assert(daemon > 0, "no scratchfs daemon for %s", mnt);
	/* A "container" with an open file on the volume. */
	FMT(path, "%s/open", mnt);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "before", 6), 6);

	cr_assert(WIFSIGNALED(stop_plugin(SIGKILL)));
	start_plugin(); /* no Activate: the engine does not know */

	/* The FUSE daemon survived; the container reads and writes on. */
	cr_assert_eq(kill(daemon, 0), 0, "scratchfs daemon died with plugin");
	cr_assert_eq(pwrite(fd, "after", 5, 6), 5);
	close(fd);
	text = sfs_read_file(path, &len);
	cr_assert(text && !strcmp(text, "beforeafter"), "%s", text);
	free(text);
	/* Same volumes, counts and options. */
	j = ok("/VolumeDriver.List", "{}");
	cr_assert_eq(json_array_size(json_object_get(j, "Volumes")), 2);
	json_decref(j);
	cr_assert_eq(refcount_of("r1"), 2);
	{
		json_t *st = status_of("r1");

		cr_assert_eq(json_integer_value(json_object_get(st, "uid")),
			     1000);
		cr_assert(json_is_true(json_object_get(st, "mounted")));
		json_decref(st);
	}
	/* The same epoch continues: a Mount of the same ID adds one. */
	cr_assert_str_eq(mount_vol("r1", "ctr"), mnt);
	cr_assert_eq(refcount_of("r1"), 3);
	unmount_vol("r1", "ctr");
	unmount_vol("r1", "ctr");
	cr_assert(is_mount(mnt));
	unmount_vol("r1", "ctr");
	cr_assert(!is_mount(mnt));
	remove_vol("r1");
	remove_vol("r2");
	cr_assert_eq(count_mounts(), 0);
	cr_assert_eq(wait_no_daemons(5), 0);
	j = ok("/VolumeDriver.List", "{}");
	cr_assert_eq(json_array_size(json_object_get(j, "Volumes")), 0);
	json_decref(j);
	cr_assert_eq(sfs_dir_entries(sfs_join(fx.proot, "volumes")), 0,
		     "volume directories left behind");
}

Test(volumed, dead_fuse_daemon_is_replaced_on_mount)
{
	char mnt[PATH_MAX], path[PATH_MAX];
	struct stat st;
	pid_t daemon;

	create("h1", NULL);
	snprintf(mnt, sizeof(mnt), "%s", mount_vol("h1", "a"));
	FMT(path, "%s/old", mnt);
	cr_assert_eq(sfs_write_file(path, "x", 1), 0);
	daemon = daemon_of(mnt);
	cr_assert(daemon > 0);
	kill(daemon, SIGKILL);
	/* A request in flight when it dies fails with ECONNABORTED (or
	 * ECANCELED over io_uring); the ones after it with ENOTCONN. */
	for (int i = 0; i < 200 && (stat(path, &st) == 0 || errno != ENOTCONN);
	     i++)
		sfs_sleep_ms(10);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(errno, ENOTCONN, "expected a dead mount: %s",
		     strerror(errno));
	/* The next Mount cleans up and mounts afresh; the ephemeral data
	 * died with its key (by design). */
	cr_assert_str_eq(mount_vol("h1", "b"), mnt);
	cr_assert_eq(stat(mnt, &st), 0, "still dead: %s", strerror(errno));
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(sfs_write_file(path, "y", 1), 0);
	cr_assert_eq(refcount_of("h1"), 2);
	unmount_vol("h1", "a");
	cr_assert(is_mount(mnt));
	unmount_vol("h1", "b");
	cr_assert(!is_mount(mnt));
	remove_vol("h1");
	cr_assert_eq(count_mounts(), 0);
}

Test(volumed, engine_crash_refs_reclaimed_by_epoch)
{
	const char *mnt;

	json_decref(ok("/Plugin.Activate", NULL));
	create("e1", NULL);
	create("e2", NULL);
	/* Engine life 1: two containers use e1, one uses e2. */
	mnt = mount_vol("e1", "c1");
	mount_vol("e1", "c1"); /* docker cp */
	mount_vol("e1", "c2");
	mount_vol("e2", "c3");
	/* The engine crashed (no Unmount ever comes) and starts again. */
	json_decref(ok("/Plugin.Activate", NULL));
	/* c1 is restarted with its stored ID: its count restarts at 1. */
	mount_vol("e1", "c1");
	cr_assert_eq(refcount_of("e1"), 2); /* c1 now + c2's dead ref */
	unmount_vol("e1", "c1");
	/* Only dead refs of the old life were left: reclaimed. */
	cr_assert(!is_mount(mnt), "leaked refs kept the volume mounted");
	cr_assert_eq(refcount_of("e1"), 0);
	/* e2's container is gone for good: Remove reclaims and wipes. */
	remove_vol("e2");
	remove_vol("e1");
	cr_assert_eq(count_mounts(), 0);
}

Test(volumed_cli, live_restore_never_reclaims)
{
	static const char *const extra[] = {"--live-restore", NULL};
	const char *mnt;

	start_plugin_args(extra);
	json_decref(ok("/Plugin.Activate", NULL));
	create("l1", NULL);
	mnt = mount_vol("l1", "c1");
	json_decref(ok("/Plugin.Activate", NULL)); /* engine restarted */
	mount_vol("l1", "c1");			   /* docker cp: a live ref */
	cr_assert_eq(refcount_of("l1"), 2);
	fails("/VolumeDriver.Remove", "{\"Name\":\"l1\"}", 500, "in use");
	unmount_vol("l1", "c1");
	cr_assert(is_mount(mnt), "live container lost its volume");
	unmount_vol("l1", "c1");
	cr_assert(!is_mount(mnt));
	remove_vol("l1");
}

Test(volumed, remove_refused_while_mounted_now)
{
	const char *mnt;

	create("b1", NULL);
	mnt = mount_vol("b1", "a");
	fails("/VolumeDriver.Remove", "{\"Name\":\"b1\"}", 500, "in use");
	cr_assert(is_mount(mnt));
	json_decref(ok("/VolumeDriver.Get", "{\"Name\":\"b1\"}"));
	unmount_vol("b1", "a");
	remove_vol("b1");
}

Test(volumed_cli, refuses_bad_state_and_busy_socket)
{
	char path[PATH_MAX + 16];
	int status;

	start_plugin();
	/* A second plugin on the same live socket is refused. */
	{
		pid_t first = fx.pid;

		status = plugin_refuses();
		cr_assert_neq(status, 0);
		fx.pid = first;
	}
	stop_plugin(SIGTERM);
	cr_assert_eq(access(fx.sock, F_OK), -1, "socket left after SIGTERM");
	/* A state file it cannot trust: refuse to start (answering Get
	 * wrongly would make the engine forget volumes). */
	snprintf(path, sizeof(path), "%s/state.json", fx.proot);
	cr_assert_eq(sfs_write_file(path, "{\"version\":99}", 14), 0);
	status = plugin_refuses();
	cr_assert_eq(status, 1);
	{
		size_t len;
		char *log = sfs_read_file(fx.log, &len);

		cr_assert(log && strstr(log, path), "%s", log);
		free(log);
	}
	unlink(path);
	/* A stale socket file (plugin killed) is replaced. */
	start_plugin();
	stop_plugin(SIGKILL);
	cr_assert_eq(access(fx.sock, F_OK), 0);
	start_plugin();
	json_decref(ok("/VolumeDriver.List", "{}"));
}

/*
 * Load: 200 create/mount/unmount/remove cycles from 8 parallel clients.
 */

#define LOAD_CLIENTS 8
#define LOAD_CYCLES 200

struct load_arg {
	int t;
	int errors;
	char first_error[256];
};

/* Like ok(), but thread-safe and counting instead of asserting. */
static json_t *load_call(struct load_arg *a, const char *path, const char *body)
{
	char *req = docker_request(path, body);
	int fd = connect_sock(fx.sock);
	struct resp r = {0};
	const char *e;
	json_t *j = NULL;

	if (fd < 0 || send_all(fd, req, strlen(req)) < 0 ||
	    read_resp(fd, &r) < 0) {
		a->errors++;
		snprintf(a->first_error, sizeof(a->first_error),
			 "%s: no answer", path);
	} else {
		e = json_string_value(json_object_get(r.j, "Err"));
		if (r.status != 200 || !r.j || (e && *e)) {
			if (!a->errors++)
				snprintf(a->first_error, sizeof(a->first_error),
					 "%s: %s", path, r.body);
		} else {
			j = json_incref(r.j);
		}
	}
	if (fd >= 0)
		close(fd);
	resp_free(&r);
	free(req);
	return j;
}

static void *load_thread(void *p)
{
	struct load_arg *a = p;

	for (int i = a->t; i < LOAD_CYCLES; i += LOAD_CLIENTS) {
		char body[256], file[PATH_MAX + 16];
		json_t *j;

		snprintf(body, sizeof(body),
			 "{\"Name\":\"load-%d\",\"Opts\":%s}", i,
			 i % 4 == 3 ? "{\"hbi\":\"0\"}" : "null");
		json_decref(load_call(a, "/VolumeDriver.Create", body));
		snprintf(body, sizeof(body),
			 "{\"Name\":\"load-%d\",\"ID\":\"id-%d\"}", i, i);
		j = load_call(a, "/VolumeDriver.Mount", body);
		if (j) {
			snprintf(file, sizeof(file), "%s/f",
				 json_string_value(
				     json_object_get(j, "Mountpoint")));
			if (sfs_write_file(file, MARKER, strlen(MARKER)))
				a->errors++;
			json_decref(j);
		}
		json_decref(load_call(a, "/VolumeDriver.Unmount", body));
		snprintf(body, sizeof(body), "{\"Name\":\"load-%d\"}", i);
		json_decref(load_call(a, "/VolumeDriver.Remove", body));
	}
	return NULL;
}

Test(volumed, load_200_cycles_from_8_clients, .timeout = 120)
{
	struct load_arg args[LOAD_CLIENTS];
	pthread_t th[LOAD_CLIENTS];
	long before, after;
	int errors = 0, status;
	double t0;
	json_t *j;
	DIR *d;

	json_decref(ok("/Plugin.Activate", NULL));
	before = sfs_proc_status(fx.pid, "VmRSS");
	t0 = sfs_now_s();
	for (int t = 0; t < LOAD_CLIENTS; t++) {
		args[t] = (struct load_arg){.t = t};
		cr_assert_eq(
		    pthread_create(&th[t], NULL, load_thread, &args[t]), 0);
	}
	for (int t = 0; t < LOAD_CLIENTS; t++) {
		pthread_join(th[t], NULL);
		if (args[t].errors) {
			fprintf(stderr, "client %d: %d errors, first: %s\n", t,
				args[t].errors, args[t].first_error);
			errors += args[t].errors;
		}
	}
	after = sfs_proc_status(fx.pid, "VmRSS");
	fprintf(stderr,
		"volumed load: %d cycles, %d clients, %.1f s; plugin RSS "
		"%ld KiB before, %ld KiB after\n",
		LOAD_CYCLES, LOAD_CLIENTS, sfs_now_s() - t0, before, after);
	cr_log_info("plugin RSS %ld KiB before, %ld KiB after", before, after);
	if (errors)
		dump_log();
	cr_assert_eq(errors, 0);
	/* Zero leftovers: mounts, daemons, files, state entries. */
	cr_assert_eq(count_mounts(), 0);
	cr_assert_eq(wait_no_daemons(10), 0, "scratchfs daemons left");
	j = ok("/VolumeDriver.List", "{}");
	cr_assert_eq(json_array_size(json_object_get(j, "Volumes")), 0);
	json_decref(j);
	d = opendir(sfs_join(fx.proot, "volumes"));
	cr_assert(d);
	for (struct dirent *de; (de = readdir(d));)
		cr_assert(de->d_name[0] == '.', "left behind: %s", de->d_name);
	closedir(d);
	{
		size_t len;
		char *state =
		    sfs_read_file(sfs_join(fx.proot, "state.json"), &len);

		cr_assert(state && strstr(state, "\"volumes\": []"), "%s",
			  state);
		free(state);
	}
#ifndef __SANITIZE_ADDRESS__
	/* (ASan keeps freed memory in quarantine: no bound there.) */
	cr_assert(after - before < 64 * 1024, "RSS grew by %ld KiB",
		  after - before);
#endif
	/* A clean stop, so a sanitizer build reports any leak now. */
	status = stop_plugin(SIGTERM);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "plugin stopped with status %d", status);
	cr_assert(!log_has("Sanitizer"), "sanitizer report in the log");
	cr_assert(log_has("stopping (volumes stay mounted)"));
}
