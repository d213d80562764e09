// The whole public API of corocache.
#pragma once

#include "corocache/backend_url.hpp"
#include "corocache/cache_backend.hpp"
#include "corocache/codec.hpp"
#include "corocache/config.hpp"
#include "corocache/error.hpp"
#include "corocache/fail_open.hpp"
#include "corocache/get_or_set.hpp"
#include "corocache/glob.hpp"
#include "corocache/instrumented.hpp"
#include "corocache/memory_backend.hpp"
#include "corocache/null_backend.hpp"
#include "corocache/registry.hpp"
#include "corocache/stats.hpp"
#include "corocache/version.hpp"
