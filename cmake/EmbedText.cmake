# Turns a text file into a C++ source that defines one function returning it, so that the binary
# carries the file (the OpenAPI document) without reading it at run time.
# Usage: cmake -DINPUT=<file> -DOUTPUT=<file.cpp> -DHEADER=<include> -DFUNCTION=<qualified name>
#              -P EmbedText.cmake
file(READ "${INPUT}" content)
set(delimiter "sluice_embed")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains )${delimiter}\", which ends the raw string; change the delimiter")
endif()
string(REGEX REPLACE "::[^:]*$" "" namespace "${FUNCTION}")
string(REGEX REPLACE "^.*::" "" name "${FUNCTION}")
file(WRITE "${OUTPUT}.tmp"
     "// Generated from ${INPUT} by cmake/EmbedText.cmake at build time; do not edit.\n"
     "#include \"${HEADER}\"\n\nnamespace ${namespace} {\n\n"
     "std::string_view ${name}() {\n  static constexpr char kText[] = R\"${delimiter}(")
file(APPEND "${OUTPUT}.tmp" "${content}")
file(APPEND "${OUTPUT}.tmp" ")${delimiter}\";\n  return {kText, sizeof(kText) - 1};\n}\n\n}  // namespace ${namespace}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
