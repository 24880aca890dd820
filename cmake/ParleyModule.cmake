# Flags shared by every Parley target.
add_library(parley_warnings INTERFACE)
target_compile_options(parley_warnings INTERFACE -Wall -Wextra)
# g++ 12 at -O3 reports -Wrestrict inside std::string for `"text" + str`
# (GCC bug 105651, fixed in 13): a false positive, silenced for g++ 12 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(parley_warnings INTERFACE -Wno-restrict)
endif()

if(PARLEY_ENABLE_SANITIZERS)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# parley_add_module(NAME SOURCES ... [PUBLIC deps...] [PRIVATE deps...])
# One static library per seam, named parley_<NAME>, with the public headers
# under include/parley/ and private headers next to its sources.
function(parley_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  add_library(parley_${name} STATIC ${ARG_SOURCES})
  target_include_directories(parley_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(parley_${name} PUBLIC ${ARG_PUBLIC} PRIVATE parley_warnings ${ARG_PRIVATE})
endfunction()

# parley_add_test(NAME SOURCES ... LIBS ...): one gtest binary per seam.
function(parley_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE parley_warnings ${ARG_LIBS} GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()
