#!/bin/sh
# Fails when a C source file differs from what .clang-format makes of it.
# Usage: check-format.sh SOURCE_DIR
set -eu
cd "$1"
files=$(find src include tests fuzz bench tools -name '*.[ch]' -not -path 'tests/data/*')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -l) files checked, 0 differ"
