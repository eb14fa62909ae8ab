#!/bin/sh
# Installs the Debian/Ubuntu packages agentd needs to build and test, only
# those missing. Used by `make deps` (and so by `make check` and `make demo`).
set -eu

pkgs="build-essential pkg-config clang libclang-rt-dev
libsystemd-dev libjansson-dev libinih-dev libcmocka-dev valgrind
libcurl4-openssl-dev zlib1g-dev libmicrohttpd-dev libsqlite3-dev libgnutls28-dev
monitoring-plugins-basic collectd-core openssl procps python3 curl
systemd man-db
dbus-daemon systemd-journal-remote
libarchive-dev libsodium-dev nettle-dev libzstd-dev zstd acl libcap2-bin
libssh2-1-dev openssh-server openssh-client
chromium fonts-dejavu-core nodejs npm xxd"

missing=""
for p in $pkgs; do
	# libclang-rt-dev is virtual on some releases: accept any provider.
	if [ "$p" = libclang-rt-dev ]; then
		ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
		    >/dev/null 2>&1 && continue
		p=$(apt-cache search --names-only '^libclang-rt-[0-9]+-dev$' 2>/dev/null |
		    sort -V | tail -n 1 | cut -d' ' -f1)
		[ -n "$p" ] || p=libclang-rt-14-dev
	fi
	# A node from elsewhere (NodeSource's nodejs has npm inside and
	# conflicts with Debian's npm package) is as good.
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "build-deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# collectd-core is only the benchmark's peer: never start it as a service.
# openssh-server is test_backup_sftp.sh's server: the test runs its own sshd.
# xxd embeds the web app in agentd-portal (portal/web-embed.sh). chromium,
# nodejs and npm: the web app's browser test (tests/browser/,
# playwright-core from npm drives Debian's chromium; fonts for screenshots).
$sudo apt-get install -y -qq --no-install-recommends $missing
