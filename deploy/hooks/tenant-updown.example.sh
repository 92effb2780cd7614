#!/bin/sh
# Example tenant up/down hook for isthmusd. Copy it, read it, adapt it:
#
#   install -m 0755 deploy/hooks/tenant-updown.example.sh /usr/local/lib/isthmus/tenant-updown
#   [daemon]
#   tenant_hook = /usr/local/lib/isthmus/tenant-updown
#
# isthmusd runs the hook as `tenant_hook up` once a tenant's TUN device exists
# (and again whenever its network settings or pools change: "down" for the
# old device, then "up"), and as `tenant_hook down` before the device goes
# away (tenant deleted or disabled, daemon stopping). It runs with the
# daemon's user and capabilities, standard output discarded; if it exits
# non-zero, the first line of its standard error is in the daemon's log. It
# is killed after 10 seconds. The environment:
#
#   ISTHMUS_ACTION        up or down (also $1)
#   ISTHMUS_TENANT        tenant id (a-z, 0-9, -)
#   ISTHMUS_TENANT_INDEX  small number, unique per tenant while the daemon runs
#   ISTHMUS_IFNAME        the TUN device
#   ISTHMUS_NETNS         network namespace the device was moved to; empty: none
#   ISTHMUS_POOLS         the tenant's address pools, space-separated CIDRs
#   ISTHMUS_MTU           the device's MTU
#
# What this example does, without VRFs:
#
# * Tenant with a namespace (network.netns set): the daemon has moved the
#   device there, given it the first address of each pool and brought it up.
#   The hook adds NAT: traffic from the pools leaving the namespace by any
#   other interface (or only by UPLINK, see below) is masqueraded, in an nft
#   table of its own, "isthmus_<tenant>", inside the namespace.
#
# * Tenant without a namespace: the device sits in the daemon's namespace
#   without addresses (overlapping tenant pools would collide there). The hook
#   gives the tenant a routing table of its own (ISTHMUS_TABLE_BASE + index,
#   default 1000 + index) holding its pool routes, and a rule sending packets
#   that arrive from the device to that table. With UPLINK set for the tenant,
#   that table's default route leaves by UPLINK (a VLAN of the tenant, say),
#   and packets arriving on UPLINK are routed by that table too, so that
#   tenants with overlapping pools stay apart. Without UPLINK, the pool routes
#   also go to the main table: fine for one tenant, or tenants whose pools do
#   not overlap. NAT as above, in the daemon's namespace.
#
# Per-tenant settings (optional), KEY=value lines, in
# ${ISTHMUS_HOOK_CONF_DIR:-/etc/isthmus/tenants}/<tenant>.conf:
#
#   UPLINK=vlan101             interface the tenant's traffic leaves by
#   UPLINK_GATEWAY=192.0.2.1   IPv4 next hop on UPLINK (no namespace only)
#   UPLINK_GATEWAY6=fe80::1    IPv6 next hop on UPLINK (no namespace only)
#   MASQUERADE=no              no NAT: the tenant's LAN routes the pools back
#
# Every step is idempotent: "up" twice leaves the same state as once, and
# "down" removes only what "up" made (also when "up" never ran).
#
# What it does not do: enable IP forwarding. Set net.ipv4.ip_forward=1 (and
# net.ipv6.conf.all.forwarding=1) in the namespace when you create it, or in
# /etc/sysctl.d for the daemon's namespace: the systemd unit keeps /proc/sys
# read-only. The hook logs a warning when forwarding is off.

set -eu

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

tag="isthmus-hook"

log() { # level message...
	level=$1
	shift
	logger -t "$tag" -p "daemon.$level" -- "$*" 2>/dev/null || printf '%s: %s\n' "$tag" "$*" >&2
}

die() {
	# The daemon logs the first line of standard error: make it this one.
	printf '%s\n' "$*" >&2
	logger -t "$tag" -p daemon.err -- "$*" 2>/dev/null || true
	exit 1
}

# --- inputs ------------------------------------------------------------------

action=${1:-${ISTHMUS_ACTION:-}}
tenant=${ISTHMUS_TENANT:-}
ifname=${ISTHMUS_IFNAME:-}
netns=${ISTHMUS_NETNS:-}
pools=${ISTHMUS_POOLS:-}
index=${ISTHMUS_TENANT_INDEX:-}

case $action in
up | down) ;;
*) die "usage: $0 up|down (with ISTHMUS_* in the environment)" ;;
esac

# The daemon checks these already; a hook run by hand should not trust them
# either, since they end up in nft rules and ip commands.
case $tenant in
'' | -* | *[!a-z0-9-]*) die "bad ISTHMUS_TENANT '$tenant'" ;;
esac
case $ifname in
'' | -* | *[!A-Za-z0-9._-]*) die "bad ISTHMUS_IFNAME '$ifname'" ;;
esac
case $netns in
-* | *[!A-Za-z0-9._-]*) die "bad ISTHMUS_NETNS '$netns'" ;;
esac
case $index in
'' | *[!0-9]*) die "bad ISTHMUS_TENANT_INDEX '$index'" ;;
esac
v4_pools=""
v6_pools=""
for p in $pools; do
	case $p in
	*[!0-9A-Fa-f.:/]* | */*/* | /* | */) die "bad pool '$p' in ISTHMUS_POOLS" ;;
	*/*) ;;
	*) die "bad pool '$p' in ISTHMUS_POOLS" ;;
	esac
	case $p in
	*:*) v6_pools="${v6_pools:+$v6_pools, }$p" ;;
	*) v4_pools="${v4_pools:+$v4_pools, }$p" ;;
	esac
done

# Per-tenant settings: read, never sourced.
UPLINK=""
UPLINK_GATEWAY=""
UPLINK_GATEWAY6=""
MASQUERADE=yes
conf="${ISTHMUS_HOOK_CONF_DIR:-/etc/isthmus/tenants}/$tenant.conf"
if [ -r "$conf" ]; then
	while IFS='=' read -r key value || [ -n "$key" ]; do
		case $key in
		'' | '#'*) continue ;;
		UPLINK)
			case $value in '' | -* | *[!A-Za-z0-9._@-]*) die "$conf: bad UPLINK '$value'" ;; esac
			UPLINK=$value
			;;
		UPLINK_GATEWAY)
			case $value in '' | *[!0-9.]*) die "$conf: bad UPLINK_GATEWAY '$value'" ;; esac
			UPLINK_GATEWAY=$value
			;;
		UPLINK_GATEWAY6)
			case $value in '' | *[!0-9A-Fa-f:]*) die "$conf: bad UPLINK_GATEWAY6 '$value'" ;; esac
			UPLINK_GATEWAY6=$value
			;;
		MASQUERADE)
			case $value in yes | no) MASQUERADE=$value ;; *) die "$conf: MASQUERADE must be yes or no" ;; esac
			;;
		*) die "$conf: unknown key '$key'" ;;
		esac
	done <"$conf"
fi

table="isthmus_$(printf '%s' "$tenant" | tr '-' '_')"
rt_table=$((${ISTHMUS_TABLE_BASE:-1000} + index))
rule_pref=$((${ISTHMUS_RULE_PREF_BASE:-20000} + index))

# Commands in the tenant's namespace, or here when it has none.
in_ns() {
	if [ -n "$netns" ]; then
		ip netns exec "$netns" "$@"
	else
		"$@"
	fi
}

# --- NAT ---------------------------------------------------------------------

nat_up() {
	if [ "$MASQUERADE" = no ] || [ -z "$v4_pools$v6_pools" ]; then
		nat_down
		return 0
	fi
	if [ -n "$UPLINK" ]; then
		out="oifname \"$UPLINK\""
	else
		out="oifname != \"$ifname\""
	fi
	# One nft transaction: create the table if missing, delete it, make it
	# again. Run twice, the result is the same; nothing half-made is left.
	{
		printf 'table inet %s {}\n' "$table"
		printf 'delete table inet %s\n' "$table"
		printf 'table inet %s {\n' "$table"
		printf '\tchain postrouting {\n'
		printf '\t\ttype nat hook postrouting priority srcnat; policy accept;\n'
		[ -z "$v4_pools" ] || printf '\t\t%s ip saddr { %s } masquerade\n' "$out" "$v4_pools"
		[ -z "$v6_pools" ] || printf '\t\t%s ip6 saddr { %s } masquerade\n' "$out" "$v6_pools"
		printf '\t}\n}\n'
	} | in_ns nft -f -
}

nat_down() {
	if in_ns nft list table inet "$table" >/dev/null 2>&1; then
		in_ns nft delete table inet "$table"
	fi
}

# --- policy routing (no namespace) -----------------------------------------

# Deletes every rule with our preference (bounded: a rule per family and
# source at most).
rules_down() {
	for fam in -4 -6; do
		n=0
		while [ $n -lt 8 ] && ip "$fam" rule del pref "$rule_pref" 2>/dev/null; do
			n=$((n + 1))
		done
	done
}

routing_up() {
	ip link set dev "$ifname" up
	rules_down
	ip -4 route flush table "$rt_table" 2>/dev/null || true
	ip -6 route flush table "$rt_table" 2>/dev/null || true
	for p in $pools; do
		case $p in *:*) fam=-6 ;; *) fam=-4 ;; esac
		ip "$fam" route replace "$p" dev "$ifname" table "$rt_table"
		[ -n "$UPLINK" ] || ip "$fam" route replace "$p" dev "$ifname"
	done
	for fam in -4 -6; do
		if [ "$fam" = -4 ]; then fam_pools=$v4_pools gw=$UPLINK_GATEWAY; else fam_pools=$v6_pools gw=$UPLINK_GATEWAY6; fi
		[ -n "$fam_pools" ] || continue
		ip "$fam" rule add pref "$rule_pref" iif "$ifname" lookup "$rt_table"
		if [ -n "$UPLINK" ]; then
			if [ -n "$gw" ]; then
				ip "$fam" route replace default via "$gw" dev "$UPLINK" table "$rt_table"
			else
				ip "$fam" route replace default dev "$UPLINK" table "$rt_table"
			fi
			ip "$fam" rule add pref "$rule_pref" iif "$UPLINK" lookup "$rt_table"
		fi
	done
}

routing_down() {
	rules_down
	ip -4 route flush table "$rt_table" 2>/dev/null || true
	ip -6 route flush table "$rt_table" 2>/dev/null || true
	if [ -z "$UPLINK" ]; then
		for p in $pools; do
			case $p in *:*) fam=-6 ;; *) fam=-4 ;; esac
			ip "$fam" route del "$p" dev "$ifname" 2>/dev/null || true
		done
	fi
}

check_forwarding() {
	if [ -n "$v4_pools" ] && [ "$(in_ns cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 0)" != 1 ]; then
		log warning "tenant $tenant: net.ipv4.ip_forward is off${netns:+ in namespace $netns}: its clients reach nothing beyond the gateway"
	fi
	if [ -n "$v6_pools" ] && [ "$(in_ns cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null || echo 0)" != 1 ]; then
		log warning "tenant $tenant: net.ipv6.conf.all.forwarding is off${netns:+ in namespace $netns}"
	fi
}

# --- main --------------------------------------------------------------------

case $action in
up)
	if [ -n "$netns" ]; then
		[ -e "/run/netns/$netns" ] || die "tenant $tenant: no network namespace $netns"
	else
		routing_up
	fi
	nat_up
	check_forwarding
	log info "tenant $tenant: $ifname up${netns:+ in namespace $netns}, pools: ${pools:-none}, NAT: $MASQUERADE${UPLINK:+, uplink $UPLINK}"
	;;
down)
	if [ -z "$netns" ]; then
		routing_down
	elif [ ! -e "/run/netns/$netns" ]; then
		# The namespace is gone, and with it everything the hook made there.
		log info "tenant $tenant: namespace $netns already gone"
		exit 0
	fi
	nat_down
	log info "tenant $tenant: $ifname down${netns:+ in namespace $netns}"
	;;
esac
