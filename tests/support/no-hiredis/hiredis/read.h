// Stands in for hiredis in the memory-only build (CMakePresets.json, preset memory-only): any
// source that includes hiredis there fails to compile.
#error "<hiredis/read.h> included in a memory-only build (COROCACHE_WITH_REDIS=OFF)"
