#!/usr/bin/env bash
# Rebuild the default model that ships in src/exoguard/ml/bundled/default from the bundled
# data (../shared/data or EXOGUARD_DATA_DIR): the GBM, the network (config "default"), the
# stacker of the two, exported as the bundle. About 15 minutes on 2 CPUs; a scratch
# workspace keeps your database and models untouched.
#   usage: tools/build_default_model.sh   (from the repository root, after `make install`)
set -euo pipefail
bin="${BIN:-.venv/bin}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export EXOGUARD_VAR_DIR="$work"
"$bin/exoguard" db upgrade
"$bin/exoguard" ingest
"$bin/exoguard" train --model gbm
"$bin/exoguard" train --model multibranch --config default
"$bin/exoguard" train --model ensemble --param mb_version=multibranch-0001 --param gbm_version=gbm-0001
"$bin/exoguard" models export-bundle ensemble-0001
echo "bundle rebuilt; run the bundle test: .venv/bin/python -m pytest tests/unit/ml/test_bundled_model.py"
