#!/usr/bin/env bash
# Installs what the tests need beside cargo, into .tools/ (idempotent; safe to run again):
#   - DynamoDB Local (AWS's DynamoDBLocal.jar, shipped in the npm package amplify-dynamodb-simulator)
#   - Java 17 to run it, if missing (Debian package)
#   - s3s-fs, an S3-compatible server that verifies signatures (cargo install)
#   - cfn-lint and the AWS SAM CLI in a Python venv, to lint template.yaml
#   - moto's server in the same venv: EventBridge and SQS for the event publisher's tests
#   - compliance-trestle (IBM's OSCAL tool, on NIST's OSCAL models) in the same venv: it
#     validates the OSCAL assessment-results documents the API produces
#   - Chromium and chromedriver (Debian's chromium and chromium-driver), if missing: the web
#     app's browser tests drive headless Chromium through its WebDriver
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
DDB_VERSION=2.9.30
SAM_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
MOTO_VERSION=5.2.5
# The last release on NIST's OSCAL 1.1 models (1.1.3, which reads 1.1.0-1.1.3 documents; its
# assessment-results model is the one of 1.1.2); 4.x and 5.x moved to OSCAL 1.2.
TRESTLE_VERSION=3.12.4

need_apt() {
  if command -v apt-get >/dev/null 2>&1; then
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "install-test-tools: please install $* (no apt-get here)" >&2
    exit 1
  fi
}

command -v java >/dev/null 2>&1 || need_apt openjdk-17-jre-headless
command -v npm >/dev/null 2>&1 || need_apt nodejs npm
command -v python3 >/dev/null 2>&1 || need_apt python3 python3-venv
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || need_apt chromium chromium-driver

mkdir -p "$TOOLS"
ddb="$TOOLS/dynamodb-local"
if [ ! -f "$ddb/package/emulator/DynamoDBLocal.jar" ] || [ "$(cat "$ddb/version" 2>/dev/null)" != "$DDB_VERSION" ]; then
  echo "install-test-tools: fetching DynamoDB Local (amplify-dynamodb-simulator@$DDB_VERSION)"
  rm -rf "$ddb" && mkdir -p "$ddb"
  (cd "$ddb" && npm pack --silent "amplify-dynamodb-simulator@$DDB_VERSION" >/dev/null && tar xzf ./*.tgz && rm -f ./*.tgz)
  echo "$DDB_VERSION" > "$ddb/version"
fi

# An S3-compatible server that checks SigV4 signatures, presigned URL expiry and signed
# headers (moto does not), for the S3 adapter's tests.
S3S_VERSION=0.14.1
if [ ! -x "$TOOLS/s3s/bin/s3s-fs" ] || [ "$(cat "$TOOLS/s3s/version" 2>/dev/null)" != "$S3S_VERSION" ]; then
  echo "install-test-tools: building s3s-fs $S3S_VERSION (a few minutes, once)"
  cargo install --quiet --locked s3s-fs --version "$S3S_VERSION" --features binary --root "$TOOLS/s3s"
  echo "$S3S_VERSION" > "$TOOLS/s3s/version"
fi

venv="$TOOLS/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
installed() { "$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }
# One pip run for all four, so that its resolver weighs their requirements together.
if [ "$(installed aws-sam-cli)" != "$SAM_VERSION" ] || [ "$(installed cfn-lint)" != "$CFN_LINT_VERSION" ] \
   || [ "$(installed moto)" != "$MOTO_VERSION" ] || [ -z "$(installed flask-cors)" ] || [ ! -x "$venv/bin/moto_server" ] \
   || [ "$(installed compliance-trestle)" != "$TRESTLE_VERSION" ] || [ ! -x "$venv/bin/trestle" ]; then
  echo "install-test-tools: installing aws-sam-cli $SAM_VERSION, cfn-lint $CFN_LINT_VERSION, moto[server] $MOTO_VERSION and compliance-trestle $TRESTLE_VERSION"
  "$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check "aws-sam-cli==$SAM_VERSION" "cfn-lint==$CFN_LINT_VERSION" "moto[server]==$MOTO_VERSION" \
    "compliance-trestle==$TRESTLE_VERSION"
fi
echo "install-test-tools: ready ($(java -version 2>&1 | head -1); DynamoDB Local $DDB_VERSION; s3s-fs $S3S_VERSION; sam $SAM_VERSION; cfn-lint $CFN_LINT_VERSION; moto $MOTO_VERSION; compliance-trestle $TRESTLE_VERSION; $(chromium --version 2>/dev/null | head -1 | cut -d' ' -f1-2); $(chromedriver --version 2>/dev/null | head -1 | cut -d' ' -f1-2))"
