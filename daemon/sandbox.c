/* The seccomp filters: one table of system calls per process, and the calls whose arguments
 * are worth checking added beside it. See sandbox.h for what each filter is for and
 * docs/privileges.md for why each call is there. */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum rule_kind {
	ALLOW,
	DENY_EACCES, /* what the unprivileged user would get anyway: not worth a kill */
	DENY_ENOSYS, /* "not implemented here", so that libc takes another way */
};

struct rule {
	const char *name; /* names the running architecture lacks are skipped */
	enum rule_kind kind;
};

/* The system calls of the running daemon, found with `strace -f` over tests/netns/40 (traffic
 * with offloads, handshakes, wg show/set, reload with a host name to resolve, SIGUSR1, metrics
 * scrapes, shutdown, in the foreground and daemonized) and grouped by who makes them. Where
 * libc picks one of two calls by architecture or kernel (epoll_wait or epoll_pwait,
 * newfstatat or statx, dup2 or dup3), both are here, and so are the calls the vDSO answers
 * unless it cannot (clock_gettime). Calls with arguments worth checking (socket, open, ioctl,
 * kill) are added in daemon_filter(). The daemon and the resolver share two tables:
 * descriptors and memory. */

/* Descriptors: the TUN device, sockets, the config and /etc files read-only (open and openat
 * with their flags checked are added per filter). */
static const struct rule io_rules[] = {
	{ "read", ALLOW },  { "readv", ALLOW }, { "write", ALLOW }, { "writev", ALLOW },
	{ "close", ALLOW }, { "fcntl", ALLOW }, { "fstat", ALLOW }, { "newfstatat", ALLOW },
	{ "statx", ALLOW }, { "lseek", ALLOW },
};

/* Memory: malloc, sodium_malloc's guard pages, locks between threads, random bytes. */
static const struct rule memory_rules[] = {
	{ "brk", ALLOW },      { "mmap", ALLOW },    { "munmap", ALLOW }, { "mremap", ALLOW },
	{ "mprotect", ALLOW }, { "madvise", ALLOW }, { "futex", ALLOW },  { "getrandom", ALLOW },
};

static const struct rule daemon_rules[] = {
	/* the event loop (libevent) and signals */
	{ "epoll_wait", ALLOW },
	{ "epoll_pwait", ALLOW },
	{ "epoll_ctl", ALLOW },
	{ "rt_sigreturn", ALLOW },
	{ "rt_sigprocmask", ALLOW },
	{ "rt_sigaction", ALLOW }, /* libevent restores the handlers when its events go */
	{ "restart_syscall", ALLOW },
	{ "clock_gettime", ALLOW },
	{ "gettimeofday", ALLOW },
	{ "getpid", ALLOW }, /* syslog */
	{ "gettid", ALLOW }, /* abort() */
	{ "exit_group", ALLOW },
	/* memory beyond memory_rules: sodium_malloc's locking */
	{ "mlock", ALLOW },
	{ "munlock", ALLOW },
	/* the datapath's threads (Threads =), started after the drop so that they inherit it:
	 * pthread_create sets up each one, sched_getaffinity counts the CPUs for "auto"; clone
	 * itself is allowed for threads only, in daemon_filter() */
	{ "set_robust_list", ALLOW },
	{ "rseq", ALLOW },
	{ "sched_getaffinity", ALLOW },
	{ "clone3", DENY_ENOSYS }, /* its flags sit in memory, out of the filter's sight:
				      glibc then falls back on clone */
	/* descriptors beyond io_rules (the control socket's and the metrics page's clients,
	 * whose reads libevent sizes with FIONREAD, added in daemon_filter()); /dev/null for a
	 * daemon's stdio is opened before the drop */
	{ "dup2", ALLOW },
	{ "dup3", ALLOW },
	{ "uname", ALLOW }, /* the resolver */
	/* sockets: UDP (set listen_port opens new ones), netlink, clients of the control socket
	 * and the metrics page, syslog, and the resolver (nscd, DNS) on reload */
	{ "sendto", ALLOW },
	{ "recvfrom", ALLOW },
	{ "sendmsg", ALLOW },
	{ "recvmsg", ALLOW },
	{ "sendmmsg", ALLOW },
	{ "bind", ALLOW },
	{ "connect", ALLOW },
	{ "accept4", ALLOW },
	{ "shutdown", ALLOW },
	{ "getsockname", ALLOW },
	{ "setsockopt", ALLOW },
	{ "poll", ALLOW },
	{ "ppoll", ALLOW },
};

/* On the way out the daemon removes its control socket and pid file. As root (User = root) it
 * can; otherwise the helper does, and the daemon's own attempt gets what the directories'
 * permissions would answer anyway. */
static const struct rule unlink_rules[] = { { "unlink", ALLOW }, { "unlinkat", ALLOW } };
static const struct rule unlink_helper_rules[] = { { "unlink", DENY_EACCES },
						   { "unlinkat", DENY_EACCES } };

/* Sanitizer builds (make asan) only: at exit the leak checker stops the process with a clone
 * of itself that ptrace()s it and reads /proc/self/task; the runtime's own _exit() takes the
 * alternate signal stack down, in the helper too. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
static const struct rule sanitizer_rules[] = {
	{ "clone", ALLOW },
	{ "exit", ALLOW },
	{ "ptrace", ALLOW },
	{ "wait4", ALLOW },
	{ "prctl", ALLOW },
	{ "sched_yield", ALLOW },
	{ "sigaltstack", ALLOW },
	{ "getdents", ALLOW },
	{ "getdents64", ALLOW },
	{ "getppid", ALLOW },
	{ "kill", ALLOW },
	{ "tgkill", ALLOW },
	{ "nanosleep", ALLOW },
	{ "clock_nanosleep", ALLOW },
	{ "readlink", ALLOW },
	{ "pipe", ALLOW }, /* a report checks what memory it may show by writing it to a pipe */
	{ "pipe2", ALLOW },
};
static const struct rule sanitizer_helper_rules[] = {
	{ "sigaltstack", ALLOW },
	{ "munmap", ALLOW },
};
#endif

static int add_rules(scmp_filter_ctx ctx, const struct rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(rules[i].name), ret;

		if (nr == __NR_SCMP_ERROR)
			continue;
		ret = seccomp_rule_add(ctx,
				       rules[i].kind == ALLOW         ? SCMP_ACT_ALLOW
				       : rules[i].kind == DENY_EACCES ? SCMP_ACT_ERRNO(EACCES)
								      : SCMP_ACT_ERRNO(ENOSYS),
				       nr, 0);
		if (ret) {
			log_err("%s: seccomp rule for %s: %s", __func__, rules[i].name,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Adds nothing when the architecture lacks the call (open on arm64, for one). */
/* io_rules and memory_rules. */
static int add_shared_rules(scmp_filter_ctx ctx)
{
	int ret = add_rules(ctx, io_rules, ARRAY_SIZE(io_rules));

	return ret ? ret : add_rules(ctx, memory_rules, ARRAY_SIZE(memory_rules));
}

static int add_rule_if(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		       const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

/* O_TMPFILE without the O_DIRECTORY it includes: the bit that makes an unnamed file. */
#define OPEN_TMPFILE_BIT 020000000

/* What opening a file for reading only leaves out: any write access, O_CREAT, O_TRUNC (which
 * Linux honours even with O_RDONLY, given write permission) and an unnamed O_TMPFILE. */
#define OPEN_WRITING (O_ACCMODE | O_CREAT | O_TRUNC | OPEN_TMPFILE_BIT)

/* Opens whose flags have none of the bits of forbid. */
static int add_open_rules(scmp_filter_ctx ctx, scmp_datum_t forbid)
{
	struct scmp_arg_cmp open_flags = SCMP_A1(SCMP_CMP_MASKED_EQ, forbid, 0);
	struct scmp_arg_cmp openat_flags = SCMP_A2(SCMP_CMP_MASKED_EQ, forbid, 0);
	int ret;

	ret = add_rule_if(ctx, SCMP_ACT_ALLOW, "open", 1, &open_flags);
	if (!ret)
		ret = add_rule_if(ctx, SCMP_ACT_ALLOW, "openat", 1, &openat_flags);
	return ret;
}

/* ioctl(2) with this request only. */
static int allow_ioctl(scmp_filter_ctx ctx, unsigned long request)
{
	struct scmp_arg_cmp cmp = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)request);

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &cmp);
}

static int daemon_filter(scmp_filter_ctx ctx, bool helper_unlinks)
{
	/* The kinds of socket the daemon makes after setup: UDP for the tunnel (a new
	 * listen_port), AF_UNIX for syslog. No netlink: host names are looked up by the
	 * resolver, and the link changed by the helper or, without a switch, on the rtnetlink
	 * socket opened at startup. */
	static const int domains[] = { AF_INET, AF_INET6, AF_UNIX };
	struct scmp_arg_cmp cmp[2];
	int ret;

	ret = add_shared_rules(ctx);
	if (!ret)
		ret = add_rules(ctx, daemon_rules, ARRAY_SIZE(daemon_rules));
	if (!ret)
		ret = add_rules(ctx, helper_unlinks ? unlink_helper_rules : unlink_rules,
				ARRAY_SIZE(unlink_rules));
	if (ret)
		return ret;
#ifdef SANITIZER_BUILD
	ret = add_rules(ctx, sanitizer_rules, ARRAY_SIZE(sanitizer_rules));
	if (ret)
		return ret;
	/* Before printing a report the runtime asks whether stderr is a terminal (to colour
	 * it): without this, a leak or UBSan report ends in SIGSYS and is never written. */
	ret = allow_ioctl(ctx, TCGETS);
	if (ret)
		return ret;
#endif
	for (size_t i = 0; i < ARRAY_SIZE(domains); i++) {
		cmp[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i]);
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, cmp);
		if (ret)
			return ret;
	}
#ifdef SANITIZER_BUILD
	/* A daemonized sanitizer build reports into the file named by log_path, which the runtime
	 * creates (O_WRONLY | O_CREAT) only when it has something to report. */
	ret = add_open_rules(ctx, OPEN_TMPFILE_BIT);
#else
	/* Read-only: what the running daemon opens is the resolver's files (/etc/hosts,
	 * resolv.conf, nsswitch.conf, gai.conf, NSS modules) and, with User = root, the config
	 * on reload. Everything it writes to was opened before the drop: the TUN, the log file,
	 * /dev/null for a daemon's stdio. With User = root it is still uid 0, and a write-open
	 * would let a daemon taken over rewrite any root-owned file (/etc/passwd, a unit, a
	 * cron job). */
	ret = add_open_rules(ctx, OPEN_WRITING);
#endif
	if (ret)
		return ret;
	/* FIONREAD: libevent sizes its reads with it, and so does the resolver. SIOCGIFINDEX and
	 * SIOCGIFNAME: an IPv6 link-local endpoint's zone, "[fe80::1%eth0]:51820", in a set, a
	 * reload or a get (if_nametoindex(), if_indextoname()); they only read names and
	 * indexes, which /sys/class/net shows anyone. */
	ret = allow_ioctl(ctx, FIONREAD);
	if (!ret)
		ret = allow_ioctl(ctx, SIOCGIFINDEX);
	if (!ret)
		ret = allow_ioctl(ctx, SIOCGIFNAME);
	if (ret)
		return ret;
	/* abort() signals itself, and nothing else may be signalled. */
	cmp[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	ret = add_rule_if(ctx, SCMP_ACT_ALLOW, "tgkill", 1, cmp);
	if (!ret)
		ret = add_rule_if(ctx, SCMP_ACT_ALLOW, "kill", 1, cmp);
#ifndef SANITIZER_BUILD
	/* Threads, not processes: a new process would escape nothing (it inherits the filter)
	 * but has no business here. A thread that ends calls exit. Sanitizer builds allow
	 * both outright (sanitizer_rules). */
	cmp[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, cmp);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
#endif
	return ret;
}

/* The helper's calls: its socket, opening the config read-only, removing files; the network
 * part adds its own (helper_net_filter()). */
static const struct rule helper_rules[] = {
	{ "recvfrom", ALLOW },   { "recvmsg", ALLOW },      { "sendmsg", ALLOW },
	{ "sendto", ALLOW },     { "fcntl", ALLOW },        { "fstat", ALLOW },
	{ "newfstatat", ALLOW }, { "statx", ALLOW },        { "lstat", ALLOW },
	{ "unlink", ALLOW },     { "unlinkat", ALLOW },     { "close", ALLOW },
	{ "exit_group", ALLOW }, { "rt_sigreturn", ALLOW }, { "restart_syscall", ALLOW },
};

/* The network part's calls beyond its socket's sendto and recvmsg (helper_rules): reading
 * what kind of socket the daemon passed, and SO_MARK on it, no other option. */
static int helper_net_filter(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp cmp[2];
	int ret;

	cmp[0] = SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET);
	ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 1, cmp);
	cmp[1] = SCMP_A2(SCMP_CMP_EQ, SO_MARK);
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2, cmp);
	return ret;
}

static int helper_filter(scmp_filter_ctx ctx)
{
	int ret;

	ret = add_rules(ctx, helper_rules, ARRAY_SIZE(helper_rules));
#ifdef SANITIZER_BUILD
	if (!ret)
		ret = add_rules(ctx, sanitizer_helper_rules, ARRAY_SIZE(sanitizer_helper_rules));
#endif
	if (!ret)
		ret = add_open_rules(ctx, OPEN_WRITING);
	if (!ret)
		ret = helper_net_filter(ctx);
	return ret;
}

/* The resolver's calls: getaddrinfo() with the NSS modules of this system (dlopen() of a
 * module, /etc files read-only, DNS over UDP and TCP, nscd and systemd-resolved over AF_UNIX,
 * rtnetlink for the local addresses), and its socket to the daemon. Whatever else a module
 * does fails with EPERM: the look-up fails, and with it the reload that asked, nothing else. */
static const struct rule resolver_rules[] = {
	{ "pread64", ALLOW }, /* dlopen() */
	{ "uname", ALLOW },        { "getpid", ALLOW },
	{ "gettid", ALLOW },       { "clock_gettime", ALLOW },
	{ "gettimeofday", ALLOW }, { "rt_sigprocmask", ALLOW },
	{ "rt_sigreturn", ALLOW }, { "restart_syscall", ALLOW },
	{ "exit_group", ALLOW },   { "connect", ALLOW },
	{ "bind", ALLOW },         { "sendto", ALLOW },
	{ "recvfrom", ALLOW },     { "sendmsg", ALLOW },
	{ "recvmsg", ALLOW },      { "sendmmsg", ALLOW },
	{ "getsockname", ALLOW },  { "getpeername", ALLOW },
	{ "setsockopt", ALLOW },   { "getsockopt", ALLOW },
	{ "poll", ALLOW },         { "ppoll", ALLOW },
};

static int resolver_filter(scmp_filter_ctx ctx)
{
	static const int domains[] = { AF_INET, AF_INET6, AF_UNIX };
	struct scmp_arg_cmp cmp[2];
	int ret;

	ret = add_shared_rules(ctx);
	if (!ret)
		ret = add_rules(ctx, resolver_rules, ARRAY_SIZE(resolver_rules));
#ifdef SANITIZER_BUILD
	if (!ret)
		ret = add_rules(ctx, sanitizer_helper_rules, ARRAY_SIZE(sanitizer_helper_rules));
#endif
	for (size_t i = 0; !ret && i < ARRAY_SIZE(domains); i++) {
		cmp[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i]);
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, cmp);
	}
	cmp[0] = SCMP_A0(SCMP_CMP_EQ, AF_NETLINK);
	cmp[1] = SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE);
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, cmp);
	cmp[0] = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, cmp);
	if (!ret)
		ret = add_open_rules(ctx, OPEN_WRITING);
	return ret;
}

/* A filter whose default is action, on this architecture only. NULL: no memory. */
static scmp_filter_ctx filter_new(uint32_t action)
{
	scmp_filter_ctx ctx;

	ctx = seccomp_init(action);
	if (ctx && seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) {
		seccomp_release(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* Loads ctx if filling it worked (ret: what the filling returned), and frees it either way. */
static int filter_load(scmp_filter_ctx ctx, int ret)
{
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

int sandbox_daemon(bool helper_unlinks)
{
	scmp_filter_ctx ctx = filter_new(SCMP_ACT_KILL_PROCESS);

	return ctx ? filter_load(ctx, daemon_filter(ctx, helper_unlinks)) : -ENOMEM;
}

int sandbox_helper(void)
{
	scmp_filter_ctx ctx = filter_new(SCMP_ACT_KILL_PROCESS);

	return ctx ? filter_load(ctx, helper_filter(ctx)) : -ENOMEM;
}

int sandbox_resolver(void)
{
	scmp_filter_ctx ctx = filter_new(SCMP_ACT_ERRNO(EPERM));

	return ctx ? filter_load(ctx, resolver_filter(ctx)) : -ENOMEM;
}
