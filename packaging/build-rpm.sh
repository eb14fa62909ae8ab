#!/bin/sh
# Builds the agentd and agentd-portal RPMs from the working tree (`make rpm`):
# a source tarball of the tree, rpmbuild -bb on packaging/rpm/agentd.spec,
# then rpmlint. The packages land in $BUILD/packages (default build/).
#
# It runs on Debian, which can build RPMs but cannot satisfy their Fedora
# BuildRequires (no rpm database of build packages): rpmbuild gets --nodeps,
# and the Debian packages the build needs come from packaging/build-deps.sh.
# Debian's rpm has no systemd macros either, so packaging/rpm/
# macros.systemd-fallback is loaded when the real file is missing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
version=$(cat VERSION)
release=${RPM_RELEASE:-1}
topdir=$build/rpmbuild
out=$build/packages

# Only this target needs rpm and rpmlint, so they are not build-deps.sh's.
missing=""
command -v rpmbuild >/dev/null 2>&1 || missing="$missing rpm"
command -v rpmlint >/dev/null 2>&1 || missing="$missing rpmlint"
if [ -n "$missing" ]; then
	echo "build-rpm: installing$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	$sudo apt-get install -y -qq --no-install-recommends $missing
fi

sysusers=systemd/agentd.sysusers
if [ ! -f "$sysusers" ]; then
	echo "build-rpm: $sysusers is missing; the package cannot create its user" >&2
	exit 1
fi

rm -rf "$topdir"
mkdir -p "$topdir/SOURCES" "$out"

# The tarball is the working tree as git sees it (tracked and new files,
# nothing ignored), so uncommitted work is packaged and build/ is not.
list=$topdir/files
if [ -d .git ] && command -v git >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
	    tr '\0' '\n' >"$list.all"
else
	find . -path ./build -prune -o -path ./.git -prune -o -type f -print |
	    sed 's,^\./,,' >"$list.all"
fi
rel=${build#"$top"/}
: >"$list"
while IFS= read -r f; do
	# Deleted but still tracked files, and a build dir inside the tree.
	[ -e "$f" ] || continue
	case $f in
	"$rel"/*) continue ;;
	esac
	printf '%s\n' "$f" >>"$list"
done <"$list.all"
tar -czf "$topdir/SOURCES/agentd-$version.tar.gz" --owner=0 --group=0 \
    --no-recursion --transform "s,^,agentd-$version/," -T "$list"
cp "$sysusers" "$topdir/SOURCES/agentd.sysusers"

set -- --define "_topdir $topdir" \
    --define "agentd_version $version" --define "agentd_release $release"
if [ ! -f /usr/lib/rpm/macros.d/macros.systemd ]; then
	set -- "$@" --load "$top/packaging/rpm/macros.systemd-fallback"
fi
# Debian's brp-compress says #!/bin/sh but needs bash (read -d): under dash
# it leaves the man pages uncompressed.
set -- "$@" --define "__brp_compress /bin/bash %{_rpmconfigdir}/brp-compress %{?_prefix}"
# The make inside rpmbuild must not inherit ours: BUILD=... given to
# `make rpm` would reach it through MAKEFLAGS and move its build/.
env -u BUILD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    rpmbuild -bb --nodeps "$@" packaging/rpm/agentd.spec

rm -f "$out"/*.rpm
find "$topdir/RPMS" -name '*.rpm' -exec cp {} "$out"/ \;
echo "build-rpm: packages in $out:"
ls -l "$out"/*.rpm

echo "build-rpm: rpmlint"
rpmlint -c packaging/rpm/rpmlint.toml -r packaging/rpm/agentd.rpmlintrc \
    packaging/rpm/agentd.spec "$out"/*.rpm
