# Finds hiredis and provides hiredis::hiredis. hiredis 1.x installs a CMake package with that
# target; hiredis 0.14 (Debian bookworm) installs a package without targets, so fall back to
# pkg-config's hiredis.pc there.
find_package(hiredis CONFIG QUIET NO_MODULE)
if(TARGET hiredis::hiredis)
  set(hiredis_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_hiredis QUIET IMPORTED_TARGET hiredis)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(hiredis REQUIRED_VARS PC_hiredis_FOUND VERSION_VAR PC_hiredis_VERSION)

if(hiredis_FOUND AND NOT TARGET hiredis::hiredis)
  add_library(hiredis::hiredis INTERFACE IMPORTED)
  set_target_properties(hiredis::hiredis PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::PC_hiredis)
  set(hiredis_VERSION "${PC_hiredis_VERSION}")
endif()
