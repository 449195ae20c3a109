# code_hash.cmake: the SHA-256 of the library's sources (the files listed in LIST, one a
# line, relative ones to ROOT), as the header OUT defining FACEREC_CODE_HASH, for src/nn/prepared.c: a prepared
# file is used only by code built from the same sources, since another version of the code
# may prepare the same weights differently (a transform's layout, a folding). The header is
# rewritten only when the hash changes, so only prepared.c is compiled again.
#   cmake -DLIST=sources.txt -DROOT=source-tree -DOUT=facerec_code_hash.h -P code_hash.cmake
file(STRINGS "${LIST}" sources)
set(hashes "")
foreach(source IN LISTS sources)
  get_filename_component(source "${source}" ABSOLUTE BASE_DIR "${ROOT}")
  file(SHA256 "${source}" hash)
  string(APPEND hashes "${hash}\n")
endforeach()
string(SHA256 code_hash "${hashes}")
set(text "/* made by cmake/code_hash.cmake: the SHA-256 of the library's sources */\n#define FACEREC_CODE_HASH \"${code_hash}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
