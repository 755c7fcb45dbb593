# ai-sysadmin and ai-sysadmin-api, built with nixpkgs' Swift (6.2 or newer) and SwiftPM. The SwiftPM
# dependencies are the revisions Package.resolved pins, fetched by fetchSwiftPMDeps; `scripts/nix-deps-hash`
# recomputes `swiftpmDeps.hash` from Package.resolved, and a test fails when the two disagree — bump both together.
# llama.cpp is not part of this package: the NixOS module runs nixpkgs' llama-cpp next to it.
{
  lib,
  stdenv,
  swift,
  swiftpm,
  fetchSwiftPMDeps,
  pkg-config,
  curl,
  systemd,
  sqlite,
  src ? lib.cleanSourceWith {
    # The repository without build directories (.build, .build-*) and editor state.
    filter = path: type: !(type == "directory" && lib.hasPrefix ".build" (baseNameOf path)) && baseNameOf path != ".swiftpm";
    src = lib.cleanSource ../.;
  },
}:

stdenv.mkDerivation (finalAttrs: {
  pname = "ai-sysadmin";
  version = "0.1.0";
  inherit src;

  swiftpmDeps = fetchSwiftPMDeps {
    inherit (finalAttrs) pname version src;
    hash = "sha256-piSqsXWHTPjnYDaajArb5pHHb/abR7EDK9/rSL2yOpI=";
  };

  strictDeps = true;
  __structuredAttrs = true;
  # swiftpm's setup hook builds in release mode and installs every executable product (ai-sysadmin, ai-sysadmin-api).
  nativeBuildInputs = [ swift swiftpm pkg-config ];
  # libcurl (the upstream client), libsystemd (sd_journal, sd-bus, sd_notify), SQLite (GRDB links the system's).
  buildInputs = [ curl systemd sqlite ];
  # The tests need a llama-server, a model and a D-Bus daemon; CI runs them (`.ci/run`), the sandbox cannot.
  doCheck = false;

  meta = {
    description = "An autonomous system administrator for Linux and NixOS hosts, on local llama.cpp models";
    platforms = lib.platforms.linux;
    mainProgram = "ai-sysadmin";
  };
})
