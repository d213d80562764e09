# Installs the library, its headers and a CMake package that find_package(corocache) locates.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(corocache_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/corocache")

install(TARGETS corocache EXPORT corocacheTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/corocache DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT corocacheTargets NAMESPACE corocache:: DESTINATION ${corocache_cmake_dir})

configure_package_config_file(cmake/corocacheConfig.cmake.in
  "${PROJECT_BINARY_DIR}/corocacheConfig.cmake"
  INSTALL_DESTINATION ${corocache_cmake_dir})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/corocacheConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/corocacheConfig.cmake"
  "${PROJECT_BINARY_DIR}/corocacheConfigVersion.cmake"
  cmake/Findasio.cmake
  cmake/Findhiredis.cmake
  DESTINATION ${corocache_cmake_dir})
