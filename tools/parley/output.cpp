#include "output.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <google/protobuf/util/json_util.h>

namespace parley::cli {

namespace {

// Display width, counting each UTF-8 sequence as one column (good enough
// for names and messages; wide CJK glyphs are off by one each).
size_t width(const std::string& s) {
  return static_cast<size_t>(
    std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void pad(std::ostream& out, const std::string& cell, size_t w) {
  out << cell;
  for (size_t n = width(cell); n < w; ++n)
    out << ' ';
}

std::string json_of(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions opt;
  opt.add_whitespace = pretty;
  opt.always_print_primitive_fields = true;
  opt.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opt).ok())
    return "{}"; // only for messages that are not valid UTF-8; the API sends none
  if (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

} // namespace

table::table(std::vector<std::string> headers) : headers_(std::move(headers)) {
}

void table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  for (auto& cell : row)
    cell = printable(cell);
  rows_.push_back(std::move(row));
}

void table::print(std::ostream& out) const {
  std::vector<size_t> w(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) {
    w[i] = width(headers_[i]);
    for (auto& r : rows_)
      w[i] = std::max(w[i], width(r[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i + 1 == cells.size()) {
        out << cells[i];
      } else {
        pad(out, cells[i], w[i]);
        out << "  ";
      }
    }
    out << '\n';
  };
  line(headers_);
  for (auto& r : rows_)
    line(r);
}

void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t w = 0;
  for (auto& [name, value] : fields)
    w = std::max(w, width(name));
  for (auto& [name, value] : fields) {
    pad(out, name, w);
    out << "  " << printable(value) << '\n';
  }
}

void print_json(const google::protobuf::Message& m, bool pretty) {
  std::cout << json_of(m, pretty) << '\n';
}

std::string to_json_line(const google::protobuf::Message& m) {
  return json_of(m, false);
}

std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_time(int64_t ms) {
  if (ms <= 0)
    return "-";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string enum_label(const std::string& name, const std::string& prefix) {
  std::string out = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out.empty() ? "-" : out;
}

} // namespace parley::cli
