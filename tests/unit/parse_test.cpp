// The shared parsers of untrusted numbers (peapod/parse.h), the typed JSON accessor
// (peapod/json_field.h) and the catch boundary (peapod/catch_boundary.h): each with the input that
// used to reach a throwing conversion.
#include "peapod/parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "peapod/catch_boundary.h"
#include "peapod/json_field.h"

namespace peapod {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

TEST(ParseUnsigned, TakesDigitsOnlyAndRefusesOverflow) {
  EXPECT_EQ(ParseUnsigned("0"), 0u);
  EXPECT_EQ(ParseUnsigned("007"), 7u);
  EXPECT_EQ(ParseUnsigned("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseUnsigned("18446744073709551616"));
  EXPECT_FALSE(ParseUnsigned("99999999999999999999"));
  EXPECT_EQ(ParseUnsigned("255", 255), 255u);
  EXPECT_FALSE(ParseUnsigned("256", 255));
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "1a", "0x10", "1e3", "1.0", "\t7", "١"}) {
    EXPECT_FALSE(ParseUnsigned(bad)) << '"' << bad << '"';
  }
}

TEST(ParseSigned, CoversTheWholeInt64RangeAndNoMore) {
  EXPECT_EQ(ParseSigned("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(ParseSigned("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseSigned("+5"), 5);
  EXPECT_EQ(ParseSigned("-0"), 0);
  EXPECT_FALSE(ParseSigned("9223372036854775808"));
  EXPECT_FALSE(ParseSigned("-9223372036854775809"));
  for (const char* bad : {"", "-", "+", "--1", "+-1", " 1", "1 "}) {
    EXPECT_FALSE(ParseSigned(bad)) << '"' << bad << '"';
  }
}

TEST(ParseUid, AcceptsEveryUidTheKernelCanSetAndNamesWhatItRefuses) {
  EXPECT_EQ(ParseUid("0").value(), 0u);
  EXPECT_EQ(ParseUid("65534").value(), 65534u);
  EXPECT_EQ(ParseUid("4294967294").value(), 4294967294u);
  EXPECT_EQ(ParseGid("100").value(), 100u);
  // (uid_t)-1 means "leave unchanged" to setresuid: never a user.
  EXPECT_FALSE(ParseUid("4294967295"));
  // The image USER of the issue: std::stoll threw out_of_range on it and ended the agent.
  auto huge = ParseUid("99999999999999999999");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(huge.error().message.find("\"99999999999999999999\" is not a uid"), std::string::npos)
      << huge.error().message;
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "nobody", "1:1", "0x1"}) {
    EXPECT_FALSE(ParseUid(bad)) << '"' << bad << '"';
    EXPECT_FALSE(ParseGid(bad)) << '"' << bad << '"';
  }
}

TEST(ParseUid, QuotesLongJunkOnlyInPart) {
  std::string junk(10000, '9');
  auto r = ParseUid(junk);
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message.size(), 200u);
}

TEST(ParsePort, IsOneTo65535AndZeroOnlyWhereAsked) {
  EXPECT_EQ(ParsePort("1").value(), 1);
  EXPECT_EQ(ParsePort("65535").value(), 65535);
  EXPECT_FALSE(ParsePort("0"));
  EXPECT_EQ(ParsePort("0", /*allow_zero=*/true).value(), 0);
  for (const char* bad : {"65536", "99999999999999999999", "-1", "", "80 ", " 80", "80a", "http"}) {
    EXPECT_FALSE(ParsePort(bad)) << '"' << bad << '"';
    EXPECT_FALSE(ParsePort(bad, true)) << '"' << bad << '"';
  }
  EXPECT_NE(ParsePort("65536").error().message.find("1 to 65535"), std::string::npos);
}

TEST(ParseQuantity, ReadsKubernetesQuantitiesInBothScales) {
  EXPECT_EQ(ParseQuantity("128Mi").value(), 134217728);
  EXPECT_EQ(ParseQuantity("1G").value(), 1000000000);
  EXPECT_EQ(ParseQuantity("1e3").value(), 1000);
  EXPECT_EQ(ParseQuantity("100m").value(), 1);  // a tenth of a byte rounds up
  EXPECT_EQ(ParseQuantity("100m", QuantityScale::kMilli).value(), 100);
  EXPECT_EQ(ParseQuantity("0.5", QuantityScale::kMilli).value(), 500);
  EXPECT_EQ(ParseQuantity("-2").value(), -2);
  EXPECT_EQ(ParseQuantity("7Ei").value(), int64_t{7} << 60);
  // The limits of int64: 8Ei is 2^63, one more than fits.
  EXPECT_FALSE(ParseQuantity("8Ei"));
  EXPECT_FALSE(ParseQuantity("9223372036854775808"));
  EXPECT_EQ(ParseQuantity("9223372036854775807").value(), INT64_MAX);
  EXPECT_FALSE(ParseQuantity("9223372036854775807", QuantityScale::kMilli));
  EXPECT_FALSE(ParseQuantity("1e999"));
  EXPECT_FALSE(ParseQuantity(std::string(100, '9')));
  for (const char* bad : {"", " 1", "1 ", "1Gi ", "1 Gi", "Gi", "1g", "1e", "1e+", "1e1234", "0x10",
                          "1..2", "--1", "1Gi1", "\n1"}) {
    EXPECT_FALSE(ParseQuantity(bad)) << '"' << bad << '"';
  }
  EXPECT_NE(ParseQuantity("1x").error().message.find("\"1x\" is not a quantity"),
            std::string::npos);
}

TEST(ParseDuration, ReadsUnitsSequencesAndBareSeconds) {
  EXPECT_EQ(ParseDuration("250ms").value(), milliseconds(250));
  EXPECT_EQ(ParseDuration("10s").value(), milliseconds(10000));
  EXPECT_EQ(ParseDuration("5m").value(), milliseconds(300000));
  EXPECT_EQ(ParseDuration("1h30m").value(), milliseconds(5400000));
  EXPECT_EQ(ParseDuration("1m500ms").value(), milliseconds(60500));
  EXPECT_EQ(ParseDuration("30").value(), milliseconds(30000));
  EXPECT_EQ(ParseDuration("0s").value(), milliseconds(0));
  EXPECT_TRUE(ParseDuration("2562047788015h"));
  EXPECT_FALSE(ParseDuration("2562047788016h"));  // past INT64_MAX milliseconds
  EXPECT_FALSE(ParseDuration("2562047788015h1h"));
  EXPECT_FALSE(ParseDuration("99999999999999999999s"));
  EXPECT_FALSE(ParseDuration("9223372036854775807"));  // seconds: overflows in milliseconds
  for (const char* bad :
       {"", "s", "-1s", "+1s", "1.5s", "1d", "1 s", " 1s", "1s ", "10x", "1h30", "ms", "1sms"}) {
    EXPECT_FALSE(ParseDuration(bad)) << '"' << bad << '"';
  }
  EXPECT_NE(ParseDuration("1d").error().message.find("\"1d\" is not a duration"),
            std::string::npos);
}

TEST(JsonField, ReturnsAnErrorNamingTheFieldForTheWrongType) {
  json j = json::parse(R"({"id": 1, "name": "x", "n": -3, "big": 99999999999, "ok": true,
                           "tags": ["a", 2], "labels": {"k": "v"}, "none": null})");
  auto id = JsonField<std::string>(j, "id", "");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(id.error().message, "id: expected a string, found an integer");
  EXPECT_EQ(JsonField<std::string>(j, "name", "").value(), "x");
  EXPECT_EQ(JsonField<std::string>(j, "missing", "dflt").value(), "dflt");
  EXPECT_EQ(JsonField<std::string>(j, "none", "dflt").value(), "dflt");
  EXPECT_EQ(JsonField<int64_t>(j, "n", 0).value(), -3);
  EXPECT_FALSE(JsonField<uint64_t>(j, "n", 0));
  EXPECT_FALSE(JsonField<int32_t>(j, "big", 0));
  EXPECT_EQ(JsonField<int64_t>(j, "big", 0).value(), 99999999999);
  EXPECT_FALSE(JsonField<uint16_t>(json{{"Width", 70000}}, "Width", 0));
  EXPECT_FALSE(JsonField<int64_t>(json{{"x", 1.5}}, "x", 0));
  EXPECT_TRUE(JsonField<bool>(j, "ok", false).value());
  EXPECT_FALSE(JsonField<bool>(j, "name", false));
  EXPECT_FALSE(JsonField<std::vector<std::string>>(j, "tags", {}));
  EXPECT_EQ((JsonField<std::map<std::string, std::string>>(j, "labels", {}).value().at("k")), "v");
  EXPECT_FALSE(RequiredJsonField<std::string>(j, "missing"));
  EXPECT_FALSE(RequiredJsonField<std::string>(j, "none"));
  // Not an object at all: an error, not nlohmann's type_error.
  EXPECT_FALSE(JsonField<std::string>(json::array(), "id", ""));
  EXPECT_FALSE(JsonField<std::string>(json("text"), "id", ""));
}

TEST(JsonFields, KeepsTheFirstErrorWithItsContext) {
  json j = json::parse(R"({"a": "x", "b": 1, "c": "late"})");
  JsonFields f(j, "record r");
  EXPECT_EQ(f.Get<std::string>("a", ""), "x");
  EXPECT_EQ(f.Get<std::string>("b", "fallback"), "fallback");
  EXPECT_EQ(f.Get<std::string>("c", "after"), "after");  // nothing more is read after an error
  auto st = f.Status();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "record r: b: expected a string, found an integer");
  JsonFields good(j, "record");
  (void)good.Required<std::string>("a");
  EXPECT_TRUE(good.Status());
}

TEST(CatchAll, TurnsAnEscapingExceptionIntoAnInternalError) {
  auto thrown = CatchAll("pod p: sync", [] { throw std::out_of_range("stoll"); });
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code, ErrorCode::kInternal);
  EXPECT_EQ(thrown.error().message, "pod p: sync: unexpected exception: stoll");
  auto odd = CatchAll("x", [] { throw 42; });
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("not a std::exception"), std::string::npos);
  EXPECT_TRUE(CatchAll("x", [] {}));
  auto passed = CatchAll("x", []() -> Status { return Fail(ErrorCode::kUnavailable, "later"); });
  ASSERT_FALSE(passed);
  EXPECT_EQ(passed.error().code, ErrorCode::kUnavailable);
}

TEST(CatchAll, AThreadThatThrowsEndsAloneInsteadOfEndingTheProcess) {
  bool after = false;
  std::thread t = StartGuardedThread("worker", [&] {
    after = true;
    throw std::runtime_error("boom");
  });
  t.join();  // without the boundary, std::terminate would have ended this test binary
  EXPECT_TRUE(after);
}

}  // namespace
}  // namespace peapod
