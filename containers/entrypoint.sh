#!/bin/sh
# Container entrypoint: check what the deployment must provide, then exec the gateway (which
# forks nospace-sandbox and drops its own privileges). Arguments go to nospace-gateway; the
# default (Dockerfile CMD) is --policy /etc/nospace/policy.yaml.
set -eu

gateway=${NOSPACE_GATEWAY:-/usr/local/bin/nospace-gateway}
policy=/etc/nospace/policy.yaml
prev=
for arg in "$@"; do
  [ "$prev" = --policy ] && policy=$arg
  prev=$arg
done

if [ ! -r "$policy" ]; then
  echo "nospace: no policy at $policy: mount one read-only (-v /srv/nospace/policy.yaml:$policy:ro)" >&2
  exit 78 # EX_CONFIG
fi

# The interpreter path as the gateway will see it (interpreter.path, or NOSPACE_BIN_PATH which
# overrides it). --check-policy also reports every error in the policy with its line.
if ! effective=$("$gateway" --check-policy "$policy"); then
  echo "nospace: the policy $policy is invalid (errors above)" >&2
  exit 78
fi
interpreter=$(printf '%s' "$effective" | tr -d '\n' |
  sed -n 's/.*"interpreter"[[:space:]]*:[[:space:]]*{[^}]*"path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
interpreter=${interpreter:-${NOSPACE_BIN_PATH:-/usr/local/bin/nospace20}}

if [ ! -e "$interpreter" ]; then
  cat >&2 <<MSG
nospace: the nospace20 interpreter is missing: $interpreter does not exist.
  The image does not contain it; the deployment provides it, either
    at run time:   docker run -v /path/to/nospace20:$interpreter:ro ...
    or built in:   docker build --build-arg NOSPACE20=path/in/context/nospace20 -f containers/Dockerfile .
  (interpreter.path in $policy, or NOSPACE_BIN_PATH, names where it must be.)
MSG
  exit 78
fi
if [ ! -f "$interpreter" ] || [ ! -x "$interpreter" ]; then
  echo "nospace: the interpreter $interpreter is not an executable file" >&2
  exit 78
fi

exec "$gateway" "$@"
