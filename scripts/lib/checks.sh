# The checks every bench script makes before it does anything: its
# settings are positive integers, the tools it calls are there. Sourced by
# path from the script's own directory (before it changes to the
# repository root); each exits 2 with the script's name and what is wrong.

# require_positive_integers NAME...: the variables NAME... hold positive
# integers.
require_positive_integers() {
    local name listed=""
    for name in "$@"; do
        [[ ${!name} =~ ^[1-9][0-9]*$ ]] && continue
        # "A, B and C must be ...": every name asked for, not only the bad.
        for name in "$@"; do
            if [[ -z $listed ]]; then
                listed=$name
            elif [[ $name == "${!#}" ]]; then
                listed+=" and $name"
            else
                listed+=", $name"
            fi
        done
        echo "$(basename "$0"): $listed must be positive integers" >&2
        exit 2
    done
}

# require_tools TOOL...: each TOOL is on the PATH.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$(basename "$0"): $tool is required" >&2; exit 2; }
    done
}
