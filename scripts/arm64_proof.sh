#!/usr/bin/env bash
# ARM64 (aarch64) proof: edgecam's model stack runs on aarch64 and gives the x86 reference outputs.
#
# Runs the real aarch64 builds of everything (Debian bookworm's Python 3.11 — the Python of Raspberry
# Pi OS bookworm — and the manylinux aarch64 wheels pip picks for it) under qemu user-mode emulation:
#   1. builds an aarch64 sysroot from Debian bookworm arm64 .debs (apt-get download + dpkg -x; no
#      debootstrap, no binfmt_misc, no chroot), cached in .cache/arm64/ (git-ignored);
#   2. installs the runtime dependencies (pyproject [project].dependencies + the tflite extra) as aarch64
#      wheels into .cache/arm64/site-packages, pinned to this machine's .venv versions of numpy, opencv,
#      onnxruntime, ai-edge-litert and pillow so that only the architecture differs from the x86 run;
#   3. under qemu-aarch64-static: (a) platform.machine() must be aarch64, (b) scripts/export_models.py
#      --check, (c1) every shipped model on both runtimes vs tests/vision/reference_outputs.npz (the same
#      functions and tolerances as tests/vision/test_reference_outputs.py), with the inputs prepared on
#      aarch64 as a kiosk would, and (c2, in parallel) the same models fed the inputs x86 prepared, which
#      separates a runtime difference from a preprocessing one, (d) `python -m edgecam demo`
#      on DEMO_SHOTS bundled photos (ONNX Runtime, the default config), (e) the same with the face and
#      segmentation models on LiteRT (TFLITE_SHOTS photos); (d) and (e) must write decodable styled JPEGs
#      and, when this machine's .venv can run the demo, make the same scene/style/face decisions as x86;
#   4. prints a PASS/FAIL summary; exits 1 if any check failed.
#
# Usage: bash scripts/arm64_proof.sh            (as root the first time: apt-get installs qemu-user-static)
# Env:   DEMO_SHOTS=3 TFLITE_SHOTS=2 QEMU_CPU=cortex-a76 ARM64_CACHE=.cache/arm64 PYTHON=.venv/bin/python
# Needs: network to deb.debian.org and PyPI the first time (~14 MB of .debs, ~90 MB of wheels).
#
# The apt work uses its own config/state folders under .cache/arm64/apt (APT::Architecture=arm64): the
# host's dpkg architectures and apt lists are not changed. Timings printed here are for emulation
# (tens of times slower than a real Cortex-A76) and say nothing about Pi 5 or Jetson speed.
#
# Emulation detail: qemu-user passes the host's x86 /proc/cpuinfo through, which onnxruntime's cpuinfo
# cannot parse as ARM (it segfaults on import). The sysroot gets a proc/cpuinfo describing a Pi 5
# (Cortex-A76, MIDR 0x414fd0b1) that qemu serves instead, and QEMU_CPU=cortex-a76 makes the CPU
# features (HWCAP: no SVE/SME) those of a Pi 5 too; the Jetson Orin's Cortex-A78AE has the same ISA.
# shellcheck disable=SC2317  # emu/demo/photos are called through check()
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CACHE=${ARM64_CACHE:-$REPO/.cache/arm64}
case $CACHE in /*) ;; *) CACHE=$REPO/$CACHE ;; esac
SYSROOT=$CACHE/sysroot
SITE=$CACHE/site-packages
APTDIR=$CACHE/apt
DEMO_SHOTS=${DEMO_SHOTS:-3}
TFLITE_SHOTS=${TFLITE_SHOTS:-2}
export QEMU_CPU=${QEMU_CPU:-cortex-a76}
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
SUITE=bookworm
# Python 3.11 and what its stdlib modules load; libgomp1/libstdc++6 for the wheels' native code.
ROOTS=(python3.11 libgomp1 libstdc++6 libgcc-s1)
# in the dependency closure only for maintainer scripts (perl, dpkg) or mailcap: not needed to run
EXCLUDE='^(perl|perl-base|perl-modules-[0-9.]+|libperl[0-9.]+|dpkg|install-info|tar|mailcap|mime-support)$'
# glibc 2.36 (bookworm, Raspberry Pi OS bookworm): pip on the device accepts manylinux_2_17..2_36;
# pip --platform does not expand a manylinux tag downwards, so every one is listed
PLATFORMS=(manylinux2014_aarch64)
for v in $(seq 17 36); do PLATFORMS+=("manylinux_2_${v}_aarch64"); done

log() { printf '\n== %s\n' "$*"; }
mkdir -p "$CACHE"

# 0. qemu -----------------------------------------------------------------------------------------
if ! command -v qemu-aarch64-static >/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
        log "installing qemu-user-static (apt)"
        apt-get install -y -q qemu-user-static >/dev/null
    else
        echo "arm64_proof: qemu-aarch64-static not found: sudo apt-get install qemu-user-static" >&2
        exit 2
    fi
fi
qemu_version=$(qemu-aarch64-static --version | head -1)

# 1. the aarch64 sysroot --------------------------------------------------------------------------
apt_opts=(-o "Dir::Etc=$APTDIR/etc" -o "Dir::State=$APTDIR/state" -o "Dir::State::status=$APTDIR/state/status"
          -o "Dir::Cache=$APTDIR/cache" -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
          -o "Acquire::Languages=none" -o "APT::Sandbox::User=root")
sysroot_key="$SUITE ${ROOTS[*]} $EXCLUDE cpuinfo-a76-v1"
if [[ -f $SYSROOT/.complete && $(cat "$SYSROOT/.complete") == "$sysroot_key" ]]; then
    log "aarch64 sysroot: cached ($SYSROOT)"
else
    log "aarch64 sysroot: downloading Debian $SUITE arm64 packages"
    mkdir -p "$APTDIR"/etc/{apt.conf.d,preferences.d,sources.list.d,trusted.gpg.d} \
             "$APTDIR"/state/lists/partial "$APTDIR"/cache/archives/partial "$CACHE/debs"
    : >"$APTDIR/state/status"
    key=/usr/share/keyrings/debian-archive-keyring.gpg
    {
        echo "deb [arch=arm64 signed-by=$key] http://deb.debian.org/debian $SUITE main"
        echo "deb [arch=arm64 signed-by=$key] http://deb.debian.org/debian $SUITE-updates main"
        echo "deb [arch=arm64 signed-by=$key] http://deb.debian.org/debian-security $SUITE-security main"
    } >"$APTDIR/etc/sources.list"
    apt-get "${apt_opts[@]}" -q update >/dev/null
    mapfile -t pkgs < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances "${ROOTS[@]}" \
        | grep -v -e '^ ' -e '^<' | sort -u | grep -v -E "$EXCLUDE")
    echo "${#pkgs[@]} packages: ${pkgs[*]}"
    rm -f "$CACHE"/debs/*.deb
    (cd "$CACHE/debs" && apt-get "${apt_opts[@]}" -q download "${pkgs[@]}" >/dev/null)
    rm -rf "$SYSROOT.tmp"
    mkdir -p "$SYSROOT.tmp"
    for deb in "$CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$SYSROOT.tmp"; done
    mkdir -p "$SYSROOT.tmp/proc"
    for cpu in $(seq 0 $(($(nproc) - 1))); do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\n' "$cpu"
        printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n'
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n'
    done >"$SYSROOT.tmp/proc/cpuinfo"
    rm -rf "$SYSROOT"
    mv "$SYSROOT.tmp" "$SYSROOT"
    echo "$sysroot_key" >"$SYSROOT/.complete"
    echo "debs: $(du -sh "$CACHE/debs" | cut -f1), sysroot: $(du -sh "$SYSROOT" | cut -f1)"
fi

# 2. aarch64 wheels -------------------------------------------------------------------------------
mapfile -t reqs < <("$PYTHON" scripts/arm64_proof.py requirements)
site_key="${reqs[*]} ${PLATFORMS[*]}"
if [[ -f $SITE/.complete && $(cat "$SITE/.complete") == "$site_key" ]]; then
    log "aarch64 wheels: cached ($SITE)"
else
    log "aarch64 wheels: ${reqs[*]}"
    plat_args=()
    for p in "${PLATFORMS[@]}"; do plat_args+=(--platform "$p"); done
    mkdir -p "$CACHE/wheels"
    if ! "$PYTHON" -m pip download -q --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
        "${plat_args[@]}" -d "$CACHE/wheels" "${reqs[@]}" >"$CACHE/pip-download.log" 2>&1; then
        grep -v '^WARNING: Location' "$CACHE/pip-download.log" >&2
        exit 1
    fi
    rm -rf "$SITE.tmp"
    "$PYTHON" -m pip install -q --no-index --find-links "$CACHE/wheels" --only-binary=:all: --python-version 3.11 \
        --implementation cp --abi cp311 "${plat_args[@]}" --target "$SITE.tmp" "${reqs[@]}"
    rm -rf "$SITE"
    mv "$SITE.tmp" "$SITE"
    echo "$site_key" >"$SITE/.complete"
fi
echo "wheels: $(du -sh "$CACHE/wheels" | cut -f1) downloaded, $(du -sh "$SITE" | cut -f1) installed"
for d in "$SITE"/*.dist-info; do d=${d##*/}; printf '%s ' "${d%.dist-info}"; done
echo

# 3. the checks, under emulation --------------------------------------------------------------------
emu() {  # the aarch64 Python, with the aarch64 wheels and the checkout (never the host's PYTHONPATH)
    PYTHONPATH=$SITE:$REPO PYTHONPYCACHEPREFIX=$CACHE/pycache \
        qemu-aarch64-static -L "$SYSROOT" "$SYSROOT/usr/bin/python3.11" "$@"
}
names=() results=() times=()
check() {  # check NAME COMMAND...: run, time and record one check
    local name=$1 start rc=0
    shift
    log "$name"
    start=$(date +%s)
    "$@" || rc=$?
    names+=("$name")
    times+=("$(($(date +%s) - start))")
    if [[ $rc -eq 0 ]]; then results+=(PASS); else results+=("FAIL (exit $rc)"); fi
}
x86_demo() {  # x86_demo OUT N [--set ...]: the same demo on this machine, to compare decisions with
    local out=$1 n=$2
    shift 2
    rm -rf "$out"
    if "$PYTHON" -c 'import edgecam, onnxruntime, ai_edge_litert' 2>/dev/null; then
        "$PYTHON" -m edgecam "$@" demo --out "$out" --limit "$n" >/dev/null 2>&1 || rm -rf "$out"
    fi
}
photos() {  # photos AARCH64_OUT N X86_OUT
    if [[ -d $3 ]]; then emu scripts/arm64_proof.py photos "$1" "$2" --expect "$3"
    else echo "(no x86 run to compare with: $PYTHON cannot run the demo)"; emu scripts/arm64_proof.py photos "$1" "$2"; fi
}
demo() {  # demo OUT N [--set ...]
    local out=$1 n=$2
    shift 2
    rm -rf "$out" "$out-x86"
    emu -m edgecam "$@" demo --out "$out" --limit "$n" && x86_demo "$out-x86" "$n" "$@" && photos "$out" "$n" "$out-x86"
}
echo "qemu: $qemu_version, QEMU_CPU=$QEMU_CPU; sysroot python: Debian $SUITE python3.11 (aarch64)"
check "a. platform.machine() is aarch64" emu scripts/arm64_proof.py machine
check "b. model checksums (export_models.py --check)" emu scripts/export_models.py --check
# c1: edgecam's preprocessing + the models on aarch64 (what a kiosk computes); c2, in parallel: the models
# alone, fed the exact inputs x86 prepared, to tell a runtime difference from a preprocessing one
x86_inputs=$CACHE/x86-inputs.npz c2_pid=""
rm -f "$x86_inputs"
if "$PYTHON" scripts/arm64_proof.py inputs "$x86_inputs"; then
    c2_start=$(date +%s)
    emu scripts/arm64_proof.py references --x86-inputs "$x86_inputs" --feed >"$CACHE/c2.log" 2>&1 &
    c2_pid=$!
    c1_args=(--x86-inputs "$x86_inputs")
else
    echo "($PYTHON cannot prepare the x86 inputs: c2 and the preprocessing comparison are skipped)"
    c1_args=()
fi
check "c1. every model, onnx + tflite, aarch64 preprocessing, vs x86 references" \
    emu scripts/arm64_proof.py references "${c1_args[@]}"
if [[ -n $c2_pid ]]; then
    log "c2. every model, onnx + tflite, fed the x86 inputs, vs x86 references"
    rc=0
    wait "$c2_pid" || rc=$?
    cat "$CACHE/c2.log"
    names+=("c2. every model, onnx + tflite, fed the x86 inputs, vs x86 references")
    times+=("$(($(date +%s) - c2_start))")
    if [[ $rc -eq 0 ]]; then results+=(PASS); else results+=("FAIL (exit $rc)"); fi
fi
check "d. edgecam demo, $DEMO_SHOTS photos (ONNX Runtime)" demo "$CACHE/demo-onnx" "$DEMO_SHOTS"
check "e. edgecam demo, $TFLITE_SHOTS photos (faces + segmentation on LiteRT)" demo "$CACHE/demo-tflite" \
    "$TFLITE_SHOTS" --set models.face_detection.runtime=tflite --set models.segmentation.runtime=tflite

# 4. summary ----------------------------------------------------------------------------------------
log "ARM64 proof summary (times are under qemu emulation: they say nothing about ARM speed)"
failed=0
for i in "${!names[@]}"; do
    printf '  %-72s %-14s %5ss\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
    [[ ${results[$i]} == PASS ]] || failed=1
done
if [[ $failed -eq 0 ]]; then echo "ARM64 PROOF: PASS"; else echo "ARM64 PROOF: FAIL"; fi
exit "$failed"
