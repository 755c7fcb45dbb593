# Stand-in packages for the module tests, on top of eval.nix's (`base`): the ai-sysadmin package, nixpkgs'
# llama-cpp with the overrides module.nix uses (named and flagged like the real builds), and the case's nixpkgs
# `config`.
case: base:
let
  llamaCpp = flags:
    let
      suffix = if flags.cudaSupport or false then "-cuda" else if flags.rocmSupport or false then "-rocm" else "";
    in
    base.stubPackage "llama-cpp${suffix}" {
      # nixpkgs' llama-cpp tells its GPU support only through its CMake flags.
      cmakeFlags = [ "-DGGML_NATIVE:BOOL=FALSE" ]
        ++ (if flags.cudaSupport or false then [ "-DGGML_CUDA:BOOL=TRUE" ] else [ ])
        ++ (if flags.rocmSupport or false then [ "-DGGML_HIP:BOOL=TRUE" ] else [ ]);
      override = more: llamaCpp (flags // more);
    };
in
{
  ai-sysadmin = base.stubPackage "ai-sysadmin" { };
  # The configuration file's build step is named after whether it checks the model names, so a test sees that it does.
  runCommand = name: env: script:
    base.runCommand (name + (if builtins.length (builtins.split "ai-sysadmin models check" script) > 1 then "-names-checked" else "")) env script;
  postgresql = base.stubPackage "postgresql" { };
  llama-cpp = llamaCpp { };
  config = case.nixpkgsConfig or { };
}
