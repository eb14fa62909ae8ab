#!/bin/sh
# make deb: builds the agentd and agentd-portal .debs from this tree. The
# tree is copied to a scratch directory with packaging/debian as debian/
# (dpkg-buildpackage wants it at the top and writes beside it), the .debs
# land in build/packages/ and lintian judges them: any error or warning
# fails the build.
#
# AGENTD_DEB_VERSION=0.1.0+1 builds that version instead of the changelog's
# (a newer package for upgrade tests); it must start with VERSION.
# AGENTD_DEB_KEEP=1 keeps the scratch directory.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
version=$(cat "$top/VERSION")
out="$top/build/packages"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

apt_updated=""
apt_install() {
	if [ -z "$apt_updated" ]; then
		$sudo apt-get update -qq
		apt_updated=1
	fi
	$sudo apt-get install -y -qq --no-install-recommends "$@"
}

# The tools that read debian/ at all; the Build-Depends come after.
missing=""
for p in dpkg-dev debhelper lintian; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "build-deb: installing$missing"
	apt_install $missing
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-deb.XXXXXX")
if [ "${AGENTD_DEB_KEEP:-0}" = 1 ]; then
	echo "build-deb: scratch directory $work kept"
else
	trap 'rm -rf "$work"' EXIT
fi
src="$work/agentd-$version"
mkdir "$src"
# Everything but build output and git; debian/ from packaging/debian.
tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
cp -R "$top/packaging/debian" "$src/debian"

deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
upstream=${deb_version#*:}
upstream=${upstream%-*}
if [ "$upstream" != "$version" ]; then
	echo "build-deb: debian/changelog is at $deb_version but VERSION is" \
	    "$version: add a changelog entry" >&2
	exit 1
fi
if [ -n "${AGENTD_DEB_VERSION:-}" ]; then
	case $AGENTD_DEB_VERSION in
	"$version"|"$version"[+~-]*) ;;
	*)
		echo "build-deb: AGENTD_DEB_VERSION=$AGENTD_DEB_VERSION does not" \
		    "start with VERSION ($version)" >&2
		exit 1
		;;
	esac
	maint=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Maintainer)
	{
		printf 'agentd (%s) unstable; urgency=medium\n\n' \
		    "$AGENTD_DEB_VERSION"
		printf '  * Rebuilt as %s for upgrade tests.\n\n' \
		    "$AGENTD_DEB_VERSION"
		printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
		cat "$src/debian/changelog"
	} >"$src/debian/changelog.new"
	mv "$src/debian/changelog.new" "$src/debian/changelog"
	deb_version=$AGENTD_DEB_VERSION
fi

# Build-Depends from debian/control, only when some are missing.
if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
	echo "build-deb: installing the Build-Depends of debian/control"
	[ -n "$apt_updated" ] || { $sudo apt-get update -qq; apt_updated=1; }
	$sudo apt-get build-dep -y -qq --no-install-recommends "$src"
fi

echo "build-deb: building agentd $deb_version in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log above)" >&2
	exit 1
}

mkdir -p "$out"
arch=$(dpkg --print-architecture)
debs=""
for p in agentd agentd-portal; do
	f="${p}_${deb_version#*:}_${arch}.deb"
	cp "$work/$f" "$out/$f"
	debs="$debs $out/$f"
done
echo "build-deb: packages:"
for f in $debs; do
	echo "  $f"
done

# -I shows the informational tags too; only errors and warnings fail.
echo "build-deb: lintian$debs"
if lintian -I --fail-on error,warning $debs; then
	echo "build-deb: lintian: no errors or warnings"
else
	echo "build-deb: lintian found errors or warnings (above)" >&2
	exit 1
fi
