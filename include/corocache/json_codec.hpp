// json_codec<T>: stores values as JSON text, for any type nlohmann::json converts (to_json /
// from_json, or the standard containers and numbers it knows).
//
// Optional: this header needs <nlohmann/json.hpp> (nlohmann-json3-dev); the rest of corocache does
// not. Use it as the backend's codec, or make it T's default codec:
//
//   corocache::RedisCacheBackend<user, corocache::json_codec<user>> users(executor, url);
//   template <> struct corocache::codec<user> : corocache::json_codec<user> {};
//
// Decoding text that is not JSON, or JSON from_json rejects, throws errc::codec_error (the backend
// adds the key); so does encoding a string that is not valid UTF-8, which JSON cannot carry.
#pragma once

#if !__has_include(<nlohmann/json.hpp>)
#error "corocache/json_codec.hpp needs nlohmann/json.hpp (install nlohmann-json3-dev)"
#endif

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "corocache/codec.hpp"
#include "corocache/error.hpp"

namespace corocache {

/// A codec for types with nlohmann::json to_json/from_json: values are stored as JSON text.
template <class T>
struct json_codec {
  /// The JSON text of `value`; errc::codec_error when nlohmann::json cannot encode it.
  static std::string encode(const T& value) {
    try {
      return nlohmann::json(value).dump();
    } catch (const nlohmann::json::exception& e) {
      detail::throw_error(errc::codec_error, std::string("cannot encode as JSON: ") + e.what());
    }
  }

  /// The value `bytes` holds as JSON; errc::codec_error when it is not JSON for T.
  static T decode(std::string_view bytes) {
    try {
      return nlohmann::json::parse(bytes.begin(), bytes.end()).template get<T>();
    } catch (const nlohmann::json::exception& e) {
      detail::throw_error(errc::codec_error, std::string("not JSON for this type: ") + e.what());
    }
  }
};

}  // namespace corocache
