#!/usr/bin/env bash
# Build the Lambda deployment artefacts (run by `make package`; no Docker needed):
#   build/extract/            the zip functions' code (extract, bootstrap, fanout, GBFS retention): extract/, gans_lambda/,
#                             the tracked-cities and GBFS-systems seeds, the RDS CA bundle and the small
#                             dependencies (pip --target, manylinux x86_64 wheels for the
#                             function's runtime, CPython $EXTRACT_PYTHON, default 3.12)
#   build/extract.zip         the same, zipped: what the template's CodeUri ships (`sam build` leaves a zip
#                             as it is; rebuilding the folder, SAM's Python builder would drop the *.so files)
#   build/transform-image/    the Docker build context of the transform function
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUILD=${BUILD:-build}  # output folder (the tests build into a temporary one)
RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
# Must match the Runtime of every zip function in template.yaml (python3.12; tests/test_lambda_sam_build.py checks)
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
# only what extraction needs: the transform handler runs in the image, next to dbt
rm "$BUILD/extract/gans_lambda/transform_handler.py"
mkdir -p "$BUILD/extract/dbt_project/seeds"
cp dbt_project/seeds/tracked_cities.csv dbt_project/seeds/gbfs_systems.csv "$BUILD/extract/dbt_project/seeds/"
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
if [ -f "$BUILD/extract/rds-global-bundle.pem" ]; then
  cp "$BUILD/extract/rds-global-bundle.pem" "$BUILD/transform-image/"
fi
# The database host and port the transform function will see (template.yaml: GANS_DB_HOST =
# mysql.<PrivateZoneName>, GANS_DB_PORT = DbPort), for the parse baked into the image. Taken
# from IMAGE_DB_HOST / IMAGE_DB_PORT, else from the stack's parameters in lambda/samconfig.toml
# (SAMCONFIG=path for another file), else the template's defaults.
"$PY" - "$BUILD/transform-image/image-settings.env" <<'PYEOF'
import os, re, sys, tomllib
params = {"PrivateZoneName": "gans.internal", "DbPort": "3306"}
try:
    with open(os.environ.get("SAMCONFIG") or "lambda/samconfig.toml", "rb") as fh:
        overrides = tomllib.load(fh).get("default", {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
except FileNotFoundError:
    overrides = []
if isinstance(overrides, str):
    overrides = re.findall(r'(\w+)=("[^"]*"|\S+)', overrides)
    overrides = [f"{k}={v.strip(chr(34))}" for k, v in overrides]
for item in overrides:
    key, _, value = item.partition("=")
    if key in params:
        params[key] = value
host = os.environ.get("IMAGE_DB_HOST") or f"mysql.{params['PrivateZoneName']}"
port = os.environ.get("IMAGE_DB_PORT") or params["DbPort"]
with open(sys.argv[1], "w") as fh:
    fh.write(f"GANS_DB_HOST={host}\nGANS_DB_PORT={port}\n")
print(f"transform: parse baked for {host}:{port}")
PYEOF
cp -r extract transform lambda/gans_lambda dbt_project "$BUILD/transform-image/"
rm -rf "$BUILD/transform-image/dbt_project/"{target,logs,dbt_packages}
find "$BUILD/transform-image" -name '__pycache__' -prune -exec rm -rf {} +

size=$(du -sm "$BUILD/extract" | cut -f1)
echo "built $BUILD/extract.zip ($(du -h "$BUILD/extract.zip" | cut -f1) zipped, ${size} MB unzipped; limit 250 MB)"
echo "built $BUILD/transform-image/ (docker build -t gans-transform $BUILD/transform-image)"
