#!/usr/bin/env bash
# install_test.sh: `cmake --install` gives a working, movable tree: installed to a temporary
# prefix which is then moved elsewhere, the installed facerec enrolls a demo face and names it
# with the default pipeline using the installed models only, and a small program compiles
# against the installed facerec.pc and runs on the installed libfacerec.so.
#   install_test.sh BUILD_DIR DEMO_PHOTO LIBDIR BINDIR C_COMPILER [CFLAGS]
# (CFLAGS: e.g. the sanitizers the library was built with, which the program needs too)
set -euo pipefail
build="$1" photo="$2" libdir="$3" bindir="$4" cc="$5" cflags="${6:-}"

work="$(mktemp -d "${TMPDIR:-/tmp}/facerec-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
build_real="$(realpath "$build")"
case "$work/" in
  "$build_real"/*) echo "the temporary folder $work is inside the build tree" >&2; exit 1 ;;
esac
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/first" >/dev/null
# a moved tree still works: nothing refers to the prefix it was installed to
mv "$work/first" "$work/prefix"
prefix="$work/prefix"
facerec="$prefix/$bindir/facerec"

# nothing stray among the installed models: every file is one the CMake list names
stray="$(find "$prefix/share/facerec/models" -type f ! -name '*.json' ! -name '*.bin' \
         ! -name '*.tflite' ! -name '*.xml' ! -name '*.frmodel' ! -name '*.onnx' ! -name LICENSE)"
[ -z "$stray" ] || fail "stray files installed: $stray"
[ -f "$prefix/share/facerec/calibration/fusion.txt" ] || fail "no calibration installed"

# the installed binary, away from the source tree, with no models folder named
unset FACEREC_MODELS FACEREC_DB
mkdir "$work/run" "$work/run/crops"
cd "$work/run"
"$facerec" detect --crops crops "$photo" >/dev/null
cp crops/*_1.jpg anna.jpg
"$facerec" enroll --db gallery.db anna.jpg >/dev/null
out="$("$facerec" identify --db gallery.db anna.jpg)"
echo "$out"
grep -q '^anna.jpg,anna,' <<<"$out" || fail "identify did not name anna: $out"

# no silent fallback: with the installed models moved away, the default pipeline fails and
# names the installed models folder (never the source tree's models, which exist)
mv "$prefix/share/facerec/models" "$prefix/share/facerec/models.away"
if msg="$("$facerec" identify --db gallery.db anna.jpg 2>&1)"; then
  fail "identify worked without the installed models: $msg"
fi
grep -q "$prefix/$bindir/.*share/facerec/models/" <<<"$msg" ||
  fail "the error does not name the installed models folder: $msg"
mv "$prefix/share/facerec/models.away" "$prefix/share/facerec/models"

# the installed service serves its page from the moved tree (not from the source tree's
# serve/web): `facerec serve` on a free loopback port, GET /, then SIGTERM
"$facerec" serve --listen 127.0.0.1:0 --db served.db >/dev/null 2>serve.log &
serve_pid=$!
port=""
for _ in $(seq 300); do
  port="$(sed -n 's#.* on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*#\1#p' serve.log | head -n 1)"
  [ -n "$port" ] || ! kill -0 "$serve_pid" 2>/dev/null && break
  sleep 0.1
done
[ -n "$port" ] || { kill "$serve_pid" 2>/dev/null; fail "facerec serve did not start: $(cat serve.log)"; }
page="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' \
        "http://127.0.0.1:$port/")" || { kill "$serve_pid"; fail "GET / failed: $(cat serve.log)"; }
kill "$serve_pid"
wait "$serve_pid" || fail "facerec serve did not stop cleanly on SIGTERM: $(cat serve.log)"
grep -qi '<html' <<<"$page" || fail "GET / did not give the page: ${page:0:200}"
if grep -q 'not installed' serve.log; then fail "the installed page was not found: $(cat serve.log)"; fi

# a program built with the installed facerec.pc, run on the installed shared library
cat >"$work/app.c" <<'APP'
#include <facerec.h>
#include <stdio.h>
int main(int argc, char **argv) {
    fr_config cfg;
    fr_config_init(&cfg);
    fr_engine *eng;
    fr_image *img;
    fr_face *faces;
    int n;
    if (argc != 2 || fr_engine_open(&cfg, &eng) != FR_OK || fr_image_load(argv[1], &img) != FR_OK ||
        fr_process(eng, img, &faces, &n) != FR_OK) {
        fprintf(stderr, "app: %s\n", fr_last_error());
        return 1;
    }
    printf("facerec %s: %d faces, embedding length %d\n", fr_version(), n, n ? faces[0].dim : 0);
    fr_faces_free(faces);
    fr_image_free(img);
    fr_engine_close(eng);
    return n > 0 ? 0 : 1;
}
APP
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
# shellcheck disable=SC2046,SC2086
"$cc" $cflags -o "$work/app" "$work/app.c" $(pkg-config --cflags --libs facerec)
libs="$(LD_LIBRARY_PATH="$prefix/$libdir" ldd "$work/app")"
grep -q "$prefix/$libdir/libfacerec.so.0" <<<"$libs" ||
  fail "the program does not load the installed libfacerec.so.0: $libs"
LD_LIBRARY_PATH="$prefix/$libdir" "$work/app" anna.jpg
