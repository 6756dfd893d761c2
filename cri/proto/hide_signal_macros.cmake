# Run after protoc on api.pb.h: CRI's `enum Signal` (KEP-4960) names its values SIGTERM, SIGKILL,
# ... exactly as <signal.h> names its macros, so the generated header would not compile in any
# translation unit that saw <signal.h> first. This wraps the header in push_macro/#undef ...
# pop_macro for every such name; peapod code then spells Signal values through Signal_Name() and
# Signal_Parse() (cri/src/convert_signal.cpp), never as identifiers.
#
# Usage: cmake -DHEADER=<gen>/cri/proto/api.pb.h -P hide_signal_macros.cmake
file(READ "${HEADER}" text)
string(FIND "${text}" "peapod: signal macros hidden" done)
if(NOT done EQUAL -1)
  return()
endif()
string(REGEX MATCHALL "\n  SIG[A-Z0-9]+ = " found "${text}")
set(push "// peapod: signal macros hidden (cri/proto/hide_signal_macros.cmake)\n#include <csignal>\n")
set(pop "")
foreach(entry IN LISTS found)
  string(REGEX REPLACE "\n  (SIG[A-Z0-9]+) = " "\\1" name "${entry}")
  string(APPEND push "#pragma push_macro(\"${name}\")\n#undef ${name}\n")
  string(APPEND pop "#pragma pop_macro(\"${name}\")\n")
endforeach()
string(FIND "${text}" "#include <google/protobuf/port_undef.inc>" tail REVERSE)
if(tail EQUAL -1)
  message(FATAL_ERROR "${HEADER}: no port_undef.inc include to put the macros back before")
endif()
string(SUBSTRING "${text}" 0 ${tail} head)
string(SUBSTRING "${text}" ${tail} -1 rest)
file(WRITE "${HEADER}" "${push}${head}${pop}\n${rest}")
