#!/usr/bin/env bash
# THE test command: build, start the real servers, run every test project, check that the
# NativeAOT, JIT and scalar-only (no hardware intrinsics) builds of native-check print the same
# bytes, and end with one summary line:
#   tests: N passed, N failed, N skipped
# Exits non-zero when anything failed or a server did not start.
# Integration tests skip when a server is missing only if CI is not "true"; scripts/services.sh
# start runs first, so on this path servers are always present or the script stops.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/artifacts/test"
started=$SECONDS
rm -rf "$OUT"
mkdir -p "$OUT"

step() { echo "== $* ($((SECONDS - started)) s)"; }
fail_early() { echo "test.sh: $*" >&2; echo "tests: 0 passed, 1 failed, 0 skipped"; exit 1; }

# NativeAOT links with clang (or gcc) and needs zlib headers; install what is missing.
if ! command -v clang >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1 || ! dpkg -s zlib1g-dev >/dev/null 2>&1; then
    step "installing the NativeAOT toolchain (clang, zlib1g-dev)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq clang zlib1g-dev >/dev/null \
        || fail_early "cannot install clang and zlib1g-dev"
fi

# The dashboard test drives Debian's headless Chromium; the build runs npm for the dashboard's charting library.
if ! command -v chromium >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    step "installing Chromium and npm for the dashboard"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium $(command -v npm >/dev/null 2>&1 || echo npm) >/dev/null \
        || fail_early "cannot install chromium (and npm)"
fi

step "build (Release)"
dotnet build -c Release HtmEngine.Fast.sln -nologo -v quiet || fail_early "build failed"

step "services"
scripts/services.sh start || fail_early "MariaDB or RabbitMQ did not start (see above)"

step "dotnet test"
# One run per test project, each with its own TRX file name: result files named by timestamp
# could overwrite each other when two projects finish in the same second.
test_rc=0
for project in tests/*/*.csproj; do
    name=$(basename "$project" .csproj)
    dotnet test "$project" -c Release --no-build --nologo \
        --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$OUT/trx" \
        || test_rc=$?
done

passed=0 failed=0 skipped=0
for trx in "$OUT"/trx/*.trx; do
    [[ -f $trx ]] || continue
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    get() { local v; v=$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"); echo "${v:-0}"; }
    passed=$((passed + $(get passed)))
    failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
    skipped=$((skipped + $(get notExecuted)))
done
if ((test_rc != 0 && failed == 0)); then
    echo "test.sh: dotnet test failed (exit $test_rc) without a failing test result; counting it as a failure" >&2
    failed=$((failed + 1))
fi

# native-check counts as one test: the three outputs must be byte-identical.
step "native-check: NativeAOT publish, JIT and scalar-only runs"
nc_ok=1
dotnet publish -c Release native-check/HtmEngine.NativeCheck -o "$OUT/native-check-aot" -nologo -v quiet || nc_ok=0
if ((nc_ok)); then
    "$OUT/native-check-aot/HtmEngine.NativeCheck" >"$OUT/native-aot.txt" || nc_ok=0
    dotnet native-check/HtmEngine.NativeCheck/bin/Release/net10.0/HtmEngine.NativeCheck.dll >"$OUT/native-jit.txt" || nc_ok=0
    DOTNET_EnableHWIntrinsic=0 dotnet native-check/HtmEngine.NativeCheck/bin/Release/net10.0/HtmEngine.NativeCheck.dll >"$OUT/native-scalar.txt" || nc_ok=0
fi
if ((nc_ok)) && cmp "$OUT/native-aot.txt" "$OUT/native-jit.txt" && cmp "$OUT/native-aot.txt" "$OUT/native-scalar.txt"; then
    echo "native-check: AOT, JIT and scalar outputs identical ($(wc -c <"$OUT/native-aot.txt") bytes)"
    passed=$((passed + 1))
else
    echo "native-check: FAILED (publish/run error or outputs differ; see $OUT/native-*.txt)" >&2
    failed=$((failed + 1))
fi

step "done"
echo "tests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
