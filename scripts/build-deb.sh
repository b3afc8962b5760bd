#!/usr/bin/env bash
# Builds the asto Debian package with dpkg-deb: the binaries, systemd units and tmpfiles, udev
# rules, the default configuration, man pages and shell completions generated from the CLI,
# and the docs. Layout:
#   /usr/bin/asto, /usr/bin/asto-hwsim
#   /usr/lib/systemd/system/asto-*.{service,timer}   /usr/lib/tmpfiles.d/asto.conf
#   /usr/lib/udev/rules.d/60-asto.rules              /etc/asto/asto.toml (conffile)
#   /usr/share/man/man1/asto*.1.gz                   /usr/share/doc/asto/*.md
#   /usr/share/bash-completion/completions/asto, /usr/share/zsh/vendor-completions/_asto,
#   /usr/share/fish/vendor_completions.d/asto.fish
#
# usage: scripts/build-deb.sh [--bin-dir DIR] [--out DIR]
#   --bin-dir  where asto and asto-hwsim are already built (default: cargo build --release)
#   --out      where the .deb goes (default: target/debian)
# Prints the path of the package.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=""
out="target/debian"
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "usage: $0 [--bin-dir DIR] [--out DIR]" >&2; exit 2 ;;
    esac
done

if [ -z "$bin_dir" ]; then
    cargo build --release --quiet -p asto-controller --bin asto -p asto-hw-sim --bin asto-hwsim >&2
    bin_dir="target/release"
fi
for b in asto asto-hwsim; do
    [ -x "$bin_dir/$b" ] || { echo "build-deb: $bin_dir/$b is missing" >&2; exit 1; }
done

version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || { echo "build-deb: no version in Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)

mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/asto-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/asto_${version}_${arch}"

install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/usr/lib/tmpfiles.d" \
    "$root/usr/lib/udev/rules.d" "$root/etc/asto" "$root/usr/share/man/man1" "$root/usr/share/doc/asto" \
    "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d"

install -m 0755 "$bin_dir/asto" "$bin_dir/asto-hwsim" "$root/usr/bin/"
strip --strip-unneeded "$root/usr/bin/asto" "$root/usr/bin/asto-hwsim" 2>/dev/null || true
install -m 0644 systemd/*.service systemd/*.timer "$root/usr/lib/systemd/system/"
install -m 0644 systemd/asto.conf "$root/usr/lib/tmpfiles.d/asto.conf"
install -m 0644 udev/60-asto.rules "$root/usr/lib/udev/rules.d/"
install -m 0644 packaging/asto.toml "$root/etc/asto/asto.toml"
install -m 0644 README.md doc/*.md "$root/usr/share/doc/asto/"

# Generated from the CLI definition by the binary being packaged.
"$bin_dir/asto" man "$stage/man" >/dev/null
install -m 0644 "$stage"/man/*.1 "$root/usr/share/man/man1/"
gzip -9n "$root"/usr/share/man/man1/*.1
"$bin_dir/asto" completions bash > "$root/usr/share/bash-completion/completions/asto"
"$bin_dir/asto" completions zsh > "$root/usr/share/zsh/vendor-completions/_asto"
"$bin_dir/asto" completions fish > "$root/usr/share/fish/vendor_completions.d/asto.fish"

install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/postrm "$root/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control.in > "$root/DEBIAN/control"

deb="$out/asto_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
