#!/usr/bin/env bash
# Install everything the build, the VM and the tests need, skipping what is
# already there.  Safe to run repeatedly; run as root (CI does).
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PKGS=(
	rustc-web rust-web-src rust-web-clippy linux-source-6.12
	clang-19 llvm-19 lld-19 libclang-19-dev
	qemu-system-x86 bc flex bison libelf-dev libssl-dev dwarves cpio kmod udev
	make gcc python3-pip busybox-static iproute2 xz-utils
	python3-yaml python3-jsonschema
	auditd bpftrace
	zsh fish man-db prometheus
	dkms
)

missing=()
for p in "${APT_PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	$SUDO apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
else
	log "Debian packages present"
fi

# bindgen-cli: the kernel's Rust build needs exactly this minor series.
export PATH="$HOME/.cargo/bin:$PATH"
if ! bindgen --version 2>/dev/null | grep -q '0\.69\.5'; then
	log "installing bindgen-cli 0.69.5"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --locked --quiet bindgen-cli --version 0.69.5
else
	log "bindgen-cli present"
fi

# make check checks the module's formatting.
if ! rustfmt --version >/dev/null 2>&1; then
	log "installing rustfmt"
	rustup component add rustfmt >/dev/null
else
	log "rustfmt present"
fi

if ! command -v vng >/dev/null 2>&1; then
	log "installing virtme-ng"
	pip install --quiet --disable-pip-version-check virtme-ng==1.42 2>/dev/null ||
		pip install --quiet --disable-pip-version-check --break-system-packages virtme-ng==1.42
else
	log "virtme-ng present"
fi
log "done"
