#!/usr/bin/env bash
# build.sh builds bin/otelcol-iamsentry, the OpenTelemetry Collector that
# clients/otelcol/builder.yaml describes, with the Collector builder (ocb)
# run through the Go toolchain at the release the manifest names, so nothing
# is downloaded but Go modules. The build takes minutes from an empty module
# cache; it is skipped when bin/otelcol-iamsentry was built from the same
# manifest, builder and Go version (their hash is in bin/otelcol-iamsentry.sha256).
#
# Usage: clients/otelcol/build.sh   (from anywhere; `make otelcol` runs it)
set -euo pipefail

# Keep in step with the module versions in builder.yaml: one release.
OCB_VERSION=v0.165.0
OCB=go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION

cd "$(dirname "$0")/../.."
manifest=clients/otelcol/builder.yaml
bin=bin/otelcol-iamsentry
stamp=$bin.sha256

want=$( { cat "$manifest"; echo "$OCB"; go version; } | sha256sum | cut -d' ' -f1)
if [[ -x $bin && -f $stamp && $(cat "$stamp") == "$want" ]]; then
	echo "build.sh: $bin is up to date (manifest hash ${want:0:12})"
	exit 0
fi

mkdir -p bin
rm -f "$stamp"
# ocb writes the sources, go.mod and the binary to output_path
# (bin/otelcol-iamsentry-build); the binary is taken from there.
go run "$OCB" --config "$manifest"
cp bin/otelcol-iamsentry-build/otelcol-iamsentry "$bin"
echo "$want" >"$stamp"
"$bin" --version
