/* test_log.c - fs/base/log.c: sfs_bug() says what broke through the log and
 * aborts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sfs_log.h"

TestSuite(log, .timeout = 30);

Test(log, bug_logs_the_message_and_aborts)
{
	char out[256] = "";
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		sfs_log_init("tbug", false);
		sfs_bug("slot %u of %s", 7U, "nine");
	}
	close(fds[1]);
	while ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "status %#x: not killed by SIGABRT", status);
	cr_assert_str_eq(out, "tbug: BUG: slot 7 of nine\n");
}
