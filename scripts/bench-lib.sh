# Shared by the scripts that time whole commands (bench-cli, bench-rage); sourced, not run.
# Needs $rounds (runs per measurement) and $out (the file each run creates) set by the caller.

# Best wall time of "$@" over $rounds runs, in seconds; the file named by $out is removed before
# each run, so every run creates it afresh. A failing run (or one that leaves no $out) makes
# best_of fail, which stops a `set -e` caller at `x=$(best_of ...)`: errexit does not reach into
# the command substitution, so the check is made here, not left to it.
best_of() {
    local best="" i t0 t1 t
    for i in $(seq 1 "$rounds"); do
        rm -f "$out"
        t0=$(date +%s%N)
        "$@" 2>/dev/null || { printf 'best_of: failed: %s\n' "$*" >&2; return 1; }
        t1=$(date +%s%N)
        [ -e "$out" ] || { printf 'best_of: %s made no %s\n' "$*" "$out" >&2; return 1; }
        t=$((t1 - t0))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    awk -v ns="$best" 'BEGIN { printf "%.4f\n", ns / 1e9 }'
}

# A directory for the files, in /dev/shm when it exists (so the disk does not dominate), removed
# when the script exits; $1 names it.
bench_workdir() {
    local base=/dev/shm
    [ -d "$base" ] && [ -w "$base" ] || base="${TMPDIR:-/tmp}"
    mktemp -d "$base/$1.XXXXXX"
}
