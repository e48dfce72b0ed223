#!/usr/bin/env bash
# Runs each cmocka unit-test binary (TAP output) and sums up.
set -u
pass=0 fail=0
for t in "$@"; do
	if CMOCKA_MESSAGE_OUTPUT=TAP "$t"; then
		pass=$((pass + 1))
	else
		echo "FAILED: $t"
		fail=$((fail + 1))
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
