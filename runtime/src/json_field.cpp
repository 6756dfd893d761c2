#include "peapod/json_field.h"

namespace peapod::json_detail {

std::string_view TypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a number";
    case nlohmann::json::value_t::binary:
      return "binary data";
    case nlohmann::json::value_t::discarded:
      return "invalid JSON";
  }
  return "an unknown value";
}

std::unexpected<Error> WrongType(std::string_view what, std::string_view expected,
                                 const nlohmann::json& value) {
  std::string message(what);
  message += ": expected ";
  message += expected;
  message += ", found ";
  message += TypeName(value);
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

std::unexpected<Error> NotAnObject(std::string_view key, const nlohmann::json& value) {
  std::string message(key);
  message += ": cannot be read from ";
  message += TypeName(value);
  message += ", only from an object";
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace peapod::json_detail
