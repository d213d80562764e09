# Installs the library, its headers, the conformance suite, a CMake package that
# find_package(corocache) locates, a pkg-config file and the license.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(corocache_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/corocache")

install(TARGETS corocache EXPORT corocacheTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/corocache "${corocache_generated_include}/corocache"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT corocacheTargets NAMESPACE corocache:: DESTINATION ${corocache_cmake_dir})

# The contract suite, for backends of one's own (component "conformance": needs Catch2 v2).
set(corocache_conformance_dir "${CMAKE_INSTALL_INCLUDEDIR}/corocache/testing")
install(FILES tests/conformance/conformance_suite.hpp DESTINATION ${corocache_conformance_dir}/conformance)
install(FILES tests/support/catch.hpp tests/support/error_of.hpp tests/support/run_coroutine.hpp
  DESTINATION ${corocache_conformance_dir}/support)
add_library(corocache_conformance INTERFACE)
set_target_properties(corocache_conformance PROPERTIES EXPORT_NAME conformance)
target_include_directories(corocache_conformance INTERFACE
  $<INSTALL_INTERFACE:${corocache_conformance_dir}>)
target_link_libraries(corocache_conformance INTERFACE corocache Catch2::Catch2)
install(TARGETS corocache_conformance EXPORT corocacheConformanceTargets)
install(EXPORT corocacheConformanceTargets NAMESPACE corocache:: DESTINATION ${corocache_cmake_dir})

# The Prometheus adapter (component "prometheus": needs prometheus-cpp), when it was built.
if(COROCACHE_WITH_PROMETHEUS)
  set_target_properties(corocache_prometheus PROPERTIES EXPORT_NAME prometheus)
  install(TARGETS corocache_prometheus EXPORT corocachePrometheusTargets)
  install(EXPORT corocachePrometheusTargets NAMESPACE corocache:: DESTINATION ${corocache_cmake_dir})
endif()

get_target_property(corocache_library_type corocache TYPE)
configure_package_config_file(cmake/corocacheConfig.cmake.in
  "${PROJECT_BINARY_DIR}/corocacheConfig.cmake"
  INSTALL_DESTINATION ${corocache_cmake_dir})
# The compatibility rule: before 1.0 a minor version may break the API, so a request for 0.2
# accepts 0.2.x only (SameMinorVersion); from 1.0 on this becomes SameMajorVersion.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(corocache_compatibility SameMinorVersion)
else()
  set(corocache_compatibility SameMajorVersion)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/corocacheConfigVersion.cmake"
  COMPATIBILITY ${corocache_compatibility})
install(FILES
  "${PROJECT_BINARY_DIR}/corocacheConfig.cmake"
  "${PROJECT_BINARY_DIR}/corocacheConfigVersion.cmake"
  cmake/Findasio.cmake
  cmake/Findhiredis.cmake
  DESTINATION ${corocache_cmake_dir})

# pkg-config, for builds that are not CMake.
if(COROCACHE_WITH_REDIS AND corocache_library_type STREQUAL "STATIC_LIBRARY")
  set(corocache_pc_libs_private "-lhiredis -lssl -lcrypto")
endif()
# Relative to the .pc file, so the installed tree can be moved (and installed with --prefix).
file(RELATIVE_PATH corocache_pc_to_prefix "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" corocache_pc_to_prefix "${corocache_pc_to_prefix}")
configure_file(cmake/corocache.pc.in "${PROJECT_BINARY_DIR}/corocache.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/corocache.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/licenses/corocache)
