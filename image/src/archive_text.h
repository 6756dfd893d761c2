// libarchive's strings, made safe to put into a std::string: archive_error_string() is null when
// a reader failed without saying why (a hostile archive can arrange that), and constructing a
// std::string from a null pointer is undefined behaviour (a crash in strlen).
#pragma once

#include <archive.h>

#include <string>
#include <string_view>

namespace peapod::image {

inline std::string ArchiveErrorText(archive* a,
                                    std::string_view fallback = "unknown archive error") {
  const char* text = a ? archive_error_string(a) : nullptr;
  return text && *text ? std::string(text) : std::string(fallback);
}

}  // namespace peapod::image
