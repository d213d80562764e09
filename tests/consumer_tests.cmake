# The three ways a project consumes corocache, each as a project of its own built and run by
# `ctest --build-and-test` with this build's compiler and flags: find_package against the
# installed package (plus the installed conformance suite and the pkg-config file),
# add_subdirectory of this source tree, and FetchContent from a git clone of this repository.

set(consumer_prefix "${CMAKE_CURRENT_BINARY_DIR}/consumer-install")
set(consumer_build_options
  "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
  "-DCMAKE_CXX_FLAGS=${CMAKE_CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}"
  "-DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}"
  "-DCOROCACHE_EXPECTED_VERSION=${PROJECT_VERSION}")
# The library built inside a consumer matches this build.
set(consumer_source_build_options
  "-DCOROCACHE_WITH_REDIS=${COROCACHE_WITH_REDIS}"
  "-DCMAKE_DISABLE_FIND_PACKAGE_hiredis=${CMAKE_DISABLE_FIND_PACKAGE_hiredis}")

# corocache_add_consumer_test(<name> <project dir> <extra cmake options>...)
function(corocache_add_consumer_test name project)
  add_test(NAME ${name}
    COMMAND ${CMAKE_CTEST_COMMAND}
      --build-and-test "${CMAKE_CURRENT_SOURCE_DIR}/${project}" "${CMAKE_CURRENT_BINARY_DIR}/${project}"
      --build-generator "${CMAKE_GENERATOR}"
      --build-options ${consumer_build_options} ${ARGN}
      --test-command ${CMAKE_CTEST_COMMAND} --output-on-failure)
  # The build inside may use CMAKE_BUILD_PARALLEL_LEVEL jobs: count it as two for ctest -j.
  set_tests_properties(${name} PROPERTIES LABELS consumer TIMEOUT 600 PROCESSORS 2)
endfunction()

add_test(NAME package_install
  COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${consumer_prefix})
set_tests_properties(package_install PROPERTIES FIXTURES_SETUP corocache_installed LABELS consumer)
# The license and the generated headers are part of the install.
add_test(NAME package_install_contents
  COMMAND ${CMAKE_COMMAND} -E cat
    "${consumer_prefix}/${CMAKE_INSTALL_DATADIR}/licenses/corocache/LICENSE"
    "${consumer_prefix}/${CMAKE_INSTALL_INCLUDEDIR}/corocache/version.hpp"
    "${consumer_prefix}/${CMAKE_INSTALL_INCLUDEDIR}/corocache/config.hpp"
    "${consumer_prefix}/${CMAKE_INSTALL_INCLUDEDIR}/corocache/testing/conformance/conformance_suite.hpp")
set_tests_properties(package_install_contents PROPERTIES
  FIXTURES_REQUIRED corocache_installed LABELS consumer
  PASS_REGULAR_EXPRESSION "MIT License.*COROCACHE_VERSION_MAJOR ${PROJECT_VERSION_MAJOR}.*COROCACHE_WITH_REDIS")

# fmt is made unfindable: the package must not need it (nor hiredis in a memory-only build).
corocache_add_consumer_test(package_find_package_consumer find-package-test
  "-DCMAKE_PREFIX_PATH=${consumer_prefix}" "-DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON"
  "-DCOROCACHE_EXPECT_PROMETHEUS=${COROCACHE_WITH_PROMETHEUS}"
  "-DCMAKE_DISABLE_FIND_PACKAGE_hiredis=${CMAKE_DISABLE_FIND_PACKAGE_hiredis}")
set_tests_properties(package_find_package_consumer PROPERTIES FIXTURES_REQUIRED corocache_installed)

# The version file's compatibility rule (configure only).
add_test(NAME package_version_rule
  COMMAND ${CMAKE_COMMAND} -S "${CMAKE_CURRENT_SOURCE_DIR}/version-rule-test"
    -B "${CMAKE_CURRENT_BINARY_DIR}/version-rule-test" -G "${CMAKE_GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${consumer_prefix}"
    "-DCOROCACHE_VERSION=${PROJECT_VERSION}")
set_tests_properties(package_version_rule PROPERTIES
  FIXTURES_REQUIRED corocache_installed LABELS consumer)

corocache_add_consumer_test(package_add_subdirectory_consumer add-subdirectory-test
  "-DCOROCACHE_SOURCE_DIR=${PROJECT_SOURCE_DIR}" ${consumer_source_build_options})

# FetchContent clones the committed HEAD of this repository (uncommitted changes are not in it).
find_package(Git QUIET)
if(Git_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  corocache_add_consumer_test(package_fetchcontent_consumer fetchcontent-test
    "-DCOROCACHE_GIT_REPOSITORY=${PROJECT_SOURCE_DIR}" "-DCOROCACHE_GIT_TAG=HEAD"
    ${consumer_source_build_options})
endif()

# pkg-config: the consumer program compiled with nothing but `pkg-config --cflags --libs`.
find_program(PKG_CONFIG_EXECUTABLE pkg-config)
if(PKG_CONFIG_EXECUTABLE)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" build_type_upper)
  add_test(NAME package_pkg_config_consumer
    COMMAND sh -c "set -e
      export PKG_CONFIG_PATH='${consumer_prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig'
      out='${CMAKE_CURRENT_BINARY_DIR}/pkg-config-consumer'
      '${CMAKE_CXX_COMPILER}' ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${build_type_upper}} \
        -DCONSUMER_EXPECTED_VERSION='\"${PROJECT_VERSION}\"' \
        '${CMAKE_CURRENT_SOURCE_DIR}/consumer/consumer.cpp' -o \"$out\" \
        ${CMAKE_EXE_LINKER_FLAGS} $(${PKG_CONFIG_EXECUTABLE} --cflags --libs --static corocache)
      \"$out\"")
  set_tests_properties(package_pkg_config_consumer PROPERTIES
    FIXTURES_REQUIRED corocache_installed LABELS consumer)
endif()
