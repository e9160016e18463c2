#!/usr/bin/env bash
# Creates .venv (ignored by git) with the pinned Parquet readers of the reader matrix
# (scripts/requirements-readers.txt). Idempotent: a venv whose pins are already installed is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
REQ=scripts/requirements-readers.txt
STAMP=$VENV/.requirements-readers.txt

if [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y --no-install-recommends python3-venv
  else
    echo "Cannot create $VENV: python3 with the venv module is missing; install python3-venv" >&2
    exit 1
  fi
fi
python3 -m venv "$VENV"
# --retries 0: an index that cannot be reached fails at once instead of backing off for a minute
"$VENV/bin/pip" install --quiet --retries 0 --disable-pip-version-check -r "$REQ"
cp "$REQ" "$STAMP"
echo "Python readers installed in $VENV: $("$VENV/bin/python" -c 'import pyarrow, polars, fastparquet; print("pyarrow", pyarrow.__version__, "polars", polars.__version__, "fastparquet", fastparquet.__version__)')"
