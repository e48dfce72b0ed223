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

echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
