# exports.cmake: the shared library exports exactly the functions that include/facerec.h
# marks FR_API, nothing internal (ctest runs it with cmake -P).
#   cmake -DLIBRARY=libfacerec.so -DHEADER=include/facerec.h -DNM=nm -P exports.cmake
file(READ "${HEADER}" header)
# a declaration: FR_API, its return type, then the function's name before '('
string(REGEX MATCHALL "FR_API[^;(]*[ *]fr_[a-z0-9_]+[ \t]*\\(" declarations "${header}")
set(expected "")
foreach(d ${declarations})
  string(REGEX MATCH "fr_[a-z0-9_]+[ \t]*\\($" name "${d}")
  string(REGEX REPLACE "[ \t]*\\($" "" name "${name}")
  list(APPEND expected ${name})
endforeach()
list(SORT expected)
list(LENGTH expected n_expected)
if(n_expected LESS 10)
  message(FATAL_ERROR "${HEADER}: found only ${n_expected} FR_API declarations; the parser is wrong")
endif()

execute_process(COMMAND ${NM} -D --defined-only "${LIBRARY}"
  OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${listing}")
set(exported "")
foreach(line ${lines})
  # "<address> <type> <name>"
  if(line MATCHES "^[0-9a-fA-F]+ ([A-Za-z]) ([^ ]+)$")
    list(APPEND exported "${CMAKE_MATCH_2}")
  endif()
endforeach()
list(SORT exported)

set(missing ${expected})
list(REMOVE_ITEM missing ${exported})
set(extra ${exported})
list(REMOVE_ITEM extra ${expected})
if(missing OR extra)
  message(FATAL_ERROR "${LIBRARY}: exported symbols differ from the FR_API functions of "
          "${HEADER}\n  declared but not exported: ${missing}\n  exported but not declared: ${extra}")
endif()
list(LENGTH exported n_exported)
message(STATUS "${LIBRARY}: exports exactly the ${n_exported} FR_API functions of ${HEADER}")
