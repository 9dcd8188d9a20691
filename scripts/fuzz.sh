#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (`make fuzz`), each FUZZ_SECONDS (default 300).
#
#   scripts/fuzz.sh [TARGET...]      every target of `cargo fuzz list` when none is named
#
# cargo-fuzz is installed at a pinned version into .tools/ (never assumed present).
# Stable Rust: no sanitizer (`--sanitizer none`: AddressSanitizer needs nightly flags,
# and the engine forbids unsafe code), dev profile (the instrumented build of the engine
# and its AWS SDK dependencies costs about 16 CPU-minutes; see BENCHMARKS.md / README).
# The corpus grows under the shared target dir; the committed seeds (fuzz/seeds/<target>)
# are read, never written. A crash leaves its input in fuzz/artifacts/<target>/: copy it to
# engine/core/tests/fuzz_regressions/<target>/ with the fix, and `cargo test` keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TOOLS="$PWD/.tools"
SECONDS_EACH="${FUZZ_SECONDS:-300}"
# the shared target dir when cargo is told one (CI caches it), else the workspace's
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/fuzz"

if ! "$TOOLS/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
fi
# the same dependency versions as the workspace (cargo adds libfuzzer-sys and drops the rest)
cp Cargo.lock fuzz/Cargo.lock

cd fuzz
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("$TOOLS/bin/cargo-fuzz" list)
fi
options=(--sanitizer none --dev --target-dir "$TARGET_DIR")
"$TOOLS/bin/cargo-fuzz" build "${options[@]}"

failed=()
for target in "${targets[@]}"; do
    corpus="$TARGET_DIR/corpus/$target"
    mkdir -p "$corpus"
    echo "fuzz: $target for ${SECONDS_EACH}s (corpus $corpus, seeds fuzz/seeds/$target)"
    if ! "$TOOLS/bin/cargo-fuzz" run "${options[@]}" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]}: inputs in fuzz/artifacts/<target>/; add them to engine/core/tests/fuzz_regressions/<target>/ with the fix" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
