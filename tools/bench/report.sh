#!/usr/bin/env bash
# sealnet bench's report: the table, the JSON and the chart, rendered from a results file.
#
#	report.sh [--txt FILE] [--json FILE] [--plot FILE.svg] RESULTS
#
# bench.sh measures and calls this at the end of a run; BENCH_KEEP=1 keeps the run's results
# file (in its scratch directory) so that a report can be rendered again.  The table goes to
# stdout (and to --txt FILE too); the files are written first, so that a closed terminal or
# pipe does not cost them.  Exit status 1 if something could not be read, written or drawn.
#
# RESULTS is text, one record a line, fields separated by tabs; in the last field of meta,
# system, failed and skipped records a backslash, newline, tab or carriage return is written
# as \\, \n, \t or \r:
#	meta KEY VALUE           mode (local or peer), reference (the system every ratio is to),
#	                         date, host, kernel, cpus, rounds, seconds; in peer mode also
#	                         peer, peer_underlay, overlay
#	system NAME DESCRIPTION  the systems measured, in the order of the table's columns
#	failed NAME WHY          NAME failed in some round: its figures are partial
#	skipped NAME WHY         NAME was not run
#	sample ROUND SYSTEM FIGURE VALUE   one figure of one system in one round ("null": none)
# Figures are the ones listed at the top of bench.sh.
set -u -o pipefail
export LC_ALL=C

ME=bench

die() {
	printf '%s: %s\n' "$ME" "$*" >&2
	exit 1
}

JSON_OUT=
PLOT_OUT=
TXT_OUT=
RESULTS=
while [ $# -gt 0 ]; do
	case $1 in
	--json) [ $# -ge 2 ] || die "--json needs a file"; JSON_OUT=$2; shift ;;
	--plot) [ $# -ge 2 ] || die "--plot needs a file"; PLOT_OUT=$2; shift ;;
	--txt) [ $# -ge 2 ] || die "--txt needs a file"; TXT_OUT=$2; shift ;;
	-h | --help) sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#//'; exit 0 ;;
	-*) die "report: unknown option '$1'" ;;
	*) [ -z "$RESULTS" ] || die "report: one results file only"; RESULTS=$1 ;;
	esac
	shift
done
[ -n "$RESULTS" ] || die "report: which results file?"
[ -r "$RESULTS" ] || die "cannot read $RESULTS"
if [ -n "$PLOT_OUT" ] && ! command -v gnuplot >/dev/null 2>&1; then
	die "gnuplot is not installed (Debian package gnuplot-nox; \`make deps' installs it)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sn-bench-report.XXXXXX") || die "cannot make a scratch directory"
trap 'rm -rf "$WORK"' EXIT

# --- the results file ----------------------------------------------------------------------

declare -A META SYS_DESCR SYS_FAILED
SYS_LIST=() # the table's columns, in order
SKIPPED=()  # "name<TAB>why"

read_results() {
	local kind name text n=0
	while IFS=$'\t' read -r kind name text; do
		n=$((n + 1))
		printf -v text '%b' "$text"
		case $kind in
		meta) META[$name]=$text ;;
		system) SYS_LIST+=("$name"); SYS_DESCR[$name]=$text ;;
		failed) SYS_FAILED[$name]=$text ;;
		skipped) SKIPPED+=("$name"$'\t'"$text") ;;
		sample | '') ;;
		*) die "$RESULTS:$n: unknown record '$kind'" ;;
		esac
	done <"$RESULTS"
	for name in mode reference date host kernel cpus rounds seconds; do
		[ -n "${META[$name]:-}" ] || die "$RESULTS: no 'meta $name' record"
	done
	[ "${#SYS_LIST[@]}" -gt 0 ] || die "$RESULTS: no 'system' record"
	MODE=${META[mode]}
	REF=${META[reference]}
	DATE=${META[date]}
	ROUNDS=${META[rounds]}
	SECS=${META[seconds]}
	if [ "$MODE" = peer ]; then
		TITLE="sealnet bench --peer ${META[peer]:-}: overlay against underlay"
	else
		TITLE="sealnet bench: encryption against plain veth"
	fi
	SUBTITLE="$ROUNDS round(s) of $SECS s per test, ${META[host]}, ${META[cpus]} CPUs, Linux ${META[kernel]}, $DATE"
}

# --- summary and output ----------------------------------------------------------------------

FIGURES=(tcp1_mbps tcp4_mbps udp64_pps rtt_median_ms rtt_p99_ms cpu_s_per_gb rss_peak_kib)
declare -A FIG_LABEL=(
	[tcp1_mbps]="TCP, 1 stream (Mbit/s)"
	[tcp4_mbps]="TCP, 4 streams (Mbit/s)"
	[udp64_pps]="UDP 64 B (packets/s)"
	[rtt_median_ms]="RTT median (ms)"
	[rtt_p99_ms]="RTT p99 (ms)"
	[cpu_s_per_gb]="CPU (s per GB)"
	[rss_peak_kib]="peak RSS (MiB)"
)
declare -A FIG_UNIT=(
	[tcp1_mbps]="Mbit/s" [tcp4_mbps]="Mbit/s" [udp64_pps]="packets/s" [rtt_median_ms]="ms"
	[rtt_p99_ms]="ms" [cpu_s_per_gb]="CPU s/GB" [rss_peak_kib]="KiB"
)
declare -A MED RAT SAMP

# summarize: medians of the samples and of the per-round ratios to the reference.
summarize() {
	local sys fig med rat samp
	while IFS=$'\t' read -r sys fig med rat samp; do
		MED[$sys,$fig]=$med
		RAT[$sys,$fig]=$rat
		SAMP[$sys,$fig]=$samp
	done < <(awk -F'\t' -v ref="$REF" '
		function isort(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		}
		function median(list,   a, n, i) {
			n = split(list, a, ",")
			if (n == 0) return "null"
			for (i = 1; i <= n; i++) a[i] += 0
			isort(a, n)
			return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		$1 == "sample" {
			key = $3 SUBSEP $4
			if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
			if (!($2 in rseen)) { rseen[$2] = 1; rounds[++nr] = $2 }
			val[$2, $3, $4] = $5
		}
		END {
			for (i = 1; i <= nk; i++) {
				split(order[i], p, SUBSEP)
				samp = ""; rat = ""
				for (j = 1; j <= nr; j++) {
					rd = rounds[j]
					if (!((rd, p[1], p[2]) in val) || val[rd, p[1], p[2]] == "null") continue
					v = val[rd, p[1], p[2]]
					samp = samp (samp == "" ? "" : ",") v
					# The ratio to the reference measured in the same round.
					if ((rd, ref, p[2]) in val && val[rd, ref, p[2]] != "null" && val[rd, ref, p[2]] + 0 > 0)
						rat = rat (rat == "" ? "" : ",") sprintf("%.6g", v / val[rd, ref, p[2]])
				}
				m = (samp == "") ? "null" : sprintf("%.10g", median(samp))
				r = (rat == "") ? "null" : sprintf("%.4g", median(rat))
				printf "%s\t%s\t%s\t%s\t%s\n", p[1], p[2], m, r, samp
			}
		}' "$RESULTS")
}

# fmt FIGURE VALUE: for the table.
fmt() {
	local v=$2
	if [ -z "$v" ] || [ "$v" = null ]; then echo "-"; return; fi
	case $1 in
	rss_peak_kib) awk -v v="$v" 'BEGIN { printf "%.1f", v / 1024 }' ;;
	rtt_*) awk -v v="$v" 'BEGIN { printf "%.3f", v }' ;;
	cpu_*) awk -v v="$v" 'BEGIN { printf "%.2f", v }' ;;
	*) awk -v v="$v" 'BEGIN { printf "%.0f", v }' ;;
	esac
}

print_table() {
	local sys fig cell w0=24 i row
	local -a width cells
	echo "$TITLE"
	echo "$SUBTITLE"
	echo
	for i in "${!SYS_LIST[@]}"; do width[i]=${#SYS_LIST[i]}; done
	# First pass: the cells, to size the columns.
	for fig in "${FIGURES[@]}"; do
		for i in "${!SYS_LIST[@]}"; do
			sys=${SYS_LIST[i]}
			cell=$(fmt "$fig" "${MED[$sys,$fig]:-}")
			if [ "$sys" != "$REF" ] && [ -n "${RAT[$sys,$fig]:-}" ] && [ "${RAT[$sys,$fig]}" != null ]; then
				cell="$cell ($(awk -v r="${RAT[$sys,$fig]}" 'BEGIN { printf "%.2f", r }')x)"
			fi
			cells+=("$cell")
			[ "${#cell}" -gt "${width[i]}" ] && width[i]=${#cell}
		done
	done
	printf "%-${w0}s" ""
	for i in "${!SYS_LIST[@]}"; do printf "  %${width[i]}s" "${SYS_LIST[i]}"; done
	echo
	row=0
	for fig in "${FIGURES[@]}"; do
		printf "%-${w0}s" "${FIG_LABEL[$fig]}"
		for i in "${!SYS_LIST[@]}"; do
			printf "  %${width[i]}s" "${cells[row]}"
			row=$((row + 1))
		done
		echo
	done
	echo
	echo "Medians over rounds; (Nx) = median over rounds of the ratio to $REF in the same round."
	echo "Throughput and packets: higher is better; RTT, CPU and RSS: lower is better."
	echo "CPU: user+system seconds of the daemons during the TCP runs per GB received; RSS: the"
	echo "largest daemon's VmHWM.  '-': no daemon to measure."
	for sys in "${SYS_LIST[@]}"; do
		[ -n "${SYS_DESCR[$sys]:-}" ] && printf '  %-14s %s\n' "$sys:" "${SYS_DESCR[$sys]}"
		[ -n "${SYS_FAILED[$sys]:-}" ] && printf '  %-14s FAILED: %s\n' "$sys:" "${SYS_FAILED[$sys]}"
	done
	for i in "${SKIPPED[@]}"; do printf '  %-14s not run: %s\n' "${i%%$'\t'*}:" "${i#*$'\t'}"; done
	return 0
}

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/\\t}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/}
	printf '"%s"' "$s"
}

json_num() {
	if [ -z "$1" ] || [ "$1" = null ]; then printf null; else printf '%s' "$1"; fi
}

write_json() {
	local f=$1 sys fig i first
	{
		printf '{\n'
		printf '  "tool": "sealnet bench",\n'
		printf '  "version": 1,\n'
		printf '  "mode": %s,\n' "$(json_str "$MODE")"
		printf '  "date": %s,\n' "$(json_str "$DATE")"
		printf '  "host": %s,\n' "$(json_str "${META[host]}")"
		printf '  "kernel": %s,\n' "$(json_str "${META[kernel]}")"
		printf '  "cpus": %s,\n' "${META[cpus]}"
		printf '  "rounds": %s,\n' "$ROUNDS"
		printf '  "seconds": %s,\n' "$SECS"
		printf '  "reference": %s,\n' "$(json_str "$REF")"
		if [ "$MODE" = peer ]; then
			printf '  "peer": {"host": %s, "underlay": %s, "overlay": %s},\n' \
				"$(json_str "${META[peer]:-}")" "$(json_str "${META[peer_underlay]:-}")" \
				"$(json_str "${META[overlay]:-}")"
		fi
		printf '  "units": {'
		first=1
		for fig in "${FIGURES[@]}"; do
			[ "$first" = 1 ] || printf ', '
			first=0
			printf '%s: %s' "$(json_str "$fig")" "$(json_str "${FIG_UNIT[$fig]}")"
		done
		printf '},\n'
		printf '  "systems": {\n'
		for i in "${!SYS_LIST[@]}"; do
			sys=${SYS_LIST[i]}
			printf '    %s: {\n' "$(json_str "$sys")"
			printf '      "description": %s,\n' "$(json_str "${SYS_DESCR[$sys]:-}")"
			if [ -n "${SYS_FAILED[$sys]:-}" ]; then
				printf '      "failed": %s,\n' "$(json_str "${SYS_FAILED[$sys]}")"
			else
				printf '      "failed": null,\n'
			fi
			for part in median ratio samples; do
				printf '      "%s": {' "$part"
				first=1
				for fig in "${FIGURES[@]}"; do
					[ "$first" = 1 ] || printf ', '
					first=0
					printf '%s: ' "$(json_str "$fig")"
					case $part in
					median) json_num "${MED[$sys,$fig]:-}" ;;
					ratio) json_num "${RAT[$sys,$fig]:-}" ;;
					samples) printf '[%s]' "${SAMP[$sys,$fig]:-}" ;;
					esac
				done
				[ "$part" = samples ] && printf '}\n' || printf '},\n'
			done
			[ "$i" -lt $((${#SYS_LIST[@]} - 1)) ] && printf '    },\n' || printf '    }\n'
		done
		printf '  },\n'
		printf '  "skipped": {'
		first=1
		for i in "${SKIPPED[@]}"; do
			[ "$first" = 1 ] || printf ', '
			first=0
			printf '%s: %s' "$(json_str "${i%%$'\t'*}")" "$(json_str "${i#*$'\t'}")"
		done
		printf '}\n'
		printf '}\n'
	} >"$f.tmp.$$" && mv "$f.tmp.$$" "$f" || die "cannot write $f"
}

# write_plot FILE.svg: one cluster per figure that has a ratio, one bar per system, drawn
# from the reference's 1 on a log axis, so that half and double are the same length.
write_plot() {
	local f=$1 data=$WORK/plot.dat gp=$WORK/plot.gp sys fig i n v cmd='' range w x
	local -a others=()
	for sys in "${SYS_LIST[@]}"; do [ "$sys" != "$REF" ] && others+=("$sys"); done
	n=${#others[@]}
	i=0
	for fig in tcp1_mbps tcp4_mbps udp64_pps rtt_median_ms rtt_p99_ms; do
		printf '%d' "$i"
		for sys in "${others[@]}"; do
			v=${RAT[$sys,$fig]:-}
			{ [ -z "$v" ] || [ "$v" = null ]; } && v=NaN
			printf ' %s' "$v"
		done
		echo
		i=$((i + 1))
	done >"$data"
	# A range around every bar and 1, with room for the labels.
	range=$(awk '{ for (i = 2; i <= NF; i++) if ($i != "NaN" && $i > 0) { if ($i < lo) lo = $i; if ($i > hi) hi = $i } }
		BEGIN { lo = 1; hi = 1 } END { printf "[%g:%g]", lo / 2.5, hi * 2.5 }' "$data")
	w=$(awk -v n="$n" 'BEGIN { printf "%g", 0.8 / n }')
	for ((i = 0; i < n; i++)); do
		x="(\$1 - 0.4 + $w * ($i + 0.5))"
		[ -n "$cmd" ] && cmd="$cmd, \\"$'\n'"	"
		cmd="$cmd'$data' using $x:(1):($x - $w * 0.45):($x + $w * 0.45):(1):$((i + 2)) with boxxyerror fillstyle solid 0.85 border -1 linecolor $((i + 1)) title '${others[i]}', \\"$'\n'"	"
		v="\$$((i + 2))"
		cmd="$cmd'$data' using $x:($v >= 1 ? $v * 1.35 : $v / 1.35):(sprintf('%.2fx', $v)) with labels font ',9' notitle"
	done
	cat >"$gp" <<-EOF
		set terminal svg size 960,560 dynamic enhanced font "sans,12" background rgb "white"
		set output '$f.tmp.$$'
		set title "$TITLE\n{/*0.8 $SUBTITLE}"
		set logscale y
		set yrange $range
		set xrange [-0.6:4.6]
		set ylabel "ratio to $REF (median of the per-round ratios; log scale)"
		set xtics ("TCP, 1 stream\n(higher is better)" 0, "TCP, 4 streams\n(higher is better)" 1, \\
			"UDP, 64 B packets\n(higher is better)" 2, "RTT median\n(lower is better)" 3, \\
			"RTT p99\n(lower is better)" 4) scale 0
		set bmargin 5
		set grid ytics
		set key outside right top
		set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 1.5 front
		set label "$REF = 1" at graph 0.01, first 1 offset 0,0.7 front
		plot $cmd
	EOF
	gnuplot "$gp" >"$WORK/gnuplot.log" 2>&1 && mv "$f.tmp.$$" "$f" || {
		rm -f "$f.tmp.$$"
		printf '%s: gnuplot could not draw %s:\n' "$ME" "$f" >&2
		sed 's/^/    /' "$WORK/gnuplot.log" >&2
		return 1
	}
}

# --- main ----------------------------------------------------------------------------------

read_results
summarize
STATUS=0
[ -n "$JSON_OUT" ] && write_json "$JSON_OUT"
[ -n "$PLOT_OUT" ] && { write_plot "$PLOT_OUT" || STATUS=1; }
if [ -n "$TXT_OUT" ]; then
	print_table >"$TXT_OUT" || die "cannot write $TXT_OUT"
	cat "$TXT_OUT"
else
	print_table
fi
exit "$STATUS"
