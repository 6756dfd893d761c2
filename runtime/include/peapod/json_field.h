// Typed reads of JSON that came from outside the agent (image configs, registry bodies, CNI
// results, stream status frames, records on disk). nlohmann's get<T>() and value() throw when a
// field has another type ({"id": 1} where a string belongs); these return an Error naming the
// field instead, so a hostile or damaged document is refused, never an exception.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "peapod/error.h"

namespace peapod {
namespace json_detail {

std::string_view TypeName(const nlohmann::json& value);

template <typename T>
inline constexpr bool kIsStringVector = std::is_same_v<T, std::vector<std::string>>;
template <typename T>
inline constexpr bool kIsStringMap = std::is_same_v<T, std::map<std::string, std::string>>;

std::unexpected<Error> WrongType(std::string_view what, std::string_view expected,
                                 const nlohmann::json& value);
std::unexpected<Error> NotAnObject(std::string_view key, const nlohmann::json& value);

}  // namespace json_detail

// `value` as T, or kInvalidArgument "<what>: expected <type>, found <type>". T is one of
// std::string, bool, an integer type (the number must be an integer within T's range), double,
// std::vector<std::string>, std::map<std::string, std::string> or nlohmann::json (any value).
template <typename T>
Result<T> JsonAs(const nlohmann::json& value, std::string_view what) {
  using json_detail::WrongType;
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    return value;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) return WrongType(what, "a string", value);
    return value.get_ref<const std::string&>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return WrongType(what, "a boolean", value);
    return value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (value.is_number_unsigned()) {
      auto v = value.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return WrongType(what, "a smaller integer", value);
      }
      return static_cast<T>(v);
    }
    if (!value.is_number_integer()) return WrongType(what, "an integer", value);
    auto v = value.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (v < 0) return WrongType(what, "a non-negative integer", value);
      if (static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return WrongType(what, "a smaller integer", value);
      }
    } else {
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        return WrongType(what, "a smaller integer", value);
      }
    }
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, double>) {
    if (!value.is_number()) return WrongType(what, "a number", value);
    return value.get<double>();
  } else if constexpr (json_detail::kIsStringVector<T>) {
    if (!value.is_array()) return WrongType(what, "an array of strings", value);
    T out;
    for (const auto& item : value) {
      if (!item.is_string()) return WrongType(what, "an array of strings", item);
      out.push_back(item.get_ref<const std::string&>());
    }
    return out;
  } else if constexpr (json_detail::kIsStringMap<T>) {
    if (!value.is_object()) return WrongType(what, "an object of strings", value);
    T out;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!it->is_string()) return WrongType(what, "an object of strings", *it);
      out[it.key()] = it->template get_ref<const std::string&>();
    }
    return out;
  } else {
    static_assert(!sizeof(T), "JsonAs: unsupported type");
  }
}

// Field `key` of `object`: `fallback` when `object` has no such field or it is null; an error
// when `object` is not an object or the field has another type.
template <typename T>
Result<T> JsonField(const nlohmann::json& object, std::string_view key, T fallback) {
  if (!object.is_object()) return json_detail::NotAnObject(key, object);
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  return JsonAs<T>(*it, key);
}

// Field `key` of `object`, which must be there (and not null).
template <typename T>
Result<T> RequiredJsonField(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return json_detail::NotAnObject(key, object);
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return Fail(ErrorCode::kInvalidArgument, std::string(key) + ": missing");
  }
  return JsonAs<T>(*it, key);
}

// Reads the fields of one object in turn and keeps the first error, for code that fills a
// struct field by field: each Get returns the fallback once something failed, and Status()
// reports the failure, prefixed with `what` ("image record: size: expected an integer, ...").
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string what)
      : object_(object), what_(std::move(what)) {}

  template <typename T>
  T Get(std::string_view key, T fallback) {
    if (error_) return fallback;
    auto value = JsonField<T>(object_, key, fallback);
    if (!value) {
      error_ = std::move(value.error());
      return fallback;
    }
    return std::move(*value);
  }

  template <typename T>
  T Required(std::string_view key) {
    if (error_) return T{};
    auto value = RequiredJsonField<T>(object_, key);
    if (!value) {
      error_ = std::move(value.error());
      return T{};
    }
    return std::move(*value);
  }

  peapod::Status Status() const {
    if (!error_) return Ok();
    Error e = *error_;
    return std::unexpected(std::move(e).Context(what_));
  }

 private:
  const nlohmann::json& object_;
  std::string what_;
  std::optional<Error> error_;
};

}  // namespace peapod
