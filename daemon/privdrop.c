/* Privilege drop, capabilities, seccomp, and the helper. See privdrop.h for what and
 * docs/privileges.md for why.
 *
 * The order in privdrop_apply() matters:
 *   1. if the uid changes, the helper learns (while we are still root) which file it may open
 *      and which files to remove, and answers: it takes no such instruction again; if not, it
 *      is dismissed (User = root can do both jobs itself);
 *   2. the bounding set loses everything (with a switch) or everything but CAP_NET_ADMIN
 *      (without: no helper does the network part then); needs CAP_SETPCAP, still ours;
 *   3. PR_SET_KEEPCAPS, then groups, gid and uid: the permitted set survives the switch;
 *   4. capset: permitted = effective = what 2 kept, inheritable and ambient empty;
 *   5. no-new-privs, and not dumpable again (the switch resets it; privdrop_prepare() set it
 *      before the key was read): no core dump, no ptrace by the new uid, no /proc/PID/mem;
 *      then a check that uid 0 cannot come back;
 *   6. the seccomp filter, last, so that nothing above needs to be allowed by it.
 * Before all of it the resolver is told whom to become, and drops (see resolver_drop()).
 *
 * The helper talks over a SOCK_SEQPACKET pair, one message per request:
 *   'A' config-path NUL path NUL ...  arm: remember the config path and the inodes of the
 *                                    files to remove (once; later ones are refused)
 *   'C'                              open the config path, answer with its descriptor
 *   'N', 'L', 'M'                    its network part: see "the helper's network part"
 * Each is answered with a 32-bit errno (0 on success), with SCM_RIGHTS for 'C'. When the
 * daemon's end closes (exit, crash, SIGKILL), an armed helper removes those files that still
 * have the inode they had at arming, so a daemon started since on the same interface keeps
 * its own, and exits.
 *
 * The resolver's pair carries 'A' (struct resolver_arm: the user, Sandbox) once, then
 *   'R' host NUL port NUL             look up, answered with struct resolver_reply
 * and it exits when the daemon's end closes. */
#define _GNU_SOURCE
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "netlink.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_USER "sealnet"
#define FALLBACK_USER "nobody"
#define HELPER_NAME "sealnetd-helper" /* 15 characters, the most a comm holds */
#define RESOLVER_NAME "sealnetd-resolv"

/* device_apply() runs again on every reload and every `set` through the control socket, and
 * it changes the interface's addresses, routes and MTU over rtnetlink (the kernel checks the
 * capability of the sender at each message, not only of the socket's opener) and sets
 * SO_MARK for FwMark: all of it needs CAP_NET_ADMIN, which is not scoped to our interface.
 * So after a switch of user the daemon keeps no capability: the helper keeps CAP_NET_ADMIN
 * (HELPER_CAPS) and does those few things for it, on the TUN's ifindex only (see "the
 * helper's network part" below). Without a switch (User = root, or a unit that already made
 * us the user) there is no helper, and the daemon keeps CAP_NET_ADMIN itself.
 *
 * Not kept: CAP_NET_BIND_SERVICE. A ListenPort below 1024 is bound at startup, as root; a
 * `set listen_port` or a reload to another port below 1024 later fails with EACCES and leaves
 * the old port in place (restart to move there). Keeping the capability for that rare case
 * would let a compromised daemon impersonate any system service on this host. */
#define KEEP_CAPS_SWITCHED 0ull
#define KEEP_CAPS_SAME_USER (1ull << CAP_NET_ADMIN)
#define HELPER_CAPS (1ull << CAP_NET_ADMIN)

#define MSG_ARM 'A'
#define MSG_OPEN 'C'
#define MSG_NET_ARM 'N'
#define MSG_NETLINK 'L'
#define MSG_MARK 'M'
#define MSG_RESOLVE 'R'
#define MSG_KEY_NAME 'K' /* before the drop: a key file the config names (PrivateKeyFile,
			  * PresharedKeyFile) */
#define MSG_KEY_OPEN 'k' /* after it: open one of those files, by its path */
/* The key files named before the drop, their paths one after another with their NULs. */
#define KEY_PATHS_MAX 16384
#define MSG_MAX (1 + (PRIVDROP_MAX_REMOVE + 1) * PATH_MAX)

static int helper_fd = -1;   /* our end of the pair, -1 without a helper */
static int resolver_fd = -1; /* our end of the resolver's pair */
static bool helper_armed;  /* uid switched: config opens go through the helper */
static char helper_config[PATH_MAX];

/* --- capabilities ------------------------------------------------------------------------ */

static int caps_get(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*effective = data[0].effective | (uint64_t)data[1].effective << 32;
	*permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	return 0;
}

/* The bounding set down to keep, when we may change it (CAP_SETPCAP): without it the
 * bounding set cannot matter, since no-new-privs stops every way of gaining capabilities. */
static int caps_bound(uint64_t keep)
{
	uint64_t eff = 0, prm = 0;
	int ret;

	ret = caps_get(&eff, &prm);
	if (ret || !(eff & (1ull << CAP_SETPCAP)))
		return ret;
	/* Until the kernel says there is no such capability. */
	for (int cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	return 0;
}

/* Effective = permitted = keep (what of it we hold), inheritable and ambient empty. */
static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
	uint64_t eff = 0, prm = 0;
	int ret;

	ret = caps_get(&eff, &prm);
	if (ret)
		return ret;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	keep &= prm;
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

/* --- seccomp ----------------------------------------------------------------------------- */

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
 * kill) are added in daemon_filter(). */
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
	/* memory: malloc, and sodium_malloc's guard pages and locking */
	{ "brk", ALLOW },
	{ "mmap", ALLOW },
	{ "munmap", ALLOW },
	{ "mremap", ALLOW },
	{ "mprotect", ALLOW },
	{ "madvise", ALLOW },
	{ "mlock", ALLOW },
	{ "munlock", ALLOW },
	{ "futex", ALLOW },
	{ "getrandom", ALLOW },
	/* the datapath's threads (Threads =), started after the drop so that they inherit it:
	 * pthread_create sets up each one, sched_getaffinity counts the CPUs for "auto"; clone
	 * itself is allowed for threads only, in daemon_filter() */
	{ "set_robust_list", ALLOW },
	{ "rseq", ALLOW },
	{ "sched_getaffinity", ALLOW },
	{ "clone3", DENY_ENOSYS }, /* its flags sit in memory, out of the filter's sight:
				      glibc then falls back on clone */
	/* descriptors: the TUN device, the control socket's and the metrics page's clients
	 * (libevent sizes reads with FIONREAD), /etc files when resolving (open and openat,
	 * read-only, are added in daemon_filter()); /dev/null for a daemon's stdio is opened
	 * before the drop */
	{ "read", ALLOW },
	{ "readv", ALLOW },
	{ "write", ALLOW },
	{ "writev", ALLOW },
	{ "close", ALLOW },
	{ "fcntl", ALLOW },
	{ "fstat", ALLOW },
	{ "newfstatat", ALLOW },
	{ "statx", ALLOW },
	{ "lseek", ALLOW },
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
				       rules[i].kind == ALLOW	      ? SCMP_ACT_ALLOW :
				       rules[i].kind == DENY_EACCES ? SCMP_ACT_ERRNO(EACCES) :
								      SCMP_ACT_ERRNO(ENOSYS),
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

static int daemon_filter(scmp_filter_ctx ctx, bool helper)
{
	/* The kinds of socket the daemon makes after setup: UDP for the tunnel (a new
	 * listen_port), AF_UNIX for syslog. No netlink: host names are looked up by the
	 * resolver, and the link changed by the helper or, without a switch, on the rtnetlink
	 * socket opened at startup. */
	static const int domains[] = { AF_INET, AF_INET6, AF_UNIX };
	struct scmp_arg_cmp cmp[2];
	int ret;

	ret = add_rules(ctx, daemon_rules, ARRAY_SIZE(daemon_rules));
	if (!ret)
		ret = add_rules(ctx, helper ? unlink_helper_rules : unlink_rules,
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
	{ "recvfrom", ALLOW },
	{ "recvmsg", ALLOW },
	{ "sendmsg", ALLOW },
	{ "sendto", ALLOW },
	{ "fcntl", ALLOW },
	{ "fstat", ALLOW },
	{ "newfstatat", ALLOW },
	{ "statx", ALLOW },
	{ "lstat", ALLOW },
	{ "unlink", ALLOW },
	{ "unlinkat", ALLOW },
	{ "close", ALLOW },
	{ "exit_group", ALLOW },
	{ "rt_sigreturn", ALLOW },
	{ "restart_syscall", ALLOW },
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

static int helper_filter(scmp_filter_ctx ctx, bool unused)
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

/* Anything the filter does not name gets action: SCMP_ACT_KILL_PROCESS for the daemon and the
 * helper (the whole process, not the thread: a daemon that lost a thread would go on in an
 * unknown state; the kernel logs the call that did it, audit type 1326, `dmesg`), an error
 * for the resolver. */
/* The resolver's calls: getaddrinfo() with the NSS modules of this system (dlopen() of a
 * module, /etc files read-only, DNS over UDP and TCP, nscd and systemd-resolved over AF_UNIX,
 * rtnetlink for the local addresses), and its socket to the daemon. Whatever else a module
 * does fails with EPERM: the look-up fails, and with it the reload that asked, nothing else. */
static const struct rule resolver_rules[] = {
	{ "read", ALLOW },
	{ "readv", ALLOW },
	{ "pread64", ALLOW }, /* dlopen() */
	{ "write", ALLOW },
	{ "writev", ALLOW },
	{ "close", ALLOW },
	{ "fcntl", ALLOW },
	{ "fstat", ALLOW },
	{ "newfstatat", ALLOW },
	{ "statx", ALLOW },
	{ "lseek", ALLOW },
	{ "brk", ALLOW },
	{ "mmap", ALLOW },
	{ "munmap", ALLOW },
	{ "mremap", ALLOW },
	{ "mprotect", ALLOW },
	{ "madvise", ALLOW },
	{ "futex", ALLOW },
	{ "getrandom", ALLOW },
	{ "uname", ALLOW },
	{ "getpid", ALLOW },
	{ "gettid", ALLOW },
	{ "clock_gettime", ALLOW },
	{ "gettimeofday", ALLOW },
	{ "rt_sigprocmask", ALLOW },
	{ "rt_sigreturn", ALLOW },
	{ "restart_syscall", ALLOW },
	{ "exit_group", ALLOW },
	{ "connect", ALLOW },
	{ "bind", ALLOW },
	{ "sendto", ALLOW },
	{ "recvfrom", ALLOW },
	{ "sendmsg", ALLOW },
	{ "recvmsg", ALLOW },
	{ "sendmmsg", ALLOW },
	{ "getsockname", ALLOW },
	{ "getpeername", ALLOW },
	{ "setsockopt", ALLOW },
	{ "getsockopt", ALLOW },
	{ "poll", ALLOW },
	{ "ppoll", ALLOW },
};

static int resolver_filter(scmp_filter_ctx ctx, bool unused)
{
	static const int domains[] = { AF_INET, AF_INET6, AF_UNIX };
	struct scmp_arg_cmp cmp[2];
	int ret;

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

static int seccomp_install(int (*fill)(scmp_filter_ctx, bool), bool arg, uint32_t action)
{
	scmp_filter_ctx ctx;
	int ret;

	ctx = seccomp_init(action);
	if (!ctx)
		return -ENOMEM;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!ret)
		ret = fill(ctx, arg);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

/* --- the helper -------------------------------------------------------------------------- */

struct helper_file {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
};

static int send_reply(int fd, int err, int passfd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	int32_t e = err;
	struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(&control, 0, sizeof(control));
	if (passfd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(e) ? 0 : -errno;
}

/* buf[0..len): config-path NUL path NUL ... */
static int helper_arm(const char *buf, size_t len, char *config, struct helper_file *files,
		      size_t *n_files)
{
	const char *p = buf, *end = buf + len;
	struct stat st;
	size_t i = 0;

	if (!len || end[-1])
		return -EINVAL;
	for (; p < end; p += strlen(p) + 1, i++) {
		if (strlen(p) >= PATH_MAX || i > PRIVDROP_MAX_REMOVE)
			return -EINVAL;
		if (i == 0) {
			strcpy(config, p);
			continue;
		}
		/* A file that is not there now is not ours to remove later. */
		if (!*p || lstat(p, &st))
			continue;
		strcpy(files[*n_files].path, p);
		files[*n_files].dev = st.st_dev;
		files[*n_files].ino = st.st_ino;
		(*n_files)++;
	}
	return 0;
}

static int helper_open(const char *config)
{
	int fd;

	if (!*config)
		return -ENOENT;
	/* Non-blocking so that a FIFO without a writer cannot hang us; reads of the file
	 * itself are the daemon's. */
	fd = open(config, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, 0)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* --- the helper's network part ---------------------------------------------------------- *
 *
 * The daemon keeps no capability after a switch of user; the helper keeps CAP_NET_ADMIN and
 * does for it what device_apply() needs at run time, and nothing else:
 *   'N' ifindex (int32)               arm, once, before 'A' (so while the daemon is root):
 *                                    the TUN's ifindex, 0 for none
 *   'L' struct netlink_req            MTU, up/down, address add/del, route add/del, built
 *                                    here by netlink.c after netlink_req_parse() checked it
 *                                    names the armed ifindex (a route's output interface
 *                                    is that ifindex too)
 *   'M' mark (uint32) + SCM_RIGHTS    SO_MARK on the socket passed, if it is UDP
 * The rtnetlink socket is opened at the helper's start, before its filter, which allows no
 * socket(). */
struct helper_net {
	bool armed;
	int ifindex;
	struct netlink *nl; /* NULL if it could not be opened: every 'L' fails */
};

static struct helper_net helper_net;

static int helper_net_arm(struct helper_net *net, const char *buf, size_t len)
{
	int32_t ifindex;

	if (len != sizeof(ifindex))
		return -EINVAL;
	memcpy(&ifindex, buf, sizeof(ifindex));
	if (ifindex < 0)
		return -EINVAL;
	net->ifindex = ifindex;
	net->armed = true;
	return 0;
}

static int helper_netlink(const struct helper_net *net, const char *buf, size_t len)
{
	struct netlink_req r;
	int ret;

	ret = netlink_req_parse(buf, len, net->ifindex, &r);
	if (ret)
		return ret;
	return net->nl ? netlink_req_run(net->nl, &r) : -ENETDOWN;
}

static int sockopt_int(int sock, int name, int *value)
{
	socklen_t len = sizeof(*value);

	if (getsockopt(sock, SOL_SOCKET, name, value, &len))
		return -errno;
	return len == sizeof(*value) ? 0 : -EINVAL;
}

/* The daemon's UDP sockets only: a mark on another kind (raw, netlink, TCP) is no FwMark. */
static int helper_mark(const char *buf, size_t len, int sock)
{
	int domain, type, protocol;
	uint32_t mark;

	if (len != sizeof(mark) || sock < 0)
		return -EINVAL;
	memcpy(&mark, buf, sizeof(mark));
	if (sockopt_int(sock, SO_DOMAIN, &domain) || sockopt_int(sock, SO_TYPE, &type) ||
	    sockopt_int(sock, SO_PROTOCOL, &protocol))
		return -ENOTSOCK;
	if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_DGRAM ||
	    protocol != IPPROTO_UDP)
		return -EPERM;
	if (setsockopt(sock, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return -errno;
	return 0;
}

/* One request into buf, and in *passfd the descriptor that came with it (-1 if none; any
 * beyond the first are closed). Returns its length, 0 when the daemon's end is closed, or
 * -errno. */
static ssize_t helper_recv(int fd, char *buf, size_t size, int *passfd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*passfd = -1;
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*passfd < 0)
				*passfd = got;
			else
				close(got);
		}
	}
	return n;
}

/* Static: nothing in the helper allocates once its filter is on. */
static char helper_buf[MSG_MAX + 1];
static char helper_config_path[PATH_MAX];
static struct helper_file helper_files[PRIVDROP_MAX_REMOVE];

/* Whether path is one of the NUL-ended paths in list[0..used). */
static bool key_path_listed(const char *list, size_t used, const char *path)
{
	for (size_t off = 0; off < used; off += strlen(list + off) + 1)
		if (!strcmp(list + off, path))
			return true;
	return false;
}

/* PrivateKeyFile, PresharedKeyFile: the daemon names each key file while it is still root
 * (whatever it names then, it could read itself), and after the drop the helper opens those
 * files only, as it opens the config: as uid 0 without capabilities. A reload that names
 * another key file is refused (-EPERM), as one of another config file would be. */
static char helper_key_paths[KEY_PATHS_MAX];
static size_t helper_key_used;

static void helper_key(int fd, size_t n, bool armed)
{
	const char *path = helper_buf + 1;
	int ret;

	helper_buf[n] = '\0';
	if (helper_buf[0] == MSG_KEY_NAME && !armed && n > 1 && strlen(path) == n - 1) {
		if (key_path_listed(helper_key_paths, helper_key_used, path)) {
			send_reply(fd, 0, -1);
		} else if (n > sizeof(helper_key_paths) - helper_key_used) {
			send_reply(fd, ENOSPC, -1);
		} else {
			memcpy(helper_key_paths + helper_key_used, path, n);
			helper_key_used += n;
			send_reply(fd, 0, -1);
		}
	} else if (helper_buf[0] == MSG_KEY_OPEN && armed && n > 1 &&
		   key_path_listed(helper_key_paths, helper_key_used, path)) {
		ret = helper_open(path);
		send_reply(fd, ret < 0 ? -ret : 0, ret);
		if (ret >= 0)
			close(ret);
	} else {
		send_reply(fd, EPERM, -1);
	}
}

static void helper_loop(int fd)
{
	size_t n_files = 0;
	bool armed = false;
	struct stat st;
	ssize_t n;
	int ret, passfd;

	for (;;) {
		n = helper_recv(fd, helper_buf, sizeof(helper_buf) - 1, &passfd);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		if (helper_buf[0] == MSG_NET_ARM && !armed && !helper_net.armed) {
			ret = helper_net_arm(&helper_net, helper_buf + 1, (size_t)n - 1);
			send_reply(fd, -ret, -1);
		} else if (helper_buf[0] == MSG_NETLINK && helper_net.armed) {
			ret = helper_netlink(&helper_net, helper_buf + 1, (size_t)n - 1);
			send_reply(fd, -ret, -1);
		} else if (helper_buf[0] == MSG_MARK && helper_net.armed) {
			ret = helper_mark(helper_buf + 1, (size_t)n - 1, passfd);
			send_reply(fd, -ret, -1);
		} else if (helper_buf[0] == MSG_ARM && !armed) {
			ret = helper_arm(helper_buf + 1, (size_t)n - 1, helper_config_path,
					 helper_files, &n_files);
			armed = ret == 0;
			if (!armed)
				n_files = 0;
			send_reply(fd, -ret, -1);
		} else if (helper_buf[0] == MSG_KEY_NAME || helper_buf[0] == MSG_KEY_OPEN) {
			helper_key(fd, (size_t)n, armed);
		} else if (helper_buf[0] == MSG_OPEN && armed && n == 1) {
			ret = helper_open(helper_config_path);
			send_reply(fd, ret < 0 ? -ret : 0, ret);
			if (ret >= 0)
				close(ret);
		} else {
			send_reply(fd, EPERM, -1);
		}
		if (passfd >= 0)
			close(passfd);
	}
	for (size_t i = 0; armed && i < n_files; i++)
		if (!lstat(helper_files[i].path, &st) && st.st_dev == helper_files[i].dev &&
		    st.st_ino == helper_files[i].ino)
			unlink(helper_files[i].path);
}

/* Leaves only fd on 3 and /dev/null on 0, 1 and 2: a terminal or a pipe kept open here
 * would keep whoever reads it (sealnet up, $(...)) waiting for the daemon's end. */
static int helper_fds(int fd)
{
	int keep, null;

	/* Out of the way first, wherever fd and /dev/null land. */
	keep = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (keep < 0 || null < 0)
		return -EBADF;
	for (int i = 0; i <= 2; i++)
		if (i != null && dup2(null, i) < 0)
			return -errno;
	if (dup2(keep, 3) < 0)
		return -errno;
	if (close_range(4, ~0u, 0)) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur > 1u << 20)
			rl.rlim_cur = 1024;
		for (int i = 4; i < (int)rl.rlim_cur; i++)
			close(i);
	}
	return 3;
}

/* A child of the daemon (helper or resolver) on its own: signals meant for the daemon (a
 * terminal's ^C, systemd's SIGTERM to the whole unit) must not stop it before the daemon has
 * gone; away from the terminal, if any, whose session may end long before the daemon; only
 * its end of the socket pair kept, on 3. Returns 3 or -errno. */
static int child_detach(int fd, const char *name)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
				       SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU };

	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
	setsid();
	prctl(PR_SET_NAME, name, 0, 0, 0);
	return helper_fds(fd);
}

static void __attribute__((noreturn)) helper_main(int fd)
{
	fd = child_detach(fd, HELPER_NAME);
	if (fd < 0)
		_exit(1);
	/* Before the filter, which allows no socket(); if it fails, netlink requests do. */
	if (netlink_open(&helper_net.nl))
		helper_net.nl = NULL;
	/* uid 0 stays: it is what owns /etc/sealnet and /run; of the capabilities only
	 * CAP_NET_ADMIN, for the daemon's interface (the network part above). */
	if (caps_bound(HELPER_CAPS) || caps_set(HELPER_CAPS) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    seccomp_install(helper_filter, false, SCMP_ACT_KILL_PROCESS))
		_exit(1);
	helper_loop(fd);
	_exit(0);
}

/* --- the resolver ------------------------------------------------------------------------ */

/* The drop, once, before any look-up: the daemon's user (or its uid 0 when there is no
 * switch), no capabilities, no-new-privs, not dumpable, and (Sandbox = on) its filter. */
struct resolver_arm {
	char kind; /* MSG_ARM */
	bool sandbox;
	uint32_t uid, gid;
};

struct resolver_reply {
	int32_t err;
	union endpoint ep;
};

static int resolver_drop(const struct resolver_arm *a)
{
	gid_t gid = a->gid;
	int ret;

	ret = caps_bound(0);
	if (ret)
		return ret;
	if (a->uid != getuid() && (setgroups(1, &gid) || setresgid(gid, gid, gid) ||
				   setresuid(a->uid, a->uid, a->uid)))
		return -errno;
	ret = caps_set(0);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return -errno;
	return a->sandbox ? seccomp_install(resolver_filter, false, SCMP_ACT_ERRNO(EPERM)) : 0;
}

/* One buffer for requests, in either process: MSG_RESOLVE host NUL port NUL. */
static char resolver_buf[1 + 256 + 8];

static void resolver_reply(int fd, int err, const union endpoint *ep)
{
	struct resolver_reply reply;

	memset(&reply, 0, sizeof(reply));
	reply.err = err;
	if (ep)
		reply.ep = *ep;
	send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
}

static void resolver_loop(int fd)
{
	struct resolver_arm arm;
	union endpoint ep;
	bool armed = false;
	const char *host = resolver_buf + 1, *port, *end;
	ssize_t n;
	int ret;

	for (;;) {
		n = recv(fd, resolver_buf, sizeof(resolver_buf) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		end = resolver_buf + n;
		port = memchr(host, '\0', (size_t)(end - host));
		if (!armed && resolver_buf[0] == MSG_ARM && n == (ssize_t)sizeof(arm)) {
			memcpy(&arm, resolver_buf, sizeof(arm));
			ret = resolver_drop(&arm);
			resolver_reply(fd, ret, NULL);
			if (ret)
				break;
			armed = true;
		} else if (armed && resolver_buf[0] == MSG_RESOLVE && port && port + 1 < end &&
			   !end[-1]) {
			ret = addr_lookup(host, port + 1, &ep);
			resolver_reply(fd, ret, ret ? NULL : &ep);
		} else {
			resolver_reply(fd, -EPERM, NULL);
		}
	}
}

static void __attribute__((noreturn)) resolver_main(int fd)
{
	fd = child_detach(fd, RESOLVER_NAME);
	if (fd < 0)
		_exit(1);
	resolver_loop(fd);
	_exit(0);
}

/* One request, one reply from the resolver; -EPIPE when it is gone. */
static int resolver_call(const void *req, size_t len, struct resolver_reply *reply)
{
	ssize_t n;

	if (resolver_fd < 0)
		return -EPIPE;
	if (send(resolver_fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -EPIPE;
	do
		n = recv(resolver_fd, reply, sizeof(*reply), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*reply) ? 0 : -EPIPE;
}

/* Through the resolver, once the daemon has dropped: for addr_set_resolver(). */
static int resolver_lookup(const char *host, const char *port, union endpoint *out)
{
	struct resolver_reply reply;
	size_t hlen = strlen(host) + 1, plen = strlen(port) + 1;

	if (1 + hlen + plen > sizeof(resolver_buf))
		return -EHOSTUNREACH;
	resolver_buf[0] = MSG_RESOLVE;
	memcpy(resolver_buf + 1, host, hlen);
	memcpy(resolver_buf + 1 + hlen, port, plen);
	if (resolver_call(resolver_buf, 1 + hlen + plen, &reply)) {
		log_err("%s: %s: the resolver process is gone: no host name can be looked up "
			"until a restart",
			__func__, host);
		return -EHOSTUNREACH;
	}
	if (reply.err)
		return -EHOSTUNREACH;
	*out = reply.ep;
	return 0;
}

/* Tells the resolver whom to become (while it is still root) and waits for it to drop. */
static int resolver_arm_call(uid_t uid, gid_t gid, bool sandbox)
{
	struct resolver_arm arm;
	struct resolver_reply reply;
	int ret;

	memset(&arm, 0, sizeof(arm)); /* the padding too: it goes to another process */
	arm.kind = MSG_ARM;
	arm.sandbox = sandbox;
	arm.uid = uid;
	arm.gid = gid;

	ret = resolver_call(&arm, sizeof(arm), &reply);
	return ret ? ret : reply.err;
}

/* Forks a child that runs child_main(fd) with its end of a new SEQPACKET pair; *ours gets
 * the other end. */
static int fork_child(void (*child_main)(int), int *ours)
{
	int sv[2], ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (pid == 0) {
		close(sv[0]);
		child_main(sv[1]);
	}
	close(sv[1]);
	*ours = sv[0];
	return 0;
}

int privdrop_prepare(void)
{
	int ret;

	if (helper_fd >= 0)
		return 0;
	/* From now on, before the private key is read: no core dump, no ptrace but by root. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return -errno;
	ret = fork_child(helper_main, &helper_fd);
	if (!ret)
		ret = fork_child(resolver_main, &resolver_fd);
	return ret;
}

/* One request, one answer; *passfd gets a descriptor if one came. Returns the helper's
 * answer (0 or -errno), or -EPIPE when the helper is gone. */
/* Sends req, with sendfd (if not -1) as SCM_RIGHTS. */
static int helper_send(const void *req, size_t len, int sendfd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)req, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (sendfd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &sendfd, sizeof(int));
	}
	if (sendmsg(helper_fd, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		return errno == ECONNRESET ? -EPIPE : -errno;
	return 0;
}

/* helper_call() with a descriptor sent along (sendfd, -1 for none). */
static int helper_call_fd(const void *req, size_t len, int sendfd, int *passfd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	int32_t e;
	struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int ret;

	if (passfd)
		*passfd = -1;
	if (helper_fd < 0)
		return -EPIPE;
	ret = helper_send(req, len, sendfd);
	if (ret)
		return ret;
	do
		n = recvmsg(helper_fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	if (n != (ssize_t)sizeof(e))
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int fd;

			memcpy(&fd, CMSG_DATA(c), sizeof(int));
			if (passfd && !e)
				*passfd = fd;
			else
				close(fd);
		}
	}
	if (passfd && !e && *passfd < 0)
		return -EPROTO;
	return -e;
}

static int helper_call(const void *req, size_t len, int *passfd)
{
	return helper_call_fd(req, len, -1, passfd);
}

/* --- the helper's network part, the daemon's side ---------------------------------------- */

static bool net_via_helper; /* switched: the link and SO_MARK go through the helper */

/* Before the file arm, while we are root: the helper takes 'N' only then. */
static int helper_net_arm_call(int ifindex)
{
	char msg[1 + sizeof(int32_t)];
	int32_t i = ifindex > 0 ? ifindex : 0;

	msg[0] = MSG_NET_ARM;
	memcpy(msg + 1, &i, sizeof(i));
	return helper_call(msg, sizeof(msg), NULL);
}

/* For netlink_set_forward(). */
static int helper_netlink_call(const struct netlink_req *r)
{
	char msg[1 + sizeof(*r)];

	msg[0] = MSG_NETLINK;
	memcpy(msg + 1, r, sizeof(*r));
	return helper_call(msg, sizeof(msg), NULL);
}

int privdrop_set_mark(int fd, uint32_t mark)
{
	char msg[1 + sizeof(mark)];

	if (!net_via_helper)
		return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ? -errno : 0;
	msg[0] = MSG_MARK;
	memcpy(msg + 1, &mark, sizeof(mark));
	return helper_call_fd(msg, sizeof(msg), fd, NULL);
}

static int helper_arm_call(const struct privdrop_opts *o)
{
	static char msg[MSG_MAX];
	const char *config = o->config_path ? o->config_path : "";
	size_t len = 1, n;
	int ret;

	msg[0] = MSG_ARM;
	n = strlen(config) + 1;
	if (n > PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(msg + len, config, n);
	len += n;
	for (size_t i = 0; i < PRIVDROP_MAX_REMOVE; i++) {
		const char *p = o->remove[i] ? o->remove[i] : "";

		n = strlen(p) + 1;
		if (n > PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(msg + len, p, n);
		len += n;
	}
	ret = helper_call(msg, len, NULL);
	if (!ret) {
		snprintf(helper_config, sizeof(helper_config), "%s", config);
		helper_armed = true;
	}
	return ret;
}

/* No switch means no helper: closing our end makes it exit, unarmed, removing nothing. */
static void helper_dismiss(void)
{
	if (helper_fd >= 0)
		close(helper_fd);
	helper_fd = -1;
}

int privdrop_open_config(const char *path)
{
	int fd, ret;

	if (!helper_armed) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	/* The helper would open its own path anyway; say so rather than read another file. */
	if (strcmp(path, helper_config))
		return -EPERM;
	ret = helper_call((const char[]){ MSG_OPEN }, 1, &fd);
	return ret ? ret : fd;
}

/* The daemon's side of helper_key(): the key files named before the drop. */
static char key_file_paths[KEY_PATHS_MAX];
static size_t key_file_used;

int privdrop_open_key(const char *path)
{
	char msg[1 + PATH_MAX];
	size_t len = strlen(path);
	int fd, ret;

	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	if (helper_armed) {
		if (!key_path_listed(key_file_paths, key_file_used, path))
			return -EPERM;
		msg[0] = MSG_KEY_OPEN;
		memcpy(msg + 1, path, len);
		ret = helper_call(msg, 1 + len, &fd);
		return ret ? ret : fd;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, 0)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* Still root: tell the helper, if there is one, which file a reload may read. */
	if (helper_fd >= 0) {
		msg[0] = MSG_KEY_NAME;
		memcpy(msg + 1, path, len);
		ret = helper_call(msg, 1 + len, NULL);
		if (ret) {
			close(fd);
			return ret;
		}
		if (!key_path_listed(key_file_paths, key_file_used, path)) {
			memcpy(key_file_paths + key_file_used, path, len + 1);
			key_file_used += len + 1;
		}
	}
	return fd;
}

const char *privdrop_open_hint(int err)
{
	if (err == -ENOSPC)
		return " (the helper keeps the paths of at most 16 KiB of key files)";
	if (!helper_armed)
		return "";
	if (err == -EACCES)
		return " (the daemon has dropped root: its helper reads the file as root without "
		       "capabilities, so the file and its directories must be root's; see "
		       "docs/privileges.md)";
	if (err == -EPIPE)
		return " (the daemon's privileged helper is gone: restart the daemon to reload)";
	if (err == -EPERM)
		return " (after the privilege drop only the file the daemon started with can be "
		       "read)";
	return "";
}

/* --- the drop ---------------------------------------------------------------------------- */

struct user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

static int find_user(const char *want, struct user *u)
{
	const char *name = want ? want : DEFAULT_USER;
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw && !want) {
		name = FALLBACK_USER;
		errno = 0;
		pw = getpwnam(name);
	}
	if (!pw) {
		if (want)
			log_err("%s: User = %s: no such user", __func__, want);
		else
			log_err("%s: neither user " DEFAULT_USER " nor " FALLBACK_USER
				" exists: create " DEFAULT_USER " (make install does) or set User",
				__func__);
		return errno ? -errno : -ENOENT;
	}
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

static int switch_user(const struct user *u)
{
	uid_t r, e, s;

	/* Only the primary group: supplementary ones would be rights nobody asked for. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(1, &u->gid) ||
	    setresgid(u->gid, u->gid, u->gid) || setresuid(u->uid, u->uid, u->uid))
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return -errno;
	if (getresuid(&r, &e, &s) || r != u->uid || e != u->uid || s != u->uid)
		return -EPERM;
	return 0;
}

int privdrop_apply(const struct privdrop_opts *o)
{
	struct user u;
	bool do_switch;
	uint64_t keep;
	int ret;

	ret = find_user(o->user, &u);
	if (ret)
		return ret;
	do_switch = u.uid != geteuid() || u.uid != getuid();
	keep = do_switch ? KEEP_CAPS_SWITCHED : KEEP_CAPS_SAME_USER;
	if (do_switch) {
		ret = helper_net_arm_call(o->ifindex);
		if (!ret)
			ret = helper_arm_call(o);
		if (ret) {
			log_err("%s: the privileged helper refused or is gone: %s", __func__,
				strerror(-ret));
			return ret;
		}
	} else {
		helper_dismiss();
	}
	/* Host names are looked up in another process from now on (docs/privileges.md). */
	ret = resolver_arm_call(u.uid, u.gid, o->sandbox);
	if (ret) {
		log_err("%s: the resolver process refused or is gone: %s", __func__,
			strerror(-ret));
		return ret;
	}
	ret = caps_bound(keep);
	if (ret) {
		log_err("%s: cannot limit the bounding set: %s", __func__, strerror(-ret));
		return ret;
	}
	if (do_switch) {
		ret = switch_user(&u);
		if (ret) {
			log_err("%s: cannot switch to user %s (uid %u, gid %u): %s", __func__,
				u.name, (unsigned)u.uid, (unsigned)u.gid, strerror(-ret));
			return ret;
		}
	}
	/* The switch cleared the effective set; this also empties what a uid of 0 kept. */
	ret = caps_set(keep);
	if (ret) {
		log_err("%s: cannot set capabilities: %s", __func__, strerror(-ret));
		return ret;
	}
	/* Trust, but check: root must not come back. */
	if (do_switch && (setuid(0) == 0 || (u.gid != 0 && setgid(0) == 0))) {
		log_err("%s: could become root again after the switch to %s", __func__, u.name);
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		ret = -errno;
		log_err("%s: prctl: %s", __func__, strerror(-ret));
		return ret;
	}
	if (o->sandbox) {
		ret = seccomp_install(daemon_filter, do_switch, SCMP_ACT_KILL_PROCESS);
		if (ret) {
			log_err("%s: cannot install the seccomp filter: %s", __func__,
				strerror(-ret));
			return ret;
		}
	}
	addr_set_resolver(resolver_lookup);
	if (do_switch) {
		netlink_set_forward(helper_netlink_call);
		net_via_helper = true;
	}
	log_info("running as %s (uid %u), capabilities: %s, seccomp filter %s", u.name,
		 (unsigned)u.uid,
		 do_switch ? "none (the helper changes the interface)" : "cap_net_admin",
		 o->sandbox ? "on" : "off (Sandbox = off)");
	return 0;
}
