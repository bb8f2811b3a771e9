#!/usr/bin/env bash
# Installs the native libraries and reference tools lcovnet needs on Debian 12.
# Idempotent: it skips apt when every package is already there.
set -euo pipefail

packages=(
  pkg-config
  libdcmtk-dev dcmtk          # DICOM decoding and writing
  libopenjp2-7-dev            # JPEG 2000 pixel data (DCMTK's free build has no J2K codec)
  libnifti-dev                # NIfTI-1 I/O
  libzstd-dev                 # .nii.zst
  zlib1g-dev                  # .nii.gz and deflated DICOM (inflated with a size limit)
  libdnnl-dev                 # oneDNN, the inference and training engine
  libsqlite3-dev              # job ledger
  libpq-dev postgresql        # job ledger shared by several workers; the server the ledger tests start
  libssl-dev                  # libcrypto: SHA-256 of model files (DCMTK's TLS links it too)
  dcm2niix dicom3tools        # reference converter and DICOM validator for the tests
  python3-numpy python3-scipy python3-torch python3-nibabel python3-pydicom python3-pil python3-venv   # reference checks
  time                        # /usr/bin/time for bench/convert.sh
  procps                      # pgrep: the tests find the daemon's storage SCP child
  orthanc curl openssl        # the PACS the outbox test sends to, its REST API, test certificates
  libgl1 libglib2.0-0         # OpenCV's wheel (rt-utils, the RT Structure Set read-back) links them
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# highdicom and rt-utils are not packaged by Debian: a venv for the DICOM SEG and RT Structure Set
# read-back checks (Tests/IngestTests/DicomSegmentationTests, tools/check_seg.py, tools/check_rtstruct.py).
cd "$(dirname "$0")/.."
venv_packages=(highdicom==0.23.1 rt-utils==1.2.7)
if [[ "$(cat .cache/dicom-venv/.complete 2>/dev/null)" != "${venv_packages[*]}" ]]; then
  /usr/bin/python3 -m venv .cache/dicom-venv
  .cache/dicom-venv/bin/pip install --quiet --disable-pip-version-check "${venv_packages[@]}"
  echo "${venv_packages[*]}" > .cache/dicom-venv/.complete
fi

# Pure-Python references over Debian's torch: MONAI's surface metrics (HD95, normalized surface
# Dice) for Volumes.SurfaceDistances (tools/surface_metrics_monai.py), and PyMIC's LCOVNet class
# for `lcovnet model import` of a PyMIC checkpoint (tools/pymic_lcovnet.py), and nnU-Net v1's
# preprocessing (tools/nnunet_v1_reference.py; with the few pure-Python modules it imports).
torch_packages=(monai==1.3.2 PyMIC==0.6.2 nnunet==1.7.1 batchgenerators==0.25 SimpleITK==2.3.1 scikit-image==0.21.0 lazy_loader==0.6)
if [[ "$(cat .cache/torch-venv/.complete 2>/dev/null)" != "${torch_packages[*]}" ]]; then
  /usr/bin/python3 -m venv --system-site-packages .cache/torch-venv
  .cache/torch-venv/bin/pip install --quiet --disable-pip-version-check --no-deps "${torch_packages[@]}"
  echo "${torch_packages[*]}" > .cache/torch-venv/.complete
fi
