/* sealnet-cni, the CNI plugin: the network configuration a runtime writes on its stdin, run
 * through the plugin's own run() as ADD, CHECK, DEL or VERSION, with the IPAM plugin's answer
 * (an abbreviated result, or its error object) from the same input.
 *
 * Input: a flags byte, then the configuration up to the first NUL byte, then what the IPAM
 * plugin prints. Flags:
 *   bits 0-1  CNI_COMMAND: ADD, CHECK, DEL, VERSION
 *   bit 2     the IPAM plugin exits 1 (its output is then its error object)
 *   bit 3     CHECK finds no address (cni_netlink_addr_find() answers 0)
 *   bit 4     CHECK finds no route
 *   bit 5     creating the veth pair fails (-EEXIST), so ADD undoes what it did
 *
 * The plugin's files are included (its main() renamed), so its static parsers run as they
 * are; what it asks of the system is replaced. No IPAM plugin runs: cni_ipam_exec() hands the
 * input's answer to cni_ipam_answer(), which parses it as the real one would. rtnetlink is
 * answered from here (fuzz.c's netlink stand-ins, and cni_netlink.c is not linked): one veth
 * pair that exists for CHECK and DEL, and after a successful creation for ADD, up, with
 * MAC 02:00:00:00:00:01. setns() does nothing, and CNI_NETNS is our own namespace.
 *
 * ADD enables forwarding by writing /proc/sys/net, which belongs to the network namespace
 * of the writer: the target moves into a namespace of its own first (as root, or in a user
 * namespace), and switches forwarding on there, so that CHECK gets to its end. Where it
 * cannot, the veth pair is never created, so ADD stops before it.
 *
 * The host end of the veth is "snc" and a hash of the container ID and CNI_IFNAME, here
 * CNI_CONTAINERID=fuzz and CNI_IFNAME=eth0: sncbabc10394503. The CHECK seeds name it.
 *
 * SEALNET_FUZZ_LOG=1 prints each command's outcome (shows where a seed goes).
 *
 * Beyond the sanitizers: a failure is one of the spec's error objects (a code set, and a
 * message), and a command never ends with an error code it did not return. */
#define _GNU_SOURCE /* memfd_create, unshare */
#include <sched.h>
#include <sys/mman.h>

#include "../../tools/cni/cni_check.c"
#include "../../tools/cni/cni_conf.c"
#include "../../tools/cni/cni_result.c"
#include "../../tools/cni/cni_setup.c"

int sealnet_cni_main(int argc, char *argv[]);
#define main sealnet_cni_main
#include "../../tools/cni/sealnet-cni.c"
#undef main

#include "fuzz.h"

/* LINK-WRAP: -Wl,--wrap=setns -Wl,--wrap=cni_ipam_exec -Wl,--wrap=netlink_route_add */
/* LINK-WRAP: -Wl,--wrap=netlink_close */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	F_IPAM_FAILS = 1 << 2,
	F_NO_ADDR = 1 << 3,
	F_NO_ROUTE = 1 << 4,
	F_VETH_FAILS = 1 << 5,
};

static const char *const commands[4] = { "ADD", "CHECK", "DEL", "VERSION" };

static bool private_net; /* /proc/sys/net is ours to write */
static bool log_results; /* SEALNET_FUZZ_LOG=1: each command's outcome on stderr */
static int stdin_fd = -1;
static unsigned flags;
static bool veth;               /* the pair exists */
static const char *ipam_answer; /* NUL-terminated */
static size_t ipam_answer_len;

int __wrap_setns(int fd, int nstype);
int __wrap_cni_ipam_exec(const char *type, const char *cni_path, const char *command,
			 const char *config, size_t config_len, struct cni_ipam_result *out,
			 struct cni_error *e);
int __wrap_netlink_route_add(struct netlink *nl, int ifindex, const struct ip_prefix *p);
void __wrap_netlink_close(struct netlink *nl);

int __wrap_setns(int fd, int nstype)
{
	return 0;
}

int __wrap_cni_ipam_exec(const char *type, const char *cni_path, const char *command,
			 const char *config, size_t config_len, struct cni_ipam_result *out,
			 struct cni_error *e)
{
	int status = flags & F_IPAM_FAILS ? 1 << 8 : 0; /* as waitpid() reports exit(1) */

	/* Only ADD reads an answer; a DEL that undoes a failed ADD is told it worked. */
	if (!out && strcmp(command, "DEL") == 0)
		status = 0;
	return cni_ipam_answer(type, status, ipam_answer, ipam_answer_len, out, e);
}

int __wrap_netlink_route_add(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return 0;
}

/* fuzz.c's netlink_open() hands out NULL. */
void __wrap_netlink_close(struct netlink *nl)
{
}

int cni_netlink_veth_add(struct netlink *nl, const char *host_name, const char *peer_name,
			 int peer_netns_fd, unsigned mtu)
{
	if (!private_net || flags & F_VETH_FAILS)
		return -EEXIST;
	veth = true;
	return 0;
}

int cni_netlink_link_get(struct netlink *nl, const char *name, struct cni_link *out)
{
	static const struct cni_link link = {
		.ifindex = 7,
		.flags = IFF_UP,
		.mtu = 1420,
		.mac = { 2, 0, 0, 0, 0, 1 },
		.has_mac = true,
		.kind = "veth",
	};

	if (!veth)
		return -ENODEV;
	*out = link;
	return 0;
}

int cni_netlink_link_del(struct netlink *nl, int ifindex)
{
	veth = false;
	return 0;
}

int cni_netlink_addr_add_noprefixroute(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return 0;
}

int cni_netlink_route_add_via(struct netlink *nl, int ifindex, const struct ip_prefix *dst,
			      const struct ip_addr *gw)
{
	return 0;
}

int cni_netlink_addr_find(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return flags & F_NO_ADDR ? 0 : 1;
}

int cni_netlink_route_find(struct netlink *nl, int ifindex, const struct ip_prefix *dst,
			   const struct ip_addr *gw)
{
	return flags & F_NO_ROUTE ? 0 : 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	/* The results and the version object go nowhere. */
	if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
		abort();
	close(null);
	stdin_fd = memfd_create("sealnet-cni-stdin", MFD_CLOEXEC);
	if (stdin_fd < 0 || dup2(stdin_fd, STDIN_FILENO) < 0)
		abort();
	private_net = unshare(CLONE_NEWNET) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
	if (!private_net)
		fprintf(stderr,
			"cni: no network namespace of our own (%s): ADD stops at the veth "
			"pair, before it would write /proc/sys/net\n",
			strerror(errno));
	/* Forwarding on from the start, so that CHECK reaches its end whatever ran before. */
	for (size_t i = 0; private_net && i < 2; i++) {
		int fd = open(forwarding_sysctl[i], O_WRONLY | O_CLOEXEC);

		if (fd >= 0 && write(fd, "1\n", 2) != 2)
			fprintf(stderr, "cni: %s: %s\n", forwarding_sysctl[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	log_results = getenv("SEALNET_FUZZ_LOG") != NULL;
	setenv("CNI_CONTAINERID", "fuzz", 1);
	setenv("CNI_NETNS", "/proc/self/ns/net", 1);
	setenv("CNI_IFNAME", "eth0", 1);
	setenv("CNI_PATH", "/nonexistent", 1);
	return 0;
}

static void broken(const char *what, const struct cni_error *e)
{
	fprintf(stderr, "cni: %s: code %d, msg \"%s\", details \"%s\"\n", what, e->code, e->msg,
		e->details);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	struct cni_conf c = { 0 };
	struct cni_error e = { 0 };
	size_t conf_len;
	char *answer;
	int ret;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	nul = memchr(data, 0, size);
	conf_len = nul ? (size_t)(nul - data) : size;
	answer = malloc(size - conf_len + 1);
	if (!answer)
		abort();
	if (nul)
		memcpy(answer, nul + 1, size - conf_len - 1);
	answer[nul ? size - conf_len - 1 : 0] = '\0';
	ipam_answer = answer;
	ipam_answer_len = nul ? size - conf_len - 1 : 0;

	if (ftruncate(stdin_fd, 0) || pwrite(stdin_fd, data, conf_len, 0) != (ssize_t)conf_len ||
	    lseek(stdin_fd, 0, SEEK_SET) != 0)
		abort();
	setenv("CNI_COMMAND", commands[flags & 3], 1);
	veth = (flags & 3) == 1 || (flags & 3) == 2; /* CHECK and DEL find the pair */

	ret = run(&c, &e);
	if (ret < 0 && !e.code)
		broken("a failure without an error object", &e);
	if (ret == 0 && e.code)
		broken("a success with an error", &e);
	if (e.code && !e.msg[0])
		broken("an error without a message", &e);
	if (log_results)
		fprintf(stderr, "cni: %s: %s%s%s%s\n", commands[flags & 3], ret ? e.msg : "ok",
			ret ? " (" : "", ret ? e.details : "", ret ? ")" : "");
	cni_conf_free(&c);
	free(answer);
	return 0;
}
