#include "peapod/cni/result.h"

#include <nlohmann/json.hpp>

#include "peapod/json_field.h"

namespace peapod::cni {

namespace {

using nlohmann::json;

std::string StringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> StringList(const json& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

int FamilyOf(const std::string& address) { return address.find(':') != std::string::npos ? 6 : 4; }

Status ParseRoutes(const json& routes, std::vector<Route>& out) {
  if (!routes.is_array()) return Fail(ErrorCode::kInternal, "\"routes\" is not an array");
  for (const auto& r : routes) {
    if (!r.is_object()) return Fail(ErrorCode::kInternal, "a route is not an object");
    out.push_back(Route{StringField(r, "dst"), StringField(r, "gw")});
  }
  return Ok();
}

void ParseDns(const json& doc, DnsConfig& dns) {
  auto it = doc.find("dns");
  if (it == doc.end() || !it->is_object()) return;
  dns.nameservers = StringList(*it, "nameservers");
  dns.domain = StringField(*it, "domain");
  dns.search = StringList(*it, "search");
  dns.options = StringList(*it, "options");
}

// 0.3.0 and later: interfaces[], ips[] (with "version" before 1.0.0), routes[].
Status ParseCurrentShape(const json& doc, AddResult& result) {
  if (auto it = doc.find("interfaces"); it != doc.end()) {
    if (!it->is_array()) return Fail(ErrorCode::kInternal, "\"interfaces\" is not an array");
    for (const auto& i : *it) {
      if (!i.is_object()) return Fail(ErrorCode::kInternal, "an interface is not an object");
      Interface iface{StringField(i, "name"), StringField(i, "mac"), StringField(i, "sandbox"), 0};
      if (auto mtu = i.find("mtu"); mtu != i.end() && mtu->is_number_integer()) {
        iface.mtu = mtu->get<int>();
      }
      result.interfaces.push_back(std::move(iface));
    }
  }
  if (auto it = doc.find("ips"); it != doc.end()) {
    if (!it->is_array()) return Fail(ErrorCode::kInternal, "\"ips\" is not an array");
    for (const auto& ip : *it) {
      if (!ip.is_object()) return Fail(ErrorCode::kInternal, "an ip is not an object");
      IpAddress addr;
      addr.address = StringField(ip, "address");
      if (addr.address.empty()) return Fail(ErrorCode::kInternal, "an ip has no \"address\"");
      addr.gateway = StringField(ip, "gateway");
      std::string version = StringField(ip, "version");
      addr.family = version == "6" ? 6 : version == "4" ? 4 : FamilyOf(addr.address);
      if (auto idx = ip.find("interface"); idx != ip.end() && idx->is_number_integer()) {
        addr.interface = idx->get<int>();
        if (addr.interface < 0 || addr.interface >= static_cast<int>(result.interfaces.size())) {
          return Fail(ErrorCode::kInternal, "ip " + addr.address + " names interface " +
                                                std::to_string(addr.interface) +
                                                " that is not listed");
        }
      }
      result.ips.push_back(std::move(addr));
    }
  }
  if (auto it = doc.find("routes"); it != doc.end()) {
    if (auto st = ParseRoutes(*it, result.routes); !st) return st;
  }
  return Ok();
}

// 0.1.0/0.2.0: {"ip4": {"ip", "gateway", "routes"}, "ip6": {...}}.
Status ParseLegacyShape(const json& doc, AddResult& result) {
  for (const auto& [key, family] : {std::pair{"ip4", 4}, std::pair{"ip6", 6}}) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_object()) return Fail(ErrorCode::kInternal, std::string(key) + " is not an object");
    IpAddress addr{StringField(*it, "ip"), family, StringField(*it, "gateway"), -1};
    if (addr.address.empty())
      return Fail(ErrorCode::kInternal, std::string(key) + " has no \"ip\"");
    result.ips.push_back(std::move(addr));
    if (auto routes = it->find("routes"); routes != it->end()) {
      if (auto st = ParseRoutes(*routes, result.routes); !st) return st;
    }
  }
  return Ok();
}

}  // namespace

Result<AddResult> ParseAddResult(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Fail(ErrorCode::kInternal, "result is not a JSON object");
  }
  AddResult result;
  result.cni_version = StringField(doc, "cniVersion");
  result.raw_json = std::string(text);
  bool legacy = result.cni_version == "0.1.0" || result.cni_version == "0.2.0" ||
                doc.contains("ip4") || doc.contains("ip6");
  Status st = legacy ? ParseLegacyShape(doc, result) : ParseCurrentShape(doc, result);
  if (!st) return std::unexpected(st.error());
  ParseDns(doc, result.dns);
  return result;
}

std::optional<PluginError> ParsePluginError(std::string_view output) {
  json doc = json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  // The plugin's output is untrusted: a code beyond int is no error code.
  auto code = RequiredJsonField<int>(doc, "code");
  if (!code) return std::nullopt;
  return PluginError{*code, StringField(doc, "msg"), StringField(doc, "details")};
}

}  // namespace peapod::cni
