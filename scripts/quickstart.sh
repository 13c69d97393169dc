#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, then deploy the fixture bundle to the
# embedded `local` environment (under a temporary GREENTIC_HOME unless one is given) and
# fetch the page through the environment's URL, which follows the traffic split.
set -euo pipefail
cd "$(dirname "$0")/.."
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
op deploy --bundle "$work/hello.gtbundle" --json >"$work/deploy.json"
read -r url revision_url < <(node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).result;
  if (!r.url) { console.error("the deployer reported no URL"); process.exit(1); }
  console.log(r.environment_url ?? r.url, r.url);' "$work/deploy.json")
op revisions list local

echo "[quickstart] fetching $url" >&2
curl -fsS "$url" | head -n 20
echo
echo "The fixture bundle is running: environment URL $url (revision URL $revision_url)."
echo "GREENTIC_HOME=$GREENTIC_HOME; stop everything with:"
echo "  GREENTIC_HOME=$GREENTIC_HOME node apps/op/bin/run.js env destroy local --confirm"
