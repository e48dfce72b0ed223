/* The privilege drop: capabilities, the switch of user, and the order of it all; the helper
 * and the resolver it relies on are in helper.c and resolver.c, the filters in sandbox.c. See
 * privdrop.h for what and docs/privileges.md for why.
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
 * Before all of it the resolver is told whom to become, and drops (resolver_arm()). */
#define _GNU_SOURCE
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "helper.h"
#include "log.h"
#include "netlink.h"
#include "resolver.h"
#include "sandbox.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_USER "sealnet"
#define FALLBACK_USER "nobody"

/* device_apply() runs again on every reload and every `set` through the control socket, and
 * it changes the interface's addresses, routes and MTU over rtnetlink (the kernel checks the
 * capability of the sender at each message, not only of the socket's opener) and sets
 * SO_MARK for FwMark: all of it needs CAP_NET_ADMIN, which is not scoped to our interface.
 * So after a switch of user the daemon keeps no capability: the helper keeps CAP_NET_ADMIN
 * and does those few things for it, on the TUN's ifindex only (helper.h). Without a switch
 * (User = root, or a unit that already made us the user) there is no helper, and the daemon
 * keeps CAP_NET_ADMIN itself.
 *
 * Not kept: CAP_NET_BIND_SERVICE. A ListenPort below 1024 is bound at startup, as root; a
 * `set listen_port` or a reload to another port below 1024 later fails with EACCES and leaves
 * the old port in place (restart to move there). Keeping the capability for that rare case
 * would let a compromised daemon impersonate any system service on this host. */
#define KEEP_CAPS_SWITCHED 0ull
#define KEEP_CAPS_SAME_USER (1ull << CAP_NET_ADMIN)

/* What the drop decided, for the opens and SO_MARK that come after it. */
static struct {
	bool prepared;
	bool via_helper;       /* switched: opens, the link and SO_MARK go through the helper */
	char config[PATH_MAX]; /* the one config file the helper opens */
} dropped;

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

/* Without CAP_SETPCAP the bounding set cannot matter, since no-new-privs stops every way of
 * gaining capabilities. */
int privdrop_caps_bound(uint64_t keep)
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

int privdrop_caps_set(uint64_t keep)
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

/* --- the children ------------------------------------------------------------------------ */

/* Leaves only fd on 3 and /dev/null on 0, 1 and 2: a terminal or a pipe kept open here
 * would keep whoever reads it (sealnet up, $(...)) waiting for the daemon's end. */
static int child_fds(int fd)
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
	static const int ignored[] = { SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGUSR1,
				       SIGUSR2, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU };

	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
	setsid();
	prctl(PR_SET_NAME, name, 0, 0, 0);
	return child_fds(fd);
}

int privdrop_spawn(const char *name, void (*child_main)(int fd), int *ours)
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
		ret = child_detach(sv[1], name);
		if (ret < 0)
			_exit(1);
		child_main(ret);
		_exit(0);
	}
	close(sv[1]);
	*ours = sv[0];
	return 0;
}

int privdrop_prepare(void)
{
	int ret;

	if (dropped.prepared)
		return 0;
	/* From now on, before the private key is read: no core dump, no ptrace but by root. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return -errno;
	ret = helper_start();
	if (!ret)
		ret = resolver_start();
	dropped.prepared = !ret;
	return ret;
}

/* --- after the drop ---------------------------------------------------------------------- */

int privdrop_open_config(const char *path)
{
	int fd;

	if (!dropped.via_helper) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	/* The helper would open its own path anyway; say so rather than read another file. */
	if (strcmp(path, dropped.config))
		return -EPERM;
	return helper_open_config();
}

int privdrop_set_mark(int fd, uint32_t mark)
{
	if (dropped.via_helper)
		return helper_set_mark(fd, mark);
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ? -errno : 0;
}

int privdrop_open_key(const char *path)
{
	size_t len = strlen(path);
	int fd, ret;

	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	/* The helper opens only the files named to it below, before the drop: -EPERM else. */
	if (dropped.via_helper)
		return helper_open_key(path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, 0)) {
		ret = -errno;
		goto close_fd;
	}
	/* Still root: tell the helper, if there is one, which file a reload may read. */
	ret = helper_name_key(path);
	if (ret)
		goto close_fd;
	return fd;
close_fd:
	close(fd);
	return ret;
}

const char *privdrop_open_hint(int err)
{
	if (err == -ENOSPC)
		return " (the helper keeps the paths of at most 16 KiB of key files)";
	if (!dropped.via_helper)
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

/* While we are root: the helper learns what it may do after the drop. */
static int arm_helper(const struct privdrop_opts *o)
{
	const char *config = o->config_path ? o->config_path : "";
	int ret;

	if (strlen(config) >= sizeof(dropped.config))
		return -ENAMETOOLONG;
	ret = helper_arm(o->ifindex, config, o->remove);
	if (ret)
		return ret;
	strcpy(dropped.config, config);
	dropped.via_helper = true;
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
		ret = arm_helper(o);
		if (ret) {
			log_err("%s: the privileged helper refused or is gone: %s", __func__,
				strerror(-ret));
			return ret;
		}
	} else {
		/* No switch means no helper: closing our end makes it exit, unarmed. */
		helper_dismiss();
	}
	/* Host names are looked up in another process from now on (docs/privileges.md). */
	ret = resolver_arm(u.uid, u.gid, o->sandbox);
	if (ret) {
		log_err("%s: the resolver process refused or is gone: %s", __func__,
			strerror(-ret));
		return ret;
	}
	ret = privdrop_caps_bound(keep);
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
	ret = privdrop_caps_set(keep);
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
		ret = sandbox_daemon(do_switch);
		if (ret) {
			log_err("%s: cannot install the seccomp filter: %s", __func__,
				strerror(-ret));
			return ret;
		}
	}
	addr_set_resolver(resolver_lookup);
	if (do_switch)
		netlink_set_forward(helper_netlink);
	log_info("running as %s (uid %u), capabilities: %s, seccomp filter %s", u.name,
		 (unsigned)u.uid,
		 do_switch ? "none (the helper changes the interface)" : "cap_net_admin",
		 o->sandbox ? "on" : "off (Sandbox = off)");
	return 0;
}
