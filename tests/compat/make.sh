# make.sh - build the small C project in cproject/ on WORK with make and
# gcc (objects, ar, a shared library, a generated source), run what was
# built, then let make's timestamp logic decide what to rebuild.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=$W/proj
MK=(make --no-print-directory -C "$P")

step "copy project" cp -r "$HERE/cproject" "$P"
step "stamp" find "$P" -exec touch -d "$STAMP" {} +
step "make -j2" "${MK[@]}" -j2
show "run" "$P/hello" scratch
xstep "make -q: up to date" 0 "${MK[@]}" -q
listing "$P"

# A newer header rebuilds exactly the objects that include it. (What make
# built has the time of "now": it is set back to STAMP each time, so that
# the newer sources can have fixed times too.)
step "stamp build" find "$P" -exec touch -d "$STAMP" {} +
step "touch header" touch -d @1600000100 "$P/greet.h"
xstep "make -q: stale" 1 "${MK[@]}" -q
show "make -n" "${MK[@]}" -n
step "make" "${MK[@]}"
xstep "make -q again" 0 "${MK[@]}" -q
step "stamp again" find "$P" -exec touch -d "$STAMP" {} +
# A new VERSION regenerates version.c (written to a temp, then renamed).
step "new version" sh -c 'echo 2.0 >"$1/VERSION" && touch -d @1600000200 \
	"$1/VERSION"' sh "$P"
show "make -n version" "${MK[@]}" -n
step "make -j2 again" "${MK[@]}" -j2
show "run again" "$P/hello"
step "install in" "${MK[@]}" install DESTDIR="$W/inst"
step "install out" "${MK[@]}" install DESTDIR="$O/inst"
show "run installed" "$W/inst/bin/hello" installed
show "run out" "$O/inst/bin/hello" out
step "clean" "${MK[@]}" clean
show "after clean" sh -c 'cd "$1" && ls' sh "$P"
step "rebuild" "${MK[@]}" -j2
listing "$P"
finish
