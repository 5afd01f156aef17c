// Which role each RPC needs: one table (method_roles.cc) for every method
// agnx-server serves, keyed by the method's full name
// ("/agnapprox.v1.Tracking/CreateRun"). server/auth/role.h says what each
// role is for. The standard health check needs no token, so that probes
// (agnx-health, load balancers) work without one; reflection needs a reader.
#pragma once

#include <optional>
#include <string_view>

#include "server/auth/role.h"

namespace agnx::server {

// The least role a call of `method` needs; nullopt for a method that is not
// in the table, which callers must refuse (so a method added to the API
// without a role is closed, not open).
std::optional<Role> required_role(std::string_view method);

// True for the methods anyone may call without a token: grpc.health.v1.Health's.
bool is_public_method(std::string_view method);

}  // namespace agnx::server
