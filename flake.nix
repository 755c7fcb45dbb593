{
  description = "ai-sysadmin: an autonomous system administrator on local llama.cpp models (NixOS module)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }: {
    # services.ai-sysadmin. It needs `services.ai-sysadmin.package` (both executables): nixpkgs has no Swift 6
    # toolchain to build this package with yet, so build it with Swift 6.1+ (scripts/install --root) and wrap
    # the result, or use an overlay that provides pkgs.ai-sysadmin.
    nixosModules.default = import ./module.nix;
    nixosModules.ai-sysadmin = self.nixosModules.default;
  };
}
