# Every dependency is a Debian bookworm package (scripts/setup installs them).
find_package(Threads REQUIRED)

# CAF 0.17 ships neither a CMake package nor a pkg-config file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
add_library(caf::core INTERFACE IMPORTED)
target_include_directories(caf::core SYSTEM INTERFACE ${CAF_INCLUDE_DIR})
target_link_libraries(caf::core INTERFACE ${CAF_CORE_LIBRARY} Threads::Threads)

find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
# HMAC-SHA256 of the bearer tokens (src/auth/token.cpp).
find_package(OpenSSL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
