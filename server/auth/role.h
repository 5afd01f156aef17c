// Role: what a bearer token allows. Roles are ordered; each one includes the
// ones below it:
//   reader  every read: Get*, List*, Search*, Query*, Watch*, Download*,
//           Reselect (computes, stores nothing) and the dashboard's API
//   writer  also every write of tracking data and jobs: Create*, Update*,
//           Log*, Set*, Upload*, Delete/Restore of runs, SubmitMatching, CancelJob
//   admin   also what changes the server for everybody: ImportLibrary and
//           deleting or restoring whole experiments
// (the method table is server/auth/method_roles.cc).
#pragma once

#include <optional>
#include <string_view>

namespace agnx::server {

enum class Role { kReader = 0, kWriter = 1, kAdmin = 2 };

// "reader", "writer" or "admin".
const char* role_name(Role role);

// The role called `name` (as role_name spells it); nullopt for any other text.
std::optional<Role> parse_role(std::string_view name);

// True when a holder of `held` may do what `needed` allows.
inline bool role_allows(Role held, Role needed) { return static_cast<int>(held) >= static_cast<int>(needed); }

}  // namespace agnx::server
