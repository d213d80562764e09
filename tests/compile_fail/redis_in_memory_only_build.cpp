// Must not compile in a memory-only build: the Redis header says the backend is not there.
#include "corocache/redis_backend.hpp"

int main() {}
