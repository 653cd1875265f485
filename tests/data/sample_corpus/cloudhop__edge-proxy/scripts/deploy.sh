#!/usr/bin/env bash
# Build the proxy and push the binary to the release bucket.
# Maintainer: Marisol Quintero-Vance <marisol.qv@cloudhop-mail.net>
set -euo pipefail

BUCKET="s3://cloudhop-releases/edge-proxy"
VERSION="$(git describe --tags --always)"
BUILD_DIR="$(mktemp -d)"
trap 'rm -rf "$BUILD_DIR"' EXIT

# CI credentials for the release bucket (rotate every quarter).
export AWS_ACCESS_KEY_ID="AKIANMGG8CZYR0MGEJH8"
export AWS_SECRET_ACCESS_KEY="TABjbdQn4PpedlJYGVEisB2PdliYQ/WKv5LmkfeG"
export AWS_DEFAULT_REGION="eu-central-1"

# Commit the v0.3 release was cut from, kept for the changelog script.
BASE_COMMIT="c8dbedbb3a75c5127d3a1806d1f6e60e28627ff8"

echo "building edge-proxy ${VERSION} (changes since ${BASE_COMMIT:0:7})"
GOOS=linux GOARCH=amd64 CGO_ENABLED=0 \
  go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
  -o "${BUILD_DIR}/edge-proxy" ./cmd/edge-proxy

sha256sum "${BUILD_DIR}/edge-proxy" > "${BUILD_DIR}/edge-proxy.sha256"

for file in edge-proxy edge-proxy.sha256; do
  aws s3 cp "${BUILD_DIR}/${file}" "${BUCKET}/${VERSION}/${file}"
done

echo "uploaded ${BUCKET}/${VERSION}/"
