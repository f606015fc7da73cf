# The package test (ES_PACKAGE_TEST=ON): cmake -DBUILD=… -DWORK=… -P package_test.cmake
#
# Installs the build in BUILD into WORK/prefix, then configures, builds and runs a fresh
# project that finds it with find_package(eventstorm CONFIG), linking the shared and the
# static library; and checks that the shared object exports the es_* API only.
cmake_minimum_required(VERSION 3.16)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})

file(WRITE ${WORK}/app/CMakeLists.txt [=[
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(eventstorm 1 CONFIG REQUIRED)
add_executable(app_shared app.c)
target_link_libraries(app_shared PRIVATE eventstorm::eventstorm)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE eventstorm::eventstorm_static)
]=])
file(WRITE ${WORK}/app/app.c [=[
#include <eventstorm.h>
#include <stdio.h>
int main (void) {
    es_options_t options = {.close_timeout_ms = ES_NO_WAIT};
    es_emitter_t *emitter = es_emitter_new ("@inproc://app", &options);
    if (!emitter) { fprintf (stderr, "%s\n", es_last_error ()); return 1; }
    int rc = es_emit_json (emitter, "app.start", "{\"version\": \"1.0\"}");
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    printf ("rc=%d events=%llu\n", rc, (unsigned long long) stats.events);
    es_emitter_destroy (&emitter);
    return 0;
}
]=])
run(${CMAKE_COMMAND} -S ${WORK}/app -B ${WORK}/app/build -G ${GENERATOR}
    -DCMAKE_C_COMPILER=${CC} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK}/app/build)
foreach(app app_shared app_static)
  run(${WORK}/app/build/${app})
  if(NOT output STREQUAL "rc=0 events=1\n")
    message(FATAL_ERROR "${app} printed: ${output}")
  endif()
endforeach()

# Exported functions: the es_* API of the header, nothing of the library's internals.
file(GLOB shared ${prefix}/lib*/libeventstorm.so)
run(nm -D --defined-only ${shared})
string(REGEX MATCHALL "[0-9a-f]+ T [^\n]+" exported "${output}")
set(names "")
foreach(line ${exported})
  string(REGEX REPLACE ".* T " "" name "${line}")
  list(APPEND names ${name})
endforeach()
file(READ ${prefix}/include/eventstorm.h header)
string(REGEX MATCHALL "ES_EXPORT [^(]*[ *](es_[a-z_0-9]+) \\(" declared "${header}")
list(LENGTH declared n_declared)
foreach(name ${names})
  if(NOT header MATCHES "ES_EXPORT [^(]*[ *]${name} \\(")
    message(FATAL_ERROR "libeventstorm.so exports ${name}, which eventstorm.h does not declare")
  endif()
endforeach()
list(LENGTH names n_exported)
if(NOT n_exported EQUAL n_declared)
  message(FATAL_ERROR "libeventstorm.so exports ${n_exported} functions, eventstorm.h declares ${n_declared}: ${names}")
endif()
message("package: find_package works, shared and static; ${n_exported} functions exported")
