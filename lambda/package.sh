#!/usr/bin/env bash
# Build the Lambda deployment artefacts (run by `make package`; no Docker needed):
#   build/extract/            the extract and bootstrap functions' code: extract/, gans_lambda/,
#                             the tracked-cities seed, the RDS CA bundle and the small
#                             dependencies (pip --target, manylinux x86_64 wheels for the
#                             function's runtime, CPython $EXTRACT_PYTHON, default 3.12)
#   build/extract.zip         the same, zipped (for `aws lambda update-function-code`)
#   build/transform-image/    the Docker build context of the transform function
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUILD=${BUILD:-build}  # output folder (the tests build into a temporary one)
RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
# Must match the ExtractFunction's Runtime in template.yaml (python3.12)
EXTRACT_PYTHON=${EXTRACT_PYTHON:-3.12}
# SKIP_TRANSFORM=1 builds only the extract package (the package test's fixture)
SKIP_TRANSFORM=${SKIP_TRANSFORM:-}

rm -rf "$BUILD/extract" "$BUILD/extract.zip" "$BUILD/transform-image"
mkdir -p "$BUILD/extract" "$BUILD/transform-image"

echo "extract: dependencies"
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile \
  --target "$BUILD/extract" --platform manylinux2014_x86_64 --implementation cp \
  --python-version "$EXTRACT_PYTHON" --only-binary=:all: \
  -r lambda/requirements-extract.txt -c requirements.lock
echo "extract: code"
cp -r extract lambda/gans_lambda "$BUILD/extract/"
mkdir -p "$BUILD/extract/dbt_project/seeds"
cp dbt_project/seeds/tracked_cities.csv "$BUILD/extract/dbt_project/seeds/"
# RDS_CA_BUNDLE=path uses a local copy; otherwise it is downloaded. Without it the package is
# still built (tests and inspection), but `make deploy` refuses: the functions verify TLS with it.
if [ -n "${RDS_CA_BUNDLE:-}" ]; then
  cp "$RDS_CA_BUNDLE" "$BUILD/extract/rds-global-bundle.pem"
elif [ -n "${NO_RDS_CA_DOWNLOAD:-}" ] || ! curl -fsSL --max-time 60 -o "$BUILD/extract/rds-global-bundle.pem" "$RDS_CA_URL"; then
  rm -f "$BUILD/extract/rds-global-bundle.pem"
  echo "WARNING: could not download the RDS CA bundle from $RDS_CA_URL;" \
    "set RDS_CA_BUNDLE=path before deploying" >&2
fi
find "$BUILD/extract" -name '__pycache__' -prune -exec rm -rf {} +
if [ -e "$BUILD/extract/dbt" ] || compgen -G "$BUILD/extract/dbt_core-*" >/dev/null; then
  echo "dbt must not be in the extract package" >&2
  exit 1
fi
"$PY" -c "import shutil; shutil.make_archive('$BUILD/extract', 'zip', '$BUILD/extract')"
if [ -n "$SKIP_TRANSFORM" ]; then
  echo "built $BUILD/extract.zip ($(du -h "$BUILD/extract.zip" | cut -f1))"
  exit 0
fi

echo "transform: image context"
cp lambda/Dockerfile lambda/requirements-transform.txt requirements.lock profiles.example.yml "$BUILD/transform-image/"
cp -r extract transform lambda/gans_lambda dbt_project "$BUILD/transform-image/"
rm -rf "$BUILD/transform-image/dbt_project/"{target,logs,dbt_packages}
find "$BUILD/transform-image" -name '__pycache__' -prune -exec rm -rf {} +

size=$(du -sm "$BUILD/extract" | cut -f1)
echo "built $BUILD/extract.zip ($(du -h "$BUILD/extract.zip" | cut -f1) zipped, ${size} MB unzipped; limit 250 MB)"
echo "built $BUILD/transform-image/ (docker build -t gans-transform $BUILD/transform-image)"
