#!/usr/bin/env bash
# Run one command inside a freshly booted test VM and return its exit status.
# Installs what is missing, builds what the boot needs (scripts/build.sh:
# the cached test kernel, asm.ko, the tools, the selftests), then boots the
# kernel with virtme-ng on the host's root filesystem: the repository is at
# the same path in the guest, the tools are on PATH, asm.ko is not loaded.
# ASM_KERNEL=bench or stress boots the benchmark or the stress kernel
# (scripts/env.sh) instead of the debug one.
# The guest's PID 1 is tools/asm-vm-init (scripts/vm-guest): it makes the
# device links virtme-ng's init would wait for udev to make, and hides udevd
# and systemd-tmpfiles from it; ASM_VM_UDEV=1 boots virtme-ng's init as it
# comes, udev included, and the root without its cache.
# ASM_VM_BUILT=1: the caller built everything (several VMs at once must not
# build in the same tree).  ASM_VM_RWDIR=DIR: DIR is writable in the guest
# (the root is not).  ASM_VM_QEMU_OPTS='...': more QEMU options, such as
# '-s' (a gdbstub on port 1234: Documentation/testing.rst, "A guest that
# seems stuck").
set -euo pipefail
. "$(dirname "$0")/env.sh"
cmd=${1:?usage: vm.sh COMMAND}

if [ "${ASM_VM_BUILT:-0}" = 1 ]; then
	kdir=$(cat "$ASM_TOP/.asm-kdir")
else
	"$ASM_TOP/scripts/setup.sh"
	kdir=$("$ASM_TOP/scripts/build.sh" "${ASM_KERNEL:-debug}")
fi
rw_flags=()
[ -n "${ASM_VM_RWDIR:-}" ] && rw_flags=(--rwdir="$ASM_VM_RWDIR")

# Nested KVM is known to fail on these machines (qemu asserts or hangs in the
# decompressor): try it once per machine and kernel, remember the verdict.
accel_file="$kdir/.asm-accel"
if [ ! -f "$accel_file" ]; then
	verdict=tcg
	if [ -w /dev/kvm ]; then
		rc=0
		timeout 90 vng --run "$kdir" --memory 1G --exec 'exit 7' </dev/null \
			>/dev/null 2>&1 || rc=$?
		[ "$rc" = 7 ] && verdict=kvm
	fi
	echo "$verdict" > "$accel_file"
fi
accel=$(cat "$accel_file")
accel_flags=()
qemu_opts=${ASM_VM_QEMU_OPTS:-}
if [ "$accel" = kvm ]; then
	echo "[vm] booting $kdir with KVM" >&2
	[ -n "$qemu_opts" ] && accel_flags=(--qemu-opts="$qemu_opts")
else
	echo "[vm] booting $kdir with TCG (KVM not usable here)" >&2
	# One host thread runs both vCPUs in turn: multi-threaded TCG lets a
	# vCPU run code that another is patching (static keys and calls, as
	# tracepoint registration flips them) and the guest dies of
	# "Oops: int3" in the patched function.
	accel_flags=(--disable-kvm --qemu-opts="-accel tcg,thread=single${qemu_opts:+ $qemu_opts}")
fi

# The guest kernel's console (vng --verbose) goes to vng's stderr and into a
# file, the command's stderr joins its stdout in the guest.  When the guest
# ends without the command's status (a panic, or the OOM killer taking the
# command: vng exits 255) or the command fails, the console's end is shown:
# the guest had no chance to print it.
klog=$(mktemp "${TMPDIR:-/tmp}/asm-vm-console.XXXXXX")
trap 'rm -f "$klog"' EXIT

# qemu reopens a regular-file stdout and truncates what came before: give
# it a pipe.
rc=0
# Devices nothing here uses, whose coldplug by udev (ASM_VM_UDEV=1) costs
# seconds under TCG: the 8 loop devices made at boot (losetup still makes
# them on demand) and QEMU's AHCI controller with its 6 ports (the root is
# 9p).
boot_lean="max_loop=0 initcall_blacklist=ahci_pci_driver_init"
# The root (the host's, read-only in the guest) with 9p's loose cache: the
# guest keeps what it read instead of asking the host again, which under
# TCG made every exec cost three times as much (asmctl --help: 620 ms
# uncached, 200 ms cached; Documentation/testing.rst).  The host does not
# change the files a VM reads while it runs: they are built before it
# boots, and the VMs share only ASM_VM_RWDIR, a mount of its own.  The
# options are virtme-ng 1.42's rootflags (the last rootflags= counts) plus
# the cache.
root_cache="rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose"
vng=("$ASM_TOP/scripts/vm-guest/vng")
if [ "${ASM_VM_UDEV:-0}" = 1 ]; then
	vng=(vng)
	root_cache=
fi
# --force-9p: the root's flags above are 9p's; and vng would otherwise
# spend 3 s trying QEMU's C virtiofsd, which it cannot use, on every boot.
"${vng[@]}" --run "$kdir" --force-9p "${accel_flags[@]}" "${rw_flags[@]}" --memory 2G --cpus 2 --verbose \
	--append "lsm=landlock,lockdown,yama,integrity $boot_lean $root_cache" \
	--exec "exec 2>&1; export PATH='$ASM_TOP/tools/bin':\$PATH; cd '$ASM_TOP' && $cmd" \
	</dev/null 2>"$klog" | cat || rc=${PIPESTATUS[0]}
if [ "$rc" = 255 ]; then
	echo "[vm] the guest ended without the command's status (a panic, or" \
		"the command was killed); the guest kernel's console ended with:" >&2
	tail -n 150 "$klog" | sed 's/^/[vm console] /' >&2
fi
exit "$rc"
