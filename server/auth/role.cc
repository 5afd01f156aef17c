#include "server/auth/role.h"

namespace agnx::server {

const char* role_name(Role role) {
  switch (role) {
    case Role::kReader: return "reader";
    case Role::kWriter: return "writer";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view name) {
  for (const Role role : {Role::kReader, Role::kWriter, Role::kAdmin}) {
    if (name == role_name(role)) return role;
  }
  return std::nullopt;
}

}  // namespace agnx::server
