#!/usr/bin/env bash
# Fetches one real abdominal CT with reference labels, for validation only (never training): the
# test files of TotalSegmentator's source distribution on PyPI (the wheel does not ship tests/).
# The labels are TotalSegmentator's --fast model output, not manual annotation, and the scan is
# non-contrast (its phase_prediction.json: native): read Dice against them as agreement with
# another model. The version and the sdist's sha256 are pinned. Writes into the cache folder:
#   example_ct.nii.gz                      the CT (HU, 3 mm isotropic, 122×101×112)
#   example_seg_fast_force_split.nii.gz    TotalSegmentator `--fast --ml -fs` labels on its grid
#   example_word_labels.nii.gz             those labels as WORD ids (tools/totalseg_to_word.py)
#   example_ct_sm.nii.gz, example_seg_tissue_types/   a 30-slice crop (= example_ct slices 82..111,
#                                          though its header keeps the full scan's affine) and its
#                                          subcutaneous fat / torso fat / skeletal muscle masks
#   example_seg_fast.nii.gz, example_seg_fast/, phase_prediction.json, map_to_binary.py
# The id→name table comes from that same sdist and is checked there on the crop's multilabel map
# against its per-organ masks. Python packages go to a venv under .cache/ (ignored by git).
# Idempotent: nothing is downloaded when the sdist is there with the right sha256.
# Usage: scripts/fetch-real-validation.sh   (folder: $LCOVNET_VALIDATION_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.18.0
sha256=5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03
dir=${LCOVNET_VALIDATION_DIR:-$HOME/.cache/lcovnet/real-validation}
sdist="$dir/totalsegmentator-$version.tar.gz"
venv=.cache/realval-venv
mkdir -p "$dir"

if [[ ! -f "$venv/.complete" ]]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check numpy nibabel==5.4.2 scipy==1.17.1
  touch "$venv/.complete"
fi

if ! echo "$sha256  $sdist" | sha256sum --check --status 2>/dev/null; then
  rm -f "$sdist"
  # --no-binary for this package only: the sdist is what holds tests/; pip still builds its
  # metadata with setuptools wheels in an isolated environment.
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    --no-binary TotalSegmentator -d "$dir" "TotalSegmentator==$version"
  echo "$sha256  $sdist" | sha256sum --check --quiet || { echo "sha256 mismatch: $sdist" >&2; exit 1; }
fi

top="totalsegmentator-$version"
ref="$top/tests/reference_files"
if [[ ! -f "$dir/map_to_binary.py" || ! -f "$dir/example_seg_fast_force_split.nii.gz" ]]; then
  tar -xzf "$sdist" -C "$dir" --no-same-owner --strip-components=3 --wildcards \
    "$ref/example_ct.nii.gz" "$ref/example_ct_sm.nii.gz" "$ref/example_seg_fast_force_split.nii.gz" \
    "$ref/example_seg_fast.nii.gz" "$ref/example_seg_fast/*.nii.gz" "$ref/phase_prediction.json" \
    "$ref/example_seg_tissue_types/*.nii.gz"
  tar -xzf "$sdist" -C "$dir" --no-same-owner --strip-components=2 "$top/totalsegmentator/map_to_binary.py"
fi

if [[ ! -f "$dir/example_word_labels.nii.gz" ]]; then
  "$venv/bin/python" tools/totalseg_to_word.py "$dir/map_to_binary.py" \
    "$dir/example_seg_fast_force_split.nii.gz" "$dir/.word_labels.tmp.nii.gz" \
    --check "$dir/example_seg_fast.nii.gz" "$dir/example_seg_fast"
  mv "$dir/.word_labels.tmp.nii.gz" "$dir/example_word_labels.nii.gz"
fi
echo "real validation files in $dir"
