# cmake -DPAGE=libaddcow.3 -DSOURCE=example.c -P example-in-page.cmake
#
# Fails unless the lines between '.\" BEGIN example.c' and '.\" END
# example.c' in PAGE are SOURCE escaped for roff: \ as \e, - as \-, ' as
# \(aq, and a leading . as \&. (the escaping the page uses).

file(READ "${PAGE}" page)
file(READ "${SOURCE}" src)

set(begin ".\\\" BEGIN example.c\n.EX\n")
set(end ".EE\n.\\\" END example.c\n")
string(FIND "${page}" "${begin}" b)
string(FIND "${page}" "${end}" e)
if(b EQUAL -1 OR e EQUAL -1)
  message(FATAL_ERROR "${PAGE}: no example.c block")
endif()
string(LENGTH "${begin}" blen)
math(EXPR b "${b} + ${blen}")
math(EXPR len "${e} - ${b}")
string(SUBSTRING "${page}" ${b} ${len} shown)

string(REPLACE "\\" "\\e" want "${src}")
string(REPLACE "-" "\\-" want "${want}")
string(REPLACE "'" "\\(aq" want "${want}")
string(REGEX REPLACE "(^|\n)\\." "\\1\\\\&." want "${want}")

if(NOT shown STREQUAL want)
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/example-in-page.want" "${want}")
  message(FATAL_ERROR "${PAGE}: the EXAMPLE differs from ${SOURCE}; "
          "the escaped source is in "
          "${CMAKE_CURRENT_BINARY_DIR}/example-in-page.want")
endif()
