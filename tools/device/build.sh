#!/usr/bin/env bash
# Builds what tools/device/run.sh needs on the 16-core Intel device machine, which has no Go:
# static test binaries of the numerical packages and the resnet command, into .device/
# (git-ignored; name it in the device tool's `carry`). Run from anywhere in the repository.
#
#   tools/device/build.sh            then: device run, carry [".device"],
#                                    command "bash tools/device/run.sh"
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .device && mkdir -p .device
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
go build -trimpath -ldflags="-s -w" -o .device/resnet ./cmd/resnet
for p in kernels nn model train; do
  go test -c -trimpath -ldflags="-s -w" -o ".device/$p.test" "./$p"
done
ls -la .device
du -sh .device
