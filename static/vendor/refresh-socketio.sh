#!/bin/sh
# Refresh the vendored Socket.IO browser client (static/vendor/socket.io/).
#
# Pages load the client from our own server: venues often run closed networks,
# and the CSP allows scripts from 'self' only. The files are copied unmodified
# from the npm package, so they can be compared with the published tarball.
#
# Usage: static/vendor/refresh-socketio.sh [VERSION]   (default: the pinned one)
# The client's major version must match the server (python-socketio 5.x pairs
# with socket.io-client 4.x).
set -eu
VERSION="${1:-4.8.4}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEST="$HERE/socket.io"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "socket.io-client@$VERSION" >/dev/null
tar -xzf "socket.io-client-$VERSION.tgz"
mkdir -p "$DEST"
cp package/dist/socket.io.min.js "$DEST/socket.io.min.js"
if [ -f package/dist/socket.io.min.js.map ]; then
    cp package/dist/socket.io.min.js.map "$DEST/socket.io.min.js.map"
fi
cp package/LICENSE "$DEST/LICENSE"
INTEGRITY="$(npm view "socket.io-client@$VERSION" dist.integrity)"
SHA256="$(sha256sum "$DEST/socket.io.min.js" | cut -d' ' -f1)"
printf 'socket.io-client %s\nnpm integrity %s\nsha256(socket.io.min.js) %s\n' \
    "$VERSION" "$INTEGRITY" "$SHA256" >"$DEST/VERSION"
echo "static/vendor/socket.io: socket.io-client $VERSION"
