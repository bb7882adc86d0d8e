#!/bin/bash
# Docker HEALTHCHECK: GET /healthz on the gateway's port over loopback, with bash's /dev/tcp
# (the slim image has no curl). Healthy = HTTP 200. PORT is the same override the gateway reads.
set -u
port=${PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 2 status <&3 || exit 1
case $status in
"HTTP/1."?" 200 "*) exit 0 ;;
*) exit 1 ;;
esac
