#!/bin/sh
# A stand-in for your deploy tool: "routes" a model's traffic by writing the
# serving version into gate-report/deploy/. Usage: deploy.sh route|check MODEL VERSION
set -eu
state=gate-report/deploy
mkdir -p "$state"
case "${1:-}" in
  route) echo "$3" > "$state/$2.route"; echo "routing all $2 traffic to $3" ;;
  check) test "$(cat "$state/$2.route" 2>/dev/null)" = "$3"; echo "$2 serves $3" ;;
  *) echo "usage: deploy.sh route|check MODEL VERSION" >&2; exit 64 ;;
esac
