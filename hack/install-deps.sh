#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
# BGP speakers the routing tests interoperate with.
[ -x /usr/sbin/bird ] || need+=(bird2)
[ -x /usr/bin/gobgpd ] || need+=(gobgpd)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages ${need[*]}: run as root or install them" >&2
	exit 1
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages must not start their daemons (bird) in the root namespace:
# a policy-rc.d refusing every start, unless the machine has its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
