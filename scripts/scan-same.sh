#!/usr/bin/env bash
# scan-same.sh REF INPUT... checks that `iamsentry scan --stories` of this
# working tree writes byte for byte what REF's writes (findings, stories,
# and the summary less its state line) over the inputs, as given and
# gzip-compressed file by file: a change to the reader, the parser or the
# scan command must not change a scan's output.
#
#   scripts/scan-same.sh main /work/shared/data
#   scripts/scan-same.sh main --config corpus/config.yaml corpus/
#
# Arguments after REF are passed to scan as they are; directories among
# them are also compressed into a temporary copy and scanned again.
set -euo pipefail
ref=${1:?usage: scan-same.sh REF [scan flags] INPUT...}
shift
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
git -C "$root" archive "$ref" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go build -o "$tmp/iamsentry.base" ./cmd/iamsentry)
(cd "$root" && go build -o "$tmp/iamsentry.new" ./cmd/iamsentry)

compare() { # label, scan arguments...
	local label=$1 v
	shift
	for v in base new; do
		"$tmp/iamsentry.$v" scan --stories "$@" >"$tmp/$v.out" 2>"$tmp/$v.err" || true
		grep -v '^iamsentry scan: state:' "$tmp/$v.err" >"$tmp/$v.sum" || true
	done
	cmp "$tmp/base.out" "$tmp/new.out" || { echo "scan-same: $label: output differs from $ref" >&2; exit 1; }
	cmp "$tmp/base.sum" "$tmp/new.sum" || { echo "scan-same: $label: summary differs from $ref" >&2; diff "$tmp/base.sum" "$tmp/new.sum" >&2; exit 1; }
	echo "scan-same: $label: identical ($(wc -l <"$tmp/new.out") lines; $(grep '^scanned\|^learned' "$tmp/new.sum"))"
}

compare "as given" "$@"
gzargs=()
for a in "$@"; do
	if [[ -d $a ]]; then
		gzdir="$tmp/gz$((${#gzargs[@]}))"
		(cd "$a" && find . -type f) | while read -r f; do
			mkdir -p "$(dirname "$gzdir/$f")"
			case $f in *.gz) cp "$a/$f" "$gzdir/$f" ;; *) gzip -c "$a/$f" >"$gzdir/$f.gz" ;; esac
		done
		a=$gzdir
	fi
	gzargs+=("$a")
done
compare "gzip-compressed" "${gzargs[@]}"
