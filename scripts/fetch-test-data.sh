#!/usr/bin/env bash
# Fetches DICOM files nobody here wrote: the test files shipped by the PyPI packages pydicom and
# pydicom-data, with the pylibjpeg decoders so that pydicom can decode every one of them (the
# reference values of Tests/IngestTests/PydicomFilesTests). Installs into a venv under .cache/
# (ignored by git). Idempotent; a failure only disables those tests.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/pydicom-venv
stamp="$venv/.complete"
[[ -f "$stamp" ]] && exit 0
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  numpy pydicom==3.0.2 pydicom-data==1.0.0 \
  pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle
touch "$stamp"
