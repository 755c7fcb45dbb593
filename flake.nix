{
  description = "ai-sysadmin: an autonomous system administrator on local llama.cpp models";

  # Swift 6.2 or newer is needed to build the package (nixos-unstable has it).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forEachSystem = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forEachSystem (pkgs: rec {
        ai-sysadmin = pkgs.callPackage ./nix/package.nix { };
        default = ai-sysadmin;
      });

      overlays.default = final: prev: { ai-sysadmin = final.callPackage ./nix/package.nix { }; };

      # services.ai-sysadmin, its package built with the system's own nixpkgs unless `package` is set.
      nixosModules.default = { lib, pkgs, ... }: {
        imports = [ ./module.nix ];
        services.ai-sysadmin.package = lib.mkDefault (pkgs.callPackage ./nix/package.nix { });
      };
      nixosModules.ai-sysadmin = self.nixosModules.default;
    };
}
