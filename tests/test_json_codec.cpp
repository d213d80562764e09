// json_codec: JSON text for types nlohmann::json converts, alone and through a Redis backend.
#include "corocache/json_codec.hpp"

#include <map>
#include <string>
#include <vector>

#include "corocache/redis_backend.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using corocache::errc;
using corocache::json_codec;

namespace shop {

struct item {
  std::string name;
  int quantity = 0;
  std::vector<std::string> tags;
  bool operator==(const item&) const = default;
};

void to_json(nlohmann::json& j, const item& value) {
  j = nlohmann::json{{"name", value.name}, {"quantity", value.quantity}, {"tags", value.tags}};
}

void from_json(const nlohmann::json& j, item& value) {
  j.at("name").get_to(value.name);
  j.at("quantity").get_to(value.quantity);
  j.at("tags").get_to(value.tags);
}

}  // namespace shop

namespace {

template <class T>
errc decode_error(std::string_view bytes) {
  try {
    (void)json_codec<T>::decode(bytes);
  } catch (const corocache::cache_error& e) {
    return e.error();
  }
  FAIL("decoded " << bytes);
  return {};
}

}  // namespace

static_assert(corocache::value_codec<json_codec<shop::item>, shop::item>);

TEST_CASE("a type with to_json and from_json round-trips as JSON text", "[json_codec]") {
  const shop::item apple{"apple", 3, {"fruit", "red"}};
  const auto text = json_codec<shop::item>::encode(apple);
  CHECK(nlohmann::json::parse(text) ==
        nlohmann::json{{"name", "apple"}, {"quantity", 3}, {"tags", {"fruit", "red"}}});
  CHECK(json_codec<shop::item>::decode(text) == apple);

  const std::map<std::string, int> counts{{"a", 1}, {"b", 2}};
  CHECK(json_codec<std::map<std::string, int>>::decode(
            json_codec<std::map<std::string, int>>::encode(counts)) == counts);
  CHECK(json_codec<int>::decode("42") == 42);
}

TEST_CASE("text that is not JSON of the right shape is a codec_error", "[json_codec]") {
  CHECK(decode_error<shop::item>("") == errc::codec_error);
  CHECK(decode_error<shop::item>("{\"name\": \"x\"") == errc::codec_error);   // truncated
  CHECK(decode_error<shop::item>("{\"name\": \"x\"}") == errc::codec_error);  // field missing
  CHECK(decode_error<shop::item>("{\"name\": 1, \"quantity\": 1, \"tags\": []}") ==
        errc::codec_error);  // wrong field type
  CHECK(decode_error<int>("\"7\"") == errc::codec_error);
  CHECK(decode_error<int>("7 8") == errc::codec_error);  // trailing data
}

TEST_CASE("a string that is not UTF-8 cannot be encoded and says so", "[json_codec]") {
  try {
    (void)json_codec<std::string>::encode("\xff\xfe");
    FAIL("encoded invalid UTF-8");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::codec_error);
  }
}

TEST_CASE("a Redis backend stores JSON values and reports undecodable ones by key",
          "[json_codec]") {
  corocache::test::redis_server server;
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
  corocache::test::run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    corocache::RedisCacheBackend<shop::item, json_codec<shop::item>> items(ex, url, "items:");
    corocache::RedisCacheBackend<std::string> raw(ex, url, "items:");
    co_await items.initialize();
    co_await raw.initialize();

    const shop::item pear{"pear", 2, {}};
    CHECK(co_await items.set("pear", pear, std::chrono::seconds(60)));
    CHECK(co_await items.get("pear") == pear);
    CHECK(co_await raw.get("pear") == json_codec<shop::item>::encode(pear));

    co_await raw.set("broken", "{\"name\":");
    try {
      co_await items.get("broken");
      FAIL("decoded broken JSON");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::codec_error);
      CHECK_THAT(e.what(), Catch::Contains("broken"));
    }
    CHECK(co_await raw.get("broken") == "{\"name\":");  // left as it was
  });
}
