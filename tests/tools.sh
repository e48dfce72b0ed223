#!/usr/bin/env bash
# The sealnet tool against wireguard-tools: keys must be interchangeable byte for byte, and
# the exit codes those of a well-behaved command-line tool.
# Usage: tests/tools.sh path/to/sealnet
set -u

sealnet=${1:?usage: $0 path/to/sealnet}
pass=0 fail=0
# Keys are secrets, and both tools warn about key files others can read.
umask 077

if ! command -v wg >/dev/null; then
	echo "tools: wg (wireguard-tools) not found" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() {
	pass=$((pass + 1))
}

bad() {
	echo "FAILED: $*"
	fail=$((fail + 1))
}

# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}

# expect_status NAME WANT CMD...: runs CMD with stdout and stderr in $tmp/out and $tmp/err.
expect_status() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	expect_eq "$name: exit status" "$got" "$want"
}

is_key_text() {
	[ "$(wc -c <"$1")" -eq 45 ] && grep -Eqx '[A-Za-z0-9+/]{43}=' "$1"
}

# Bytes of the key in file $1, in decimal, one per line.
key_bytes() {
	base64 -d <"$1" | od -An -v -tu1 | tr -s ' ' '\n' | sed '/^$/d'
}

# Both directions, several times, so a clamping or encoding slip cannot hide by luck.
for i in 1 2 3 4 5; do
	wg genkey >"$tmp/k"
	expect_eq "wg genkey | sealnet pubkey" "$("$sealnet" pubkey <"$tmp/k")" "$(wg pubkey <"$tmp/k")"
	"$sealnet" genkey >"$tmp/k"
	expect_eq "sealnet genkey | wg pubkey" "$(wg pubkey <"$tmp/k")" "$("$sealnet" pubkey <"$tmp/k")"
done

# Unclamped private keys: both must clamp the same way.
head -c 32 /dev/urandom | base64 >"$tmp/k"
expect_eq "unclamped key" "$("$sealnet" pubkey <"$tmp/k")" "$(wg pubkey <"$tmp/k")"
printf '%s' "$(cat "$tmp/k")" >"$tmp/k-nonl"
expect_eq "key without newline" "$("$sealnet" pubkey <"$tmp/k-nonl")" "$(wg pubkey <"$tmp/k")"

# genkey: 44 characters and a newline, as wg's, and a clamped Curve25519 scalar.
"$sealnet" genkey >"$tmp/k"
if is_key_text "$tmp/k"; then ok; else bad "genkey: output is not a key line: $(cat "$tmp/k")"; fi
mapfile -t b < <(key_bytes "$tmp/k")
if [ "${#b[@]}" -eq 32 ] && [ $((b[0] & 7)) -eq 0 ] && [ $((b[31] & 192)) -eq 64 ]; then
	ok
else
	bad "genkey: key is not clamped: ${b[*]}"
fi

# genpsk: 32 random bytes, not clamped (so across a few keys some low bits show up).
low=0
for i in 1 2 3 4 5 6 7 8; do
	"$sealnet" genpsk >"$tmp/psk$i"
	if is_key_text "$tmp/psk$i" && wg pubkey <"$tmp/psk$i" >/dev/null; then
		ok
	else
		bad "genpsk: output is not a key line: $(cat "$tmp/psk$i")"
	fi
	mapfile -t b < <(key_bytes "$tmp/psk$i")
	low=$((low | (b[0] & 7)))
done
if [ "$low" -ne 0 ]; then ok; else bad "genpsk: 8 keys all look clamped"; fi
if cmp -s "$tmp/psk1" "$tmp/psk2"; then bad "genpsk: same key twice"; else ok; fi

# pubkey on bad input: one line on stderr, nothing on stdout, exit 1.
msg="sealnet: pubkey: invalid private key on stdin"
printf '' >"$tmp/in-empty"
echo "not a key" >"$tmp/in-word"
head -c 43 "$tmp/k" >"$tmp/in-short"
{ cat "$tmp/k"; echo "trailing"; } >"$tmp/in-trailing"
head -c 1000 /dev/zero | tr '\0' 'A' >"$tmp/in-long"
sed 's/=$/B/' "$tmp/k" >"$tmp/in-nopad"
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n' >"$tmp/in-trailbits"
for f in empty word short trailing long nopad trailbits; do
	expect_status "pubkey <$f" 1 "$sealnet" pubkey <"$tmp/in-$f"
	expect_eq "pubkey <$f: stderr" "$(cat "$tmp/err")" "$msg"
	expect_eq "pubkey <$f: stdout" "$(cat "$tmp/out")" ""
	# wg must agree that the input is bad, or the test input is wrong.
	if wg pubkey <"$tmp/in-$f" >/dev/null 2>&1; then bad "wg pubkey accepts $f"; else ok; fi
done

# Command line: usage is an error (2) unless asked for (0).
expect_status "no subcommand" 2 "$sealnet"
expect_eq "no subcommand: usage on stderr" "$(grep -c '^  \(genkey\|genpsk\|pubkey\): ' "$tmp/err")" 3
expect_status "unknown subcommand" 2 "$sealnet" frobnicate
if grep -q "frobnicate" "$tmp/err" && grep -q '^Usage: ' "$tmp/err"; then ok; else bad "unknown subcommand: stderr: $(cat "$tmp/err")"; fi
expect_status "genkey with an argument" 2 "$sealnet" genkey extra
expect_eq "genkey with an argument: stdout" "$(cat "$tmp/out")" ""
expect_status "genpsk with an argument" 2 "$sealnet" genpsk extra
expect_status "pubkey with an argument" 2 "$sealnet" pubkey extra </dev/null
for h in help --help; do
	expect_status "$h" 0 "$sealnet" "$h"
	expect_eq "$h: usage on stdout" "$(grep -c '^  \(genkey\|genpsk\|pubkey\): ' "$tmp/out")" 3
	expect_eq "$h: stderr" "$(cat "$tmp/err")" ""
done

# A key that cannot be written is an error.
if [ -w /dev/full ]; then
	"$sealnet" genkey >/dev/full 2>"$tmp/err"
	expect_eq "genkey >/dev/full: exit status" "$?" 1
	if grep -q 'cannot write' "$tmp/err"; then ok; else bad "genkey >/dev/full: stderr: $(cat "$tmp/err")"; fi
fi

# Like wg: a warning when the key lands in a file others can read, none otherwise.
(umask 022 && "$sealnet" genkey >"$tmp/open-key" 2>"$tmp/err")
if grep -q 'warning' "$tmp/err" && is_key_text "$tmp/open-key"; then ok; else bad "genkey: no warning for a world-readable file"; fi
(umask 077 && "$sealnet" genkey >"$tmp/closed-key" 2>"$tmp/err")
expect_eq "genkey with umask 077: stderr" "$(cat "$tmp/err")" ""

# --- the control subcommands, without a daemon (and without root) ----------------------
# A name no interface on this host has, so each command gets as far as the socket.
none=snt$$
none=${none:0:15}
key=$(wg genkey | wg pubkey)

# usage_error NAME ARGS...: exit 2, the subcommand's usage on stderr, nothing on stdout.
usage_error() {
	local name=$1 sub=$2
	shift 2
	expect_status "$name" 2 "$sealnet" "$@"
	if grep -q "^Usage: sealnet $sub" "$tmp/err"; then ok; else bad "$name: no usage on stderr: $(cat "$tmp/err")"; fi
	expect_eq "$name: stdout" "$(cat "$tmp/out")" ""
}

# not_running NAME ARGS...: exit 1 and "not running" on stderr.
not_running() {
	local name=$1
	shift
	expect_status "$name" 1 "$sealnet" "$@"
	if grep -q "not running" "$tmp/err"; then ok; else bad "$name: stderr: $(cat "$tmp/err")"; fi
}

expect_eq "usage lists every subcommand" \
	"$("$sealnet" help | grep -c '^  \(show\|set\|up\|down\|reload\|genkey\|genpsk\|pubkey\): ')" 8
for sub in show set up down reload; do
	expect_status "$sub --help" 0 "$sealnet" "$sub" --help
	if grep -q "^Usage: sealnet $sub" "$tmp/out"; then ok; else bad "$sub --help: stdout: $(cat "$tmp/out")"; fi
done

usage_error "show two interfaces" show show a b
usage_error "show --bogus" show show --bogus
usage_error "show a bad name" show show 'no/such'
usage_error "show a long name" show show 0123456789abcdef
usage_error "status --interval without a number" status status "$none" --interval
usage_error "status --interval x" status status "$none" --interval x
usage_error "status --interval -1" status status "$none" --interval -1
usage_error "status --interval 61" status status "$none" --interval 61
usage_error "show --interval without --brief or --json" show show "$none" --interval 1
usage_error "show FIELD --interval" show show "$none" endpoints --interval 1
not_running "status IFACE --interval 0.5" status "$none" --interval 0.5
not_running "show IFACE --brief --interval 0" show "$none" --brief --interval 0
not_running "show IFACE" show "$none"
not_running "show IFACE --json" show "$none" --json
expect_status "show interfaces" 0 "$sealnet" show interfaces
expect_status "show interfaces --json" 0 "$sealnet" show interfaces --json
if grep -Eq '^\[.*\]$' "$tmp/out"; then ok; else bad "show interfaces --json: $(cat "$tmp/out")"; fi

usage_error "set without interface" set set
usage_error "set unknown keyword" set set "$none" bogus 1
usage_error "set keyword without value" set set "$none" listen-port
usage_error "set port 70000" set set "$none" listen-port 70000
usage_error "set port -1" set set "$none" listen-port -1
usage_error "set bad fwmark" set set "$none" fwmark 0xzz
usage_error "set bad peer key" set set "$none" peer notakey
usage_error "set remove without peer" set set "$none" remove
usage_error "set listen-port after peer" set set "$none" peer "$key" listen-port 1
usage_error "set endpoint without port" set set "$none" peer "$key" endpoint 198.18.0.1
usage_error "set keepalive 65536" set set "$none" peer "$key" persistent-keepalive 65536
usage_error "set allowed ip /33" set set "$none" peer "$key" allowed-ips 100.64.0.1/33
usage_error "set empty allowed ip" set set "$none" peer "$key" allowed-ips "100.64.0.1/32,,fd00::1"
usage_error "set bad interface name" set set 'no/such' peer "$key"
# rules and groups, in the config's words.
usage_error "set rules: not a rule" set set "$none" rules 'permit icmp'
if grep -q "bad rule (Allow = ... or Deny = ...) \`permit icmp'" "$tmp/err"; then ok; else bad "set rules: stderr: $(cat "$tmp/err")"; fi
usage_error "set rules: bad port" set set "$none" rules 'Allow = icmp; Allow = tcp/99999'
if grep -q "bad rule \`Allow = tcp/99999': bad port" "$tmp/err"; then ok; else bad "set rules port: stderr: $(cat "$tmp/err")"; fi
usage_error "set rules: allowx" set set "$none" rules 'allowx icmp'
usage_error "set rules after peer" set set "$none" peer "$key" rules 'Allow = icmp'
usage_error "set groups before peer" set set "$none" groups web
if grep -q "unexpected \`groups' before peer" "$tmp/err"; then ok; else bad "set groups before peer: stderr: $(cat "$tmp/err")"; fi
usage_error "set groups: bad name" set set "$none" peer "$key" groups 'web, no/slash'
usage_error "set groups: too many" set set "$none" peer "$key" groups "$(echo g{1..17})"
not_running "set rules as the file writes them" set "$none" rules "$(printf 'Allow = icmp # ping\nDeny = tcp/22 from group:guest\nallow tcp/443 from 100.64.0.0/10')"
not_running "set rules none" set "$none" rules ''
not_running "set groups" set "$none" peer "$key" groups 'web, db admin'
not_running "set groups none" set "$none" peer "$key" groups ''
not_running "set on a stopped interface" set "$none" fwmark off listen-port 0 peer "$key" \
	endpoint 198.18.0.1:51820 allowed-ips "100.64.0.1/32, fd00::1" persistent-keepalive off
not_running "set peer remove" set "$none" peer "$key" remove
expect_status "set private-key from a missing file" 1 "$sealnet" set "$none" private-key "$tmp/missing"
echo "not a key at all" >"$tmp/notakey"
expect_status "set private-key from a bad file" 1 "$sealnet" set "$none" private-key "$tmp/notakey"
if grep -q "not a key" "$tmp/err" && ! grep -q "at all" "$tmp/err"; then ok; else bad "bad key file: stderr: $(cat "$tmp/err")"; fi

# bench and registry: one getopt_long loop (tools/cmdline.c) that names what it cannot take,
# and one rule for an option's number and its range.
# refused NAME WANT-STATUS MESSAGE ARGS...: exits WANT-STATUS with MESSAGE (fixed string) on stderr.
refused() {
	local name=$1 want=$2 msg=$3
	shift 3
	expect_status "$name" "$want" "$sealnet" "$@"
	if grep -qF -- "$msg" "$tmp/err"; then ok; else bad "$name: stderr: $(cat "$tmp/err")"; fi
}
refused "bench -n 0" 2 "sealnet: bench: -n wants a whole number from 1 to 100, not \`0'" bench -n 0
refused "bench -t 3601" 2 "-t wants a whole number from 1 to 3600, not \`3601'" bench -t 3601
refused "bench -n 1x" 2 "-n wants a whole number from 1 to 100, not \`1x'" bench -n 1x
refused "bench --rounds without a value" 2 "sealnet: bench: option needs a value: \`--rounds'" bench --rounds
refused "bench --bogus" 2 "sealnet: bench: unknown option \`--bogus'" bench --bogus
# What bench hands its script: every option given (and -n, -t by default) as --name VALUE,
# in one order, whatever the spelling on the command line. A bash that only writes down its
# arguments stands in for the script's.
mkdir -p "$tmp/fakebash"
# shellcheck disable=SC2016 # expanded by the fake bash, not here
printf '#!/bin/sh\nshift\necho "$*" >"%s/bench-args"\n' "$tmp" >"$tmp/fakebash/bash"
chmod 755 "$tmp/fakebash/bash"
PATH=$tmp/fakebash:$PATH "$sealnet" bench --ove 100.64.0.9 --peer=198.18.0.1 -n2 --json "$tmp/b.json" \
	>"$tmp/out" 2>"$tmp/err"
expect_eq "bench --peer: exit status" "$?" 0
expect_eq "bench --peer: the script's arguments" "$(cat "$tmp/bench-args" 2>/dev/null)" \
	"--rounds 2 --time 5 --json $tmp/b.json --peer 198.18.0.1 --overlay 100.64.0.9"
refused "registry --ttl 1" 2 "sealnet: registry: --ttl wants a whole number from 2 to 3600, not \`1'" \
	registry "$none" --ttl 1
refused "registry --ttl without a value" 2 "sealnet: registry: option needs a value: \`--ttl'" \
	registry "$none" --ttl
refused "registry --bogus" 2 "sealnet: registry: unknown option \`--bogus'" registry --bogus "$none"
if grep -q "^Usage: sealnet registry" "$tmp/err"; then ok; else bad "registry --bogus: no usage: $(cat "$tmp/err")"; fi

usage_error "up without argument" up up
usage_error "up with two arguments" up up a b
usage_error "up with a long name" up up 0123456789abcdef
usage_error "up with a bad name" up up 'a b'
usage_error "up with a path not ending in .conf" up up "$tmp/notakey"
usage_error "up with a long file name" up up "$tmp/0123456789abcdef.conf"
expect_status "up with a missing file" 1 "$sealnet" up "$tmp/$none.conf"
if grep -q "$none.conf" "$tmp/err"; then ok; else bad "up missing file: stderr: $(cat "$tmp/err")"; fi
# What up runs: SEALNETD, with -q (up runs the file's hooks), -c and the absolute path, and
# its exit status is up's.
# shellcheck disable=SC2016 # expanded by the fake daemon, not here
printf '#!/bin/sh\necho "$0 $*" >"%s/args"\nexit 3\n' "$tmp" >"$tmp/fake-sealnetd"
chmod 755 "$tmp/fake-sealnetd"
: >"$tmp/$none.conf"
abs=$(cd "$(dirname "$sealnet")" && pwd)/$(basename "$sealnet")
(cd "$tmp" && SEALNETD=$tmp/fake-sealnetd "$abs" up "./$none.conf" >"$tmp/out" 2>"$tmp/err")
expect_eq "up: the daemon's exit status" "$?" 3
expect_eq "up: the daemon's arguments" "$(cat "$tmp/args" 2>/dev/null)" "$tmp/fake-sealnetd -q -c $(cd "$tmp" && pwd -P)/$none.conf $none"
SEALNETD=$tmp/missing-sealnetd "$sealnet" up "$tmp/$none.conf" >"$tmp/out" 2>"$tmp/err"
expect_eq "up: a daemon that cannot run: exit status" "$?" 1
if grep -q "cannot run" "$tmp/err"; then ok; else bad "up: missing daemon: stderr: $(cat "$tmp/err")"; fi

usage_error "down without argument" down down
usage_error "down with two arguments" down down a b
usage_error "down with a bad name" down down 'no/such'
not_running "down a stopped interface" down "$none"
usage_error "reload without argument" reload reload
usage_error "reload with two arguments" reload reload a b
usage_error "reload with a bad name" reload reload 'no/such'
not_running "reload a stopped interface" reload "$none"

# --- check: every error and warning of a file, and an exit status for scripts -----------
k0=$(wg genkey)
kp1=$(wg genkey | wg pubkey)
kp2=$(wg genkey | wg pubkey)
printf '[Interface]\nPrivateKey = %s\nAddress = 100.64.8.1/24\n\n[Peer]\nName = laptop\nPublicKey = %s\nAllowedIPs = 100.64.8.2/32\n' \
	"$k0" "$kp1" >"$tmp/good.conf"
expect_status "check a good file" 0 "$sealnet" check "$tmp/good.conf"
expect_eq "check a good file: stdout" "$(cat "$tmp/out")" ""
expect_eq "check a good file: stderr" "$(cat "$tmp/err")" "$tmp/good.conf: good"
f=$tmp/bad.conf
{
	printf '[Interface]\nPrivateKey = %s\nAddress = 100.64.8.1/24,\nListenPort = 70000\n' "$k0"
	printf 'User = nosuchuser%s\nBogus = 1\n\n' "$$"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.8.2/32\nEndpoint = no-port\n\n' "$kp1"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.8.3/32\nName = my "phone"\n\n' "$kp2"
	printf '[Peer]\nPublicKey = %s\n[Interface]\n' "$kp1"
} >"$f"
expect_status "check a bad file" 1 "$sealnet" check "$f"
cat >"$tmp/want" <<EOF
$f:3: error: Address: an empty entry in "100.64.8.1/24," (a comma too many?)
$f:4: error: ListenPort: bad port "70000" (0 to 65535)
$f:5: error: User: no such user "nosuchuser$$"
$f:6: error: Bogus: unknown key in [Interface]
$f:11: error: Endpoint: bad endpoint "no-port"
$f:16: error: Name: bad name "my "phone"" (1 to 63 bytes, no control characters, '"' or '\')
$f:18: error: [Peer]: PublicKey "$kp1" duplicates the peer on line 8
$f:18: warning: [Peer]: no AllowedIPs: nothing will be sent to it
$f:20: error: [Interface]: a second one (the first is on line 1)
EOF
expect_eq "check: every error, in line order" "$(cat "$tmp/out")" "$(cat "$tmp/want")"
expect_eq "check a bad file: summary" "$(cat "$tmp/err")" "$f: 8 errors, 1 warning"
# Warnings alone pass, unless --strict.
{
	printf '[Interface]\nAddress = 100.64.8.1/24\n\n'
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.8.2/32\n\n' "$kp1"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.8.2/32\n\n' "$kp2"
	printf '[Peer]\nPublicKey = %s\n' "$(wg genkey | wg pubkey)"
} >"$tmp/warn.conf"
expect_status "check warnings" 0 "$sealnet" check "$tmp/warn.conf"
cat >"$tmp/want" <<EOF
$tmp/warn.conf: warning: no PrivateKey: the interface will not handshake until one is set
$tmp/warn.conf:8: warning: [Peer]: AllowedIPs 100.64.8.2/32 is also the peer's on line 4: this later peer takes it
$tmp/warn.conf:12: warning: [Peer]: no AllowedIPs: nothing will be sent to it
EOF
expect_eq "check warnings: what" "$(cat "$tmp/out")" "$(cat "$tmp/want")"
expect_status "check --strict with warnings" 1 "$sealnet" check --strict "$tmp/warn.conf"
cp "$tmp/good.conf" "$tmp/open.conf"
chmod 644 "$tmp/open.conf"
expect_status "check a key file others can read" 0 "$sealnet" check "$tmp/open.conf"
expect_eq "check: mode warning" "$(cat "$tmp/out")" \
	"$tmp/open.conf: warning: private key file is readable by others (mode 644)"
expect_status "check a missing file" 1 "$sealnet" check "$tmp/missing.conf"
if grep -q "missing.conf: cannot open" "$tmp/err"; then ok; else bad "check missing: $(cat "$tmp/err")"; fi
usage_error "check without a file" check check
usage_error "check two files" check check a.conf b.conf
usage_error "check --bogus" check check --bogus a.conf
expect_status "check --help" 0 "$sealnet" check --help
if grep -q "^Usage: sealnet check" "$tmp/out"; then ok; else bad "check --help: $(cat "$tmp/out")"; fi
# PrivateKeyFile: read when the file is, refused with its line when it cannot be or holds no
# key, a warning when others can read it; never together with PrivateKey.
wg genkey >"$tmp/sn.key"
printf '[Interface]\nPrivateKeyFile = %s\nAddress = 100.64.8.1/24\n' "$tmp/sn.key" >"$tmp/kf.conf"
expect_status "check PrivateKeyFile" 0 "$sealnet" check "$tmp/kf.conf"
expect_eq "check PrivateKeyFile: nothing to say" "$(cat "$tmp/out")" ""
chmod 644 "$tmp/sn.key"
expect_status "check PrivateKeyFile others can read" 0 "$sealnet" check "$tmp/kf.conf"
expect_eq "check PrivateKeyFile: mode warning" "$(cat "$tmp/out")" \
	"$tmp/kf.conf:2: warning: PrivateKeyFile: \"$tmp/sn.key\" is readable by others (mode 644)"
chmod 600 "$tmp/sn.key"
echo "not a key at all" >"$tmp/sn.key"
expect_status "check PrivateKeyFile without a key" 1 "$sealnet" check "$tmp/kf.conf"
expect_eq "check PrivateKeyFile without a key: what" "$(cat "$tmp/out")" \
	"$tmp/kf.conf:2: error: PrivateKeyFile: \"$tmp/sn.key\" holds no key (one line of 44 base64 characters, as \`sealnet genkey\` writes)"
rm "$tmp/sn.key"
expect_status "check PrivateKeyFile missing" 1 "$sealnet" check "$tmp/kf.conf"
expect_eq "check PrivateKeyFile missing: what" "$(cat "$tmp/out")" \
	"$tmp/kf.conf:2: error: PrivateKeyFile: cannot open \"$tmp/sn.key\": No such file or directory"
printf '[Interface]\nPrivateKey = %s\nPrivateKeyFile = /x.key\nPrivateKeyFile = relative.key\n' "$k0" >"$tmp/kf2.conf"
expect_status "check PrivateKey and PrivateKeyFile" 1 "$sealnet" check "$tmp/kf2.conf"
cat >"$tmp/want" <<EOF
$tmp/kf2.conf:3: error: PrivateKeyFile: PrivateKey is given too (line 2): one or the other
$tmp/kf2.conf:4: error: PrivateKeyFile: duplicate key (first on line 3)
EOF
expect_eq "check PrivateKey and PrivateKeyFile: what" "$(cat "$tmp/out")" "$(cat "$tmp/want")"
printf '[Interface]\nPrivateKeyFile = relative.key\n' >"$tmp/kf3.conf"
expect_status "check a relative PrivateKeyFile" 1 "$sealnet" check "$tmp/kf3.conf"
expect_eq "check a relative PrivateKeyFile: what" "$(cat "$tmp/out")" \
	"$tmp/kf3.conf:2: error: PrivateKeyFile: \"relative.key\" is not an absolute path"

# up checks the file first: all its errors, and no daemon started.
cp "$f" "$tmp/$none.conf"
rm -f "$tmp/args"
SEALNETD=$tmp/fake-sealnetd "$sealnet" up "$tmp/$none.conf" >"$tmp/out" 2>"$tmp/err"
expect_eq "up on a bad file: exit status" "$?" 1
expect_eq "up on a bad file: every error" "$(grep -c "^sealnet: up: $tmp/$none.conf:[0-9]*: " "$tmp/err")" 8
if [ -e "$tmp/args" ]; then bad "up on a bad file ran the daemon"; else ok; fi

# --- bash completion (conf/completion/sealnet.bash) ---------------------------------------
completion=$(cd "$(dirname "$0")/.." && pwd)/conf/completion/sealnet.bash
# complete WORDS...: what the completion offers for the last word, sorted, on one line.
complete_words() {
	(
		# shellcheck source=conf/completion/sealnet.bash
		. "$completion"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_sealnet
		printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
	)
}
mkdir -p "$tmp/run" "$tmp/etc" "$tmp/cwd/dir"
for s in sn7 wg0; do
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/run/$s.sock"
done
: >"$tmp/run/notasocket.sock"
: >"$tmp/etc/sn0.conf"
: >"$tmp/cwd/a.conf"
: >"$tmp/cwd/b.txt"
export SEALNET_RUN_DIR=$tmp/run SEALNET_CONF_DIR=$tmp/etc
expect_eq "complete: subcommands" "$(complete_words sealnet '')" \
	"--help --version bench check down genkey genpsk help pubkey registry reload set show status up "
expect_eq "complete: s..." "$(complete_words sealnet s)" "set show status "
help_cmds=$("$sealnet" help | sed -n 's/^  \([a-z]*\): .*/\1/p' | sort | tr '\n' ' ')
expect_eq "complete: every subcommand of sealnet help" \
	"$(complete_words sealnet '' | tr ' ' '\n' | grep -Ev '^(--|help$|$)' | tr '\n' ' ')" "$help_cmds"
expect_eq "complete: show's interfaces (sockets only)" "$(complete_words sealnet show '')" \
	"--brief --json all interfaces sn7 wg0 "
expect_eq "complete: status" "$(complete_words sealnet status '')" "--json all sn7 wg0 "
expect_eq "complete: status IFACE" "$(complete_words sealnet status sn7 '')" "--interval --json "
expect_eq "complete: show IFACE field" "$(complete_words sealnet show sn7 l)" "latest-handshakes listen-port "
expect_eq "complete: down" "$(complete_words sealnet down s)" "sn7 "
expect_eq "complete: reload" "$(complete_words sealnet reload w)" "wg0 "
expect_eq "complete: set IFACE" "$(complete_words sealnet set sn7 '')" \
	"fwmark listen-port peer private-key rules "
expect_eq "complete: set after peer" "$(complete_words sealnet set sn7 peer "$key" '')" \
	"allowed-ips endpoint groups peer persistent-keepalive preshared-key remove "
expect_eq "complete: up (.conf files, directories, /etc/sealnet's names)" \
	"$(cd "$tmp/cwd" && complete_words sealnet up '')" "a.conf dir sn0 "
expect_eq "complete: check --" "$(complete_words sealnet check --)" "--strict "
unset SEALNET_RUN_DIR SEALNET_CONF_DIR

# Every drop reason the daemon counts is described in sealnetd(8)'s table.
src=$(dirname "$0")/..
reasons=$(sed -n 's/^\t\[DROP_[A-Z0-9_]*\] = "drop_\([a-z0-9_]*\)",$/\1/p' "$src/daemon/device.c" | sort | tr '\n' ' ')
documented=$(awk '/^\.Ss Drop reasons/ { on = 1 } on && /^\.El/ { exit } on && /^\.It Li / { print $3 }' \
	"$src/docs/sealnetd.8" | sort | tr '\n' ' ')
if [ "$(echo "$reasons" | wc -w)" -gt 15 ]; then ok; else bad "drop reasons: found only: $reasons"; fi
expect_eq "sealnetd.8 describes every drop reason" "$documented" "$reasons"

# --- the man pages and --help say the same things ------------------------------------------
# Flags in a --help text: from its Usage and indented lines (prose may quote other commands).
help_flags() {
	grep -E '^(Usage:|[[:space:]])' | grep -oE '(^|[][ |,])--?[A-Za-z][A-Za-z-]*' |
		sed 's/^[][ |,]//' | sort -u | tr '\n' ' '
}
# Flags of sealnet(8)'s SYNOPSIS lines for one subcommand (after `.Cm SUB`, up to the next
# `.Nm`), and of its `.It Cm SUB` entry.
man_flags() {
	awk -v sub_="$2" '
		/^\.Sh DESCRIPTION/ { syn = 0 } /^\.Sh SYNOPSIS/ { syn = 1 }
		syn && /^\.Nm/ { on = 0 }
		syn && $0 == ".Cm " sub_ { on = 1 }
		syn && on || index($0, ".It Cm " sub_ " ") == 1 || $0 == ".It Cm " sub_ { print }
	' "$1" | sed 's/\\-/-/g' | grep -oE 'Fl -?[A-Za-z][A-Za-z-]*' | sed -e 's/^Fl -/--/' -e 's/^Fl /-/' |
		sort -u | tr '\n' ' '
}
man8=$(dirname "$0")/../docs/sealnet.8
for sub in $("$sealnet" help | sed -n 's/^  \([a-z]*\): .*/\1/p'); do
	if grep -q "^\.It Cm $sub\( \|$\)" "$man8"; then ok; else bad "sealnet.8 does not describe $sub"; fi
	expect_status "$sub --help" 0 "$sealnet" "$sub" --help
	expect_eq "$sub: --help and sealnet.8 list the same flags" \
		"$(help_flags <"$tmp/out")" "$(man_flags "$man8" "$sub")"
	expect_status "$sub --version" 0 "$sealnet" "$sub" --version
	if grep -q "^sealnet " "$tmp/out"; then ok; else bad "$sub --version: $(cat "$tmp/out")"; fi
done
sealnetd=$(dirname "$sealnet")/../daemon/sealnetd
if [ -x "$sealnetd" ]; then
	expect_status "sealnetd --help" 0 "$sealnetd" --help
	got=$(grep -oE '^  -[A-Za-z](, --[a-z]+)?' "$tmp/out" | tr -d ' ,' | sed 's/--/ --/' | tr ' ' '\n' | sort -u | tr '\n' ' ')
	want=$(sed -n 's/^\.It Fl \([A-Za-z]\)\( Ar [a-z]*\)\?\( , Fl \\-\([a-z]*\)\)\?$/-\1 --\4/p' \
		"$(dirname "$0")/../docs/sealnetd.8" | tr ' ' '\n' | grep -v '^--$' | sort -u | tr '\n' ' ')
	expect_eq "sealnetd: --help and sealnetd.8 list the same options" "$got" "$want"
	expect_status "sealnetd --version" 0 "$sealnetd" --version
	expect_status "sealnetd without an interface" 2 "$sealnetd"
	if grep -q "interface name is missing" "$tmp/err"; then ok; else bad "sealnetd: $(cat "$tmp/err")"; fi
	expect_status "sealnetd with two" 2 "$sealnetd" a b
	if grep -q 'unexpected argument "b"' "$tmp/err"; then ok; else bad "sealnetd a b: $(cat "$tmp/err")"; fi
	# SEALNET_AEAD is read before anything is set up: a value not taken stops the daemon.
	expect_status "SEALNET_AEAD=openssl" 1 env SEALNET_AEAD=openssl "$sealnetd" -f sntoolaead
	if grep -q "SEALNET_AEAD=openssl: OpenSSL is no longer used" "$tmp/err"; then ok; else bad "SEALNET_AEAD=openssl: $(cat "$tmp/err")"; fi
	expect_status "SEALNET_AEAD=chacha" 1 env SEALNET_AEAD=chacha "$sealnetd" -f sntoolaead
	if grep -q "SEALNET_AEAD=chacha: unknown; boringssl, sodium or auto" "$tmp/err"; then ok; else bad "SEALNET_AEAD=chacha: $(cat "$tmp/err")"; fi
fi

# BoringSSL (the daemon's AEAD) and OpenSSL (the tool's, through libcurl) export the same
# names, OpenSSL's versioned and BoringSSL's not, and ld.so may bind one's references to the
# other's code: no program may need both (Makefile, BSSL_LIBS; docs/performance.md, AEAD).
# needs BINARY SONAME: whether BINARY's dynamic section names SONAME.
needs() {
	readelf -d "$1" | grep -q "NEEDED.*\[$2\]"
}
for bin in "$sealnet" "$(dirname "$sealnet")/sealnet-cni" "$sealnetd"; do
	[ -x "$bin" ] || { bad "$bin: not built"; continue; }
	if needs "$bin" libcrypto.so.0 && needs "$bin" libcrypto.so.3; then
		bad "$bin needs both BoringSSL's libcrypto.so.0 and OpenSSL's libcrypto.so.3"
	else
		ok
	fi
done
if needs "$sealnetd" libcrypto.so.0; then ok; else bad "sealnetd does not link BoringSSL"; fi
for bin in "$sealnet" "$(dirname "$sealnet")/sealnet-cni"; do
	if needs "$bin" libcrypto.so.0; then bad "$bin links BoringSSL, which it never uses"; else ok; fi
done

echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
