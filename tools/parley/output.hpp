#pragma once

// Output of `parley`: aligned tables and "FIELD  value" blocks for people,
// the API's messages as JSON for scripts (the proto3 JSON mapping with the
// proto field names; 64-bit integers are strings there).

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

namespace parley::cli {

/// Columns separated by two spaces, aligned on the widest cell; the last
/// column is not padded. Cells are made printable (see printable()).
class table {
public:
  explicit table(std::vector<std::string> headers);
  void add(std::vector<std::string> row);
  size_t rows() const noexcept { return rows_.size(); }
  void print(std::ostream& out) const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// "NAME   value" lines, names padded to the longest.
void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

/// One JSON document on stdout: indented when `pretty`, else one line.
void print_json(const google::protobuf::Message& m, bool pretty = true);

/// The message as one line of JSON.
std::string to_json_line(const google::protobuf::Message& m);

/// Control characters shown as escapes (\n, \t, \xNN), so that one value
/// stays on one line of a table.
std::string printable(const std::string& s);

/// Milliseconds since the epoch as "2024-05-01T12:00:00.123Z"; "-" for 0.
std::string format_time(int64_t ms);

/// An enum value's name without its prefix, lower case:
/// ("AGENT_STATUS_ACTIVE", "AGENT_STATUS_") -> "active".
std::string enum_label(const std::string& name, const std::string& prefix);

/// "round_robin" -> "ROUND_ROBIN".
std::string upper(std::string s);

/// "a, b, c"; "-" when empty.
template <class Range>
std::string joined(const Range& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty())
      out += ", ";
    out += i;
  }
  return out.empty() ? "-" : out;
}

inline std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

} // namespace parley::cli
