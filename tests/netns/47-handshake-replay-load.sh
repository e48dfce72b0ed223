#!/usr/bin/env bash
# A replay of one captured handshake initiation must not put b "under load" (issue 12,
# finding 5).  m captures a's first initiation to b, then replays it to b SN_REPLAY_RATE times
# a second (default 200; the old rule, more than 128 valid-mac1 messages in a second, turned
# that into cookies for everyone).  b refuses each copy at the timestamp check, after one
# Diffie-Hellman: a few percent of a core.  Meanwhile a restarts, with a fresh handshake that
# must complete at once (well within REKEY_TIMEOUT, the 5 s a cookie round costs) and b must
# send no cookie reply at all.  That a flood beyond what b's CPU handles still turns cookies
# on is tests/netns/43's.
#
# Prints the figures (replay rate, a's reconnect time, b's CPU, counters) on lines starting
# "figures:".
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/netns/attack.sh
. "$(dirname "$0")/attack.sh"

if [ "$(impl_default b)" != sealnetd ]; then
	say "skip: node b must be sealnetd (IMPL_B=$(impl_default b))"
	exit 0
fi
RATE=${SN_REPLAY_RATE:-200}
[ "$RATE" -ge 1 ] && [ "$RATE" -le 5000 ] || fail "SN_REPLAY_RATE 1..5000"
SECS=20
cap=$SN_TMP/initiation.pcap

attack_topology
step "a (${IMPL[a]}) - m - b (${IMPL[b]}); m captures a's first initiation"
# On m's link to b; udp[8] is the message type, 1 an initiation.
capture_start m ulb "$cap" -c 1 'udp and udp[8] = 1'
start_node b
start_node a
check "handshake a -> b" wait_ping a "${OV4[b]}" 10
check "the capture ended with one initiation" wait_for 5 sh -c "! kill -0 $CAP_PID"
capture_stop
out=$("$UDPFUZZ" check "$cap" "${PORT[a]},${PORT[b]}" "no-marker-here")
grep -q ' initiation=1 ' <<<"$out" || fail "no initiation captured: $out"

step "m replays it to b at $RATE/s for ${SECS}s; a restarts meanwhile"
show_counters b >/dev/null
counters_snapshot b r0
bg_start "$SN_TMP/replay.log" m "$UDPFUZZ" -i $((1000000 / RATE)) -r $((RATE * SECS)) -t "$SECS" \
	replay "${UL4[b]}" "${PORT[b]}" "$cap"
REPLAY_PID=$BG_PID
# The old rule trips once 128 have come within a second: well past it.
sleep 3
node_alive b || fail "b died"
ticks0=$(cpu_ticks b) cs0=$(now_cs)
stop_node a
start_node a
t0=$(now_cs)
check "a's new handshake under the replay" wait_ping a "${OV4[b]}" 10
reconnect=$(($(now_cs) - t0))
ticks1=$(cpu_ticks b) cs1=$(now_cs)
check "ping a -> b under the replay" ping_ok a "${OV4[b]}" 3
show_counters b >/dev/null
check_eq "b: no cookie replies (never under load)" "$(counter_delta b r0 cookie_replies_sent)" 0
check_eq "b: no drop_cookie" "$(counter_delta b r0 drop_cookie)" 0
# A cookie round means waiting for the retransmission, REKEY_TIMEOUT = 5 s later.
check "a's handshake took ${reconnect}0 ms (< 2 s: no cookie round)" test "$reconnect" -lt 200
stop_pid "$REPLAY_PID" INT
sed 's/^/    /' "$SN_TMP/replay.log"
show_counters b >/dev/null
# Each one reached the timestamp check (none was turned away with a cookie instead): as many
# refusals as replays went out (a loaded machine sends fewer than RATE a second, and its
# socket buffers may lose a few).
sent=$(sed -n 's/^udpfuzz: sent \([0-9]*\) datagrams.*/\1/p' "$SN_TMP/replay.log")
[ -n "$sent" ] || fail "no 'sent' line from the replayer"
check_gt "b refused the replays (drop_handshake_replay, of $sent sent)" \
	"$(counter_delta b r0 drop_handshake_replay)" $((sent * 9 / 10))
say "figures: replay of one initiation at $RATE/s: $(grep 'sent ' "$SN_TMP/replay.log" | sed 's/^udpfuzz: //')"
say "figures: a restarted and handshook again in ${reconnect}0 ms; b CPU meanwhile $(cpu_percent "$ticks0" "$ticks1" $((cs1 - cs0)))%"
say "figures: b's counters moved: $(drop_deltas b r0)"
say "done"
