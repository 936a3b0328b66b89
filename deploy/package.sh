#!/usr/bin/env bash
# Build the Azure Functions deployment package: dist/functionapp.zip with host.json, the eight
# function folders and `handler` (linux/amd64, CGO_ENABLED=0, static) at the zip root, selected
# through .funcignore the way `func azure functionapp publish` selects files.
#
# Usage: deploy/package.sh [-out dist/functionapp.zip] [-version v1.2.3] [-pkg ./cmd/handler]
# Exits non-zero with a clear message when the handler does not build or the layout is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./deploy "$@"
