#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, then deploy the fixture bundle to the
# local environment (under a temporary GREENTIC_HOME unless one is given) and fetch the page
# from the running revision. Proposed replacement for scripts/quickstart.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bash scripts/setup.sh
export PATH="/usr/local/bin:$PATH"

echo "[quickstart] building the packages and the op CLI" >&2
pnpm build >/dev/null

export GREENTIC_HOME="${GREENTIC_HOME:-$(mktemp -d -t greentic-quickstart-XXXXXX)}"
op() { node apps/op/bin/run.js "$@"; }
work="$(mktemp -d -t greentic-bundle-XXXXXX)"

echo "[quickstart] GREENTIC_HOME=$GREENTIC_HOME" >&2
op env init
op bundles build fixtures/bundles/hello --bundle-id hello --bundle-version 0.1.0 --out "$work/hello.gtbundle"
url="$(op deploy --bundle "$work/hello.gtbundle" --json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const url = JSON.parse(s).result.url;
    if (!url) { console.error("the deployer reported no URL"); process.exit(1); }
    console.log(url);
  });')"
echo "[quickstart] fetching $url" >&2
curl -fsS "$url" | head -n 20
echo
echo "The fixture bundle is running at $url (GREENTIC_HOME=$GREENTIC_HOME)."
echo "Stop it with: GREENTIC_HOME=$GREENTIC_HOME node apps/op/bin/run.js env destroy local --confirm"
