# Helpers that keep each module's CMakeLists.txt to a few lines.

# cjx_module(NAME SOURCES ... LIBS ...): a static library cjx_NAME whose public
# headers live in include/cjx/.
function(cjx_module name)
  cmake_parse_arguments(M "" "" "SOURCES;LIBS" ${ARGN})
  add_library(cjx_${name} STATIC ${M_SOURCES})
  target_include_directories(cjx_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(cjx_${name} PUBLIC ${M_LIBS})
endfunction()

# cjx_unit_test(NAME SOURCES ... LIBS ...): a cmocka executable registered
# with ctest under the label "unit".
function(cjx_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit
                       ENVIRONMENT "CJX_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data")
endfunction()
