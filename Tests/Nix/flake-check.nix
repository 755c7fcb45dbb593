# Evaluates flake.nix offline: its outputs with nixpkgs' lib and stand-ins for what nix/package.nix takes (no
# nixpkgs checkout, no build). The tests read what the flake exports, the package's pinned dependency hash, and run
# `nixosModules.default` through NixOS's own systemd machinery with `packageStandIns` as its packages.
#
#   nix-instantiate --eval --strict --json Tests/Nix/flake-check.nix -A summary
{ lib ? import ../../../shared/nix/nixpkgs-lib/lib }:
let
  flake = import ../../flake.nix;

  stub = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" name)}-${name}";
  } // extra;

  # What nix/package.nix takes from nixpkgs, as stand-ins: mkDerivation keeps its attributes, fetchSwiftPMDeps
  # its hash.
  packageStandIns = base: rec {
    inherit lib;
    callPackage = path: overrides:
      let f = import path; in f (builtins.intersectAttrs (builtins.functionArgs f) (base // packageStandIns base) // overrides);
    stdenv = {
      mkDerivation = f:
        let attrs = if builtins.isFunction f then f attrs else f;
        in stub "${attrs.pname}-${attrs.version}" attrs;
      hostPlatform.system = "x86_64-linux";
    };
    fetchSwiftPMDeps = args: stub "${args.pname}-${args.version}-swiftpm-deps" { inherit (args) hash; };
    swift = stub "swift" { };
    swiftpm = stub "swiftpm" { };
    pkg-config = stub "pkg-config" { };
    curl = stub "curl" { };
    systemd = stub "systemd" { };
    sqlite = stub "sqlite" { };
  };

  pkgs = packageStandIns { };
  nixpkgs = { inherit lib; legacyPackages = { x86_64-linux = pkgs; aarch64-linux = pkgs; }; };
  outputs = flake.outputs { self = outputs; inherit nixpkgs; };
  package = outputs.packages.x86_64-linux.default;
in
{
  inherit packageStandIns;
  nixosModule = outputs.nixosModules.default;
  summary = {
    packages = builtins.attrNames outputs.packages.x86_64-linux;
    package = {
      inherit (package) pname version nativeBuildInputs buildInputs;
      depsHash = package.swiftpmDeps.hash;
      mainProgram = package.meta.mainProgram;
    };
    overlay = builtins.attrNames (outputs.overlays.default pkgs pkgs);
    overlayPackage = (outputs.overlays.default pkgs pkgs).ai-sysadmin.name;
    nixosModules = builtins.attrNames outputs.nixosModules;
  };
}
