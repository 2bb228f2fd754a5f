#!/bin/sh
# Refresh the vendored QR code generator (static/vendor/qrcode-generator/).
#
# The display draws the QR code of the dialogue's join address in the
# browser: no CDN (the CSP allows scripts from 'self' only, and venues often
# run closed networks) and no server route. The module is copied unmodified
# from the npm package "qrcode-generator" by Kazuhiko Arase (MIT), so it can
# be compared with the published tarball; static/js/qr.js draws the SVG.
#
# The package ships no LICENSE file: the notice is the header of the source
# (the same text as the LICENSE of github.com/kazuhikoarase/qrcode-generator),
# which names the MIT license; LICENSE here is that notice plus the MIT text.
#
# Usage: static/vendor/refresh-qrcode.sh [VERSION]   (default: the pinned one)
set -eu
VERSION="${1:-2.0.4}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEST="$HERE/qrcode-generator"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "qrcode-generator@$VERSION" >/dev/null
tar -xzf "qrcode-generator-$VERSION.tgz"
mkdir -p "$DEST"
cp package/dist/qrcode.mjs "$DEST/qrcode.mjs"
{
    # The notice at the top of the source, without the comment markers.
    awk 'NR == 1 { next } /^\/\/-+$/ { exit } { sub(/^\/\/ ?/, "") } !started && $0 == "" { next } { started = 1; print }' \
        package/dist/qrcode.mjs
    cat <<'MIT'
---------------------------------------------------------------------

The MIT License

Copyright (c) 2009 Kazuhiko Arase

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
MIT
} >"$DEST/LICENSE"
LICENSE_FIELD="$(node -p "require('./package/package.json').license")"
[ "$LICENSE_FIELD" = "MIT" ] || { echo "qrcode-generator $VERSION is not MIT-licensed ($LICENSE_FIELD)" >&2; exit 1; }
INTEGRITY="$(npm view "qrcode-generator@$VERSION" dist.integrity)"
SHA256="$(sha256sum "$DEST/qrcode.mjs" | cut -d' ' -f1)"
printf 'qrcode-generator %s\nnpm integrity %s\nsha256(qrcode.mjs) %s\n' \
    "$VERSION" "$INTEGRITY" "$SHA256" >"$DEST/VERSION"
echo "static/vendor/qrcode-generator: qrcode-generator $VERSION"
