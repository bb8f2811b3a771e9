#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# DICOM files nobody here wrote (pydicom's test files); without them those tests are skipped.
scripts/fetch-test-data.sh || echo "test.sh: pydicom test files unavailable; their tests will be skipped" >&2
# Every edge of the module graph used, every import declared (docs/ARCHITECTURE.md).
python3 tools/module_edges.py
swift build --build-tests
swift test --skip-build "$@"
