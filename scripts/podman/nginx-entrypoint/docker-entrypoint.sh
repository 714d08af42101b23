#!/bin/sh
# Entrypoint of the nginx stand-in (nginx.Containerfile), after the official nginx image's: when the
# command is nginx, source the *.envsh and run the *.sh of /docker-entrypoint.d/ in order, then exec.
set -e
log() { [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*"; }
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  for f in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
    case "$f" in
      *.envsh) if [ -x "$f" ]; then log "Sourcing $f"; . "$f"; fi ;;
      *.sh) if [ -x "$f" ]; then log "Launching $f"; "$f"; fi ;;
    esac
  done
  log "Configuration complete; ready for start up"
fi
exec "$@"
