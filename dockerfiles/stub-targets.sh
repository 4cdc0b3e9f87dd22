#!/bin/sh
# Used by load-tester.Dockerfile: creates a placeholder file for every target that Cargo.toml
# declares ([lib], [[bin]], [[test]], [[bench]], [[example]]) whose source is not there, so that
# cargo can read the manifest. The image's build context holds only Cargo.toml, Cargo.lock, src/
# and scenarios/; tests/, benches/ and examples/ are not needed to build the binary, and the
# dependency layer is built before src/ is copied. Existing files are left alone.
set -eu
manifest="${1:-Cargo.toml}"
awk '
function flush() {
    if (kind != "" && (name != "" || kind == "lib")) {
        if (path == "") path = (kind == "lib") ? "src/lib.rs" : dir[kind] "/" name ".rs"
        print kind " " path
    }
    kind = ""; name = ""; path = ""
}
function value(line) {
    sub(/^[^=]*=[ \t]*["\047]/, "", line); sub(/["\047].*$/, "", line); return line
}
BEGIN { dir["bin"] = "src/bin"; dir["test"] = "tests"; dir["bench"] = "benches"; dir["example"] = "examples" }
/^[ \t]*\[/ { flush() }
/^[ \t]*\[\[(bin|test|bench|example)\]\][ \t]*(#.*)?$/ { kind = $0; sub(/#.*/, "", kind); gsub(/[][ \t]/, "", kind); next }
/^[ \t]*\[lib\][ \t]*(#.*)?$/ { kind = "lib"; next }
kind != "" && /^[ \t]*name[ \t]*=/ { name = value($0) }
kind != "" && /^[ \t]*path[ \t]*=/ { path = value($0) }
END { flush() }
' "$manifest" | while IFS=' ' read -r kind p; do
    if [ ! -e "$p" ]; then
        mkdir -p "$(dirname "$p")"
        if [ "$kind" = lib ]; then : >"$p"; else echo 'fn main() {}' >"$p"; fi
    fi
done
