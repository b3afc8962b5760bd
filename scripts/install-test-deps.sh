#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real external tools:
#   xorriso (burning, reading ISO images), libarchive-tools (bsdtar), genisoimage (isoinfo,
#   the mkisofs-style template tool chain), mtx (changer backend), PostgreSQL 15 (OB module),
#   python3-astropy (writes the real FITS files of the archive-services tests), systemd and udev
#   (systemd-analyze verify, systemd-tmpfiles, udevadm test of the shipped units and rules),
#   chromium and chromium-driver (the web status page test, headless over WebDriver).
# Installs only what is missing; needs root (or sudo) for that.
set -euo pipefail

packages=(curl openssl pkg-config libudev-dev xorriso libarchive-tools genisoimage mtx sg3-utils tar postgresql-15 postgresql-client-15 python3-astropy systemd udev chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
