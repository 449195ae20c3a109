#!/usr/bin/env bash
# run_node_test.sh MODULES_DIR SCRIPT ARGS...: install the pinned npm packages the Node tests
# drive (once, into MODULES_DIR under the build folder), then run SCRIPT with ARGS.
set -euo pipefail
mkdir -p "$1"; modules="$(cd "$1" && pwd)"; shift
pins=(@exadel/compreface-js-sdk@1.0.0 puppeteer-core@23.11.1)
stamp="$modules/.pins"
# the Node tests may run at once (ctest -j): one installs while the other waits
exec 9>"$modules/.lock"
flock 9
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${pins[*]}" ]; then
  npm install --silent --no-audit --no-fund --prefix "$modules" "${pins[@]}" >/dev/null
  echo "${pins[*]}" >"$stamp"
fi
flock -u 9
export NODE_MODULES_DIR="$modules/node_modules"
exec node "$@"
