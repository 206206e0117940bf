#!/bin/sh
# render-lint.sh PAGE... - lint what man(1) shows, not only the source.
#
# mandoc -Tlint and groff -ww check the macros; they cannot see a .TP
# whose term was written over several source lines: only the first line
# is the term, the rest runs into the paragraph ("read [-qv] [-P" /
# "pattern] offset length Read ...").  This renders each page as man does
# and fails on a tagged-paragraph term (a line after a blank line, with
# the next line indented deeper) whose brackets do not balance.  The
# SYNOPSIS is left out: its lines wrap by design.
status=0
for page in "$@"; do
    groff -t -mandoc -Tutf8 -rLL=78n -P-cbou "$page" 2>/dev/null | awk -v page="$page" '
        function indent(s) { match(s, /^ */); return RLENGTH }
        /^[A-Z][A-Z -]*$/ { section = $0 }
        {
            if (prev != "" && prevblank && section != "SYNOPSIS" \
                && indent($0) > indent(prev) && $0 !~ /^ *$/) {
                o = gsub(/\[/, "[", prev); c = gsub(/\]/, "]", prev)
                if (o != c) {
                    printf "%s: term split over lines: \"%s\"\n", page, prev
                    bad = 1
                }
            }
            prevblank = (prev ~ /^ *$/)
            prev = $0
        }
        END { exit bad }' || status=1
done
exit $status
