#!/usr/bin/env bash
# Packaging smoke test of `az aks doctor`, as a user gets it: build the extension wheel, install the full
# azure-cli into a throwaway virtual environment, `az extension add --source <wheel>`, then run the help and the
# bundled example through the real `az`. Prints timings and sizes. Needs PyPI (azure-cli and the extension's own
# dependencies are downloaded). Usage: .ci/az_extension_smoke.sh  (AZ_VERSION=2.91.0 to pin azure-cli)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
AZ_VERSION=${AZ_VERSION:-2.91.0}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/aksdoctor-az-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
now() { echo "$EPOCHREALTIME"; }
took() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "az extension smoke: FAILED: $*" >&2; exit 1; }
# This machine's pip config names local indexes that may not exist; pip warns about each package. Keep the rest.
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# 1. The wheel, from a clean copy of the sources (a stale setuptools build/ folder could add deleted modules).
t=$(now)
mkdir -p "$WORK/src/shared"
cp -r az_extension "$WORK/src/az_extension"
cp -r shared/aksdoctor "$WORK/src/shared/aksdoctor"
rm -rf "$WORK/src/az_extension/build" "$WORK/src/az_extension/dist" "$WORK/src/az_extension"/*.egg-info
quiet "$PYTHON" -m pip wheel --quiet --no-deps "$WORK/src/az_extension" -w "$WORK/dist"
WHEEL=$(echo "$WORK"/dist/aksdoctor-*-py3-none-any.whl)
[ -f "$WHEEL" ] || fail "no wheel built"
echo "wheel: $(basename "$WHEEL"), $(stat -c %s "$WHEEL") bytes, built in $(took "$t") s"

# 2. The full Azure CLI in a throwaway venv, with private config and extension folders.
t=$(now)
"$PYTHON" -m venv "$WORK/venv"
quiet "$WORK/venv/bin/python" -m pip install --quiet --no-compile --disable-pip-version-check "azure-cli==$AZ_VERSION"
AZ="$WORK/venv/bin/az"
echo "pip install azure-cli==$AZ_VERSION: $(took "$t") s, venv $(du -sm "$WORK/venv" | cut -f1) MB"
export AZURE_CONFIG_DIR="$WORK/azconfig" AZURE_EXTENSION_DIR="$WORK/azext" AZURE_CORE_COLLECT_TELEMETRY=false
export AZURE_CORE_NO_COLOR=true

# 3. az extension add, as documented.
t=$(now)
quiet "$AZ" extension add --source "$WHEEL" --yes --only-show-errors
echo "az extension add: $(took "$t") s, extension folder $(du -sm "$AZURE_EXTENSION_DIR/aksdoctor" | cut -f1) MB"

# 4. Help: a new command from the extension, overriding nothing.
t=$(now)
"$AZ" aks doctor -h >"$WORK/help.txt" 2>&1
echo "az aks doctor -h: $(took "$t") s"
grep -q "This command is from the following extension: aksdoctor" "$WORK/help.txt" || fail "help does not name the extension"
grep -q "altered by" "$WORK/help.txt" && fail "az aks doctor overrides a command of another module or extension"
grep -q -- "--fail-on" "$WORK/help.txt" || fail "help lists no --fail-on"

# 5. The bundled example through the real az: JSON with findings, exit code 1 (errors found), and the same
#    findings as the kubectl plugin gives.
t=$(now)
set +e
"$AZ" aks doctor --snapshot examples/broken-cluster -n x -g y -o json >"$WORK/az.json" 2>"$WORK/az.err"
code=$?
set -e
echo "az aks doctor --snapshot examples/broken-cluster -o json: exit $code, $(took "$t") s"
[ "$code" -eq 1 ] || { cat "$WORK/az.err" >&2; fail "expected exit code 1 (error findings), got $code"; }
grep -q "finding(s) at or above severity 'error'" "$WORK/az.err" || fail "no --fail-on message on stderr"
grep -q Traceback "$WORK/az.err" && fail "traceback on stderr"
"$WORK/venv/bin/python" - "$WORK/az.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["schemaVersion"] == 1 and report["findings"], "no findings"
print(f"findings: {len(report['findings'])}, summary: {report['summary']}")
EOF
if "$PYTHON" -c "import kubectl_aksdoctor" 2>/dev/null; then
    set +e
    "$PYTHON" -m kubectl_aksdoctor cluster --snapshot examples/broken-cluster -o json >"$WORK/plugin.json"
    set -e
    "$PYTHON" - "$WORK/az.json" "$WORK/plugin.json" <<'EOF'
import json, sys
az, plugin = (json.load(open(p)) for p in sys.argv[1:])
assert az["findings"] == plugin["findings"], "az aks doctor and kubectl aksdoctor disagree"
print("same findings as kubectl aksdoctor cluster")
EOF
fi
# 6. Live mode without a login: az's own message, exit code 1, no traceback.
set +e
"$AZ" aks doctor -n x -g y >/dev/null 2>"$WORK/login.err"
code=$?
set -e
[ "$code" -eq 1 ] && grep -q "az login" "$WORK/login.err" && ! grep -q Traceback "$WORK/login.err" \
    || { cat "$WORK/login.err" >&2; fail "not logged in: expected exit 1 and an 'az login' message, got $code"; }
echo "not logged in: exit 1 with az's 'az login' message"

"$WORK/venv/bin/python" -c "from importlib.metadata import version as v
print('tested with', ', '.join(f'{n} {v(n)}' for n in ('azure-cli', 'azure-cli-core', 'knack')))"
echo "extension dependencies:" $(cd "$AZURE_EXTENSION_DIR/aksdoctor" && ls -d kubernetes-*.dist-info azure_mgmt_network-*.dist-info)
echo "az extension smoke: OK ($ROOT)"
