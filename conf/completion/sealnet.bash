# bash completion for sealnet(8), installed by `make install` as
# $(PREFIX)/share/bash-completion/completions/sealnet. Interfaces are the control sockets in
# /var/run/wireguard (SEALNET_RUN_DIR overrides it, for tests); up and check take a .conf file
# or the name of one in /etc/sealnet.

_sealnet_interfaces() {
	local dir=${SEALNET_RUN_DIR:-/var/run/wireguard} f
	for f in "$dir"/*.sock; do
		[ -S "$f" ] || continue
		f=${f##*/}
		printf '%s\n' "${f%.sock}"
	done
}

# What `sealnet show IFACE` takes after the name, as `wg show` does (tools/show.c).
_sealnet_fields="public-key private-key listen-port fwmark peers preshared-keys endpoints allowed-ips latest-handshakes transfer persistent-keepalive dump"

# Words of the `set` command line (wg set's, and rules and groups).
_sealnet_set_words() {
	local w in_peer=0
	for w in "${COMP_WORDS[@]:3:COMP_CWORD-3}"; do
		[ "$w" = peer ] && in_peer=1
	done
	if [ "$in_peer" = 1 ]; then
		echo "peer remove preshared-key endpoint persistent-keepalive allowed-ips groups"
	else
		echo "listen-port fwmark private-key rules peer"
	fi
}

_sealnet() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="show status set check up down reload genkey genpsk pubkey bench registry help"
	local IFS=$'\n'

	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		IFS=' '
		mapfile -t COMPREPLY < <(compgen -W "$cmds --help --version" -- "$cur")
		return
	fi
	case ${COMP_WORDS[1]} in
	show | status)
		if [ "$COMP_CWORD" -eq 2 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_sealnet_interfaces)
all
--json
$([ "${COMP_WORDS[1]}" = show ] && printf 'interfaces\n--brief\n')" -- "$cur")
		elif [ "$COMP_CWORD" -eq 3 ]; then
			IFS=' '
			if [ "${COMP_WORDS[1]}" = show ]; then
				mapfile -t COMPREPLY < <(compgen -W "--json --brief $_sealnet_fields" -- "$cur")
			else
				mapfile -t COMPREPLY < <(compgen -W "--json --interval" -- "$cur")
			fi
		fi
		;;
	down | reload)
		[ "$COMP_CWORD" -eq 2 ] && mapfile -t COMPREPLY < <(compgen -W "$(_sealnet_interfaces)" -- "$cur")
		;;
	set)
		if [ "$COMP_CWORD" -eq 2 ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_sealnet_interfaces)" -- "$cur")
			return
		fi
		case $prev in
		private-key | preshared-key)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			;;
		persistent-keepalive)
			mapfile -t COMPREPLY < <(compgen -W "off" -- "$cur")
			;;
		fwmark)
			mapfile -t COMPREPLY < <(compgen -W "off" -- "$cur")
			;;
		listen-port | endpoint | allowed-ips | rules | groups | peer) ;;
		*)
			IFS=' '
			mapfile -t COMPREPLY < <(compgen -W "$(_sealnet_set_words)" -- "$cur")
			;;
		esac
		;;
	up | check)
		if [ "${COMP_WORDS[1]}" = check ] && [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--strict" -- "$cur")
			return
		fi
		# Files ending in .conf and directories, and the names of /etc/sealnet's files.
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(
			compgen -f -X '!*.conf' -- "$cur"
			compgen -d -- "$cur"
			if [[ $cur != */* ]]; then
				local f
				for f in "${SEALNET_CONF_DIR:-/etc/sealnet}"/*.conf; do
					[ -e "$f" ] || continue
					f=${f##*/}
					printf '%s\n' "${f%.conf}"
				done | grep -- "^$cur"
			fi
		)
		;;
	esac
}

complete -F _sealnet sealnet
