# Evaluates module.nix with nixpkgs' module system (lib.evalModules) and stand-ins for the NixOS options it
# sets and the packages it uses — NixOS itself is not on a CI machine, nixpkgs' lib may be. Prints what the
# tests check: failed assertions, warnings, the generated configuration and the units.
#
#   nix-instantiate --eval --strict --json Tests/Nix/eval-module.nix --arg lib /path/to/nixpkgs/lib --argstr case default
{ lib ? import <nixpkgs/lib>, case ? "default" }:
let
  lib' = if builtins.isPath lib || builtins.isString lib then import lib else lib;
  inherit (lib') mkOption types;

  fakeDerivation = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/0000000000000000000000000000000${toString (builtins.stringLength name)}-${name}";
  };
  llamaCpp = flags: fakeDerivation ("llama-cpp" + lib'.optionalString (flags.cudaSupport or false) "-cuda"
    + lib'.optionalString (flags.rocmSupport or false) "-rocm") // {
    override = more: llamaCpp (flags // more);
  };
  pkgs = {
    writeText = name: text: fakeDerivation name // { inherit text; };
    runCommand = name: env: script: fakeDerivation name // { inherit script; };
    llama-cpp = llamaCpp { };
    ai-sysadmin = fakeDerivation "ai-sysadmin";
    fetchurl = { url, hash }: fakeDerivation (baseNameOf url);
  };

  # The NixOS options module.nix sets, loosely typed: enough to merge and read them back.
  nixosStandIns = {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
      users.users = mkOption { type = types.attrsOf types.anything; default = { }; };
      users.groups = mkOption { type = types.attrsOf types.anything; default = { }; };
      environment.systemPackages = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      environment.etc = mkOption { type = types.attrsOf types.anything; default = { }; };
      systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
      systemd.services = mkOption { type = types.attrsOf types.anything; default = { }; };
      security.polkit.enable = mkOption { type = types.bool; default = false; };
      security.polkit.extraConfig = mkOption { type = types.lines; default = ""; };
      networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    };
  };

  cases = {
    default = { };
    cuda = { llamacpp.acceleration = "cuda"; };
    cpu = { llamacpp.acceleration = "cpu"; };
    modelsByPath = {
      llamacpp.triggerModel.model = "/srv/models/tiny.gguf";
      llamacpp.reviewModel.model = pkgs.fetchurl { url = "https://example.org/review.gguf"; hash = "sha256-AAAA"; };
      llamacpp.metaModel.model = /srv/models/meta.gguf;
    };
    named = { aiName = "macha"; };
    exposedModel = { llamacpp.metaModel.host = "0.0.0.0"; };
    exposedModelAllowed = { llamacpp.metaModel.host = "0.0.0.0"; llamacpp.metaModel.allowNonLoopback = true; };
    samePorts = { llamacpp.reviewModel.port = 40080; };
    authWithoutKey = { openaiApi.requireAuth = true; };
    authWithKeyFile = { openaiApi.requireAuth = true; openaiApi.apiKeyFile = "/run/secrets/api-keys"; openaiApi.host = "0.0.0.0"; openaiApi.openFirewall = true; };
    keyInStore = { openaiApi.apiKey = "sk-visible"; };
    openOnNetwork = { openaiApi.host = "0.0.0.0"; };
    noLlamaUnits = { llamacpp.enable = false; };
    noApi = { openaiApi.enable = false; llamacpp.reviewModel.enable = false; };
    ollama = { ollamaHost = "http://127.0.0.1:11434"; };
    autonomy = {
      autonomyLevel = "auto-safe";
      autonomy.protectedUnits = [ "postgresql.service" ];
      reviewInterval = 300;
      logFiles = [ "/var/log/app.log" ];
      notifications.gotify = { url = "https://gotify.example.org"; tokenFile = "/run/secrets/gotify-token"; };
      notifications.webhook.url = "https://hooks.example.org/ai";
    };
    observe = { autonomyLevel = "observe"; };
    noChat = { chat.enable = false; };
    chatRenamed = { openaiApi.agentModelId = "sysadmin"; chat.maxToolSteps = 2; };
    gotifyWithoutToken = { notifications.gotify.url = "https://gotify.example.org"; };
  };

  evaluated = lib'.evalModules {
    modules = [
      nixosStandIns
      ../../module.nix
      { config.services.ai-sysadmin = { enable = true; } // cases.${case}; }
    ];
    specialArgs = { inherit pkgs; };
  };
  config = evaluated.config;
  unit = service: {
    inherit (service) description;
    wantedBy = service.wantedBy or [ ];
    requires = service.requires or [ ];
    after = service.after or [ ];
    serviceConfig = lib'.mapAttrs (name: value:
      if builtins.isList value then map toString value
      else if builtins.isBool value || builtins.isInt value then value
      else toString value) service.serviceConfig;
  };
in
{
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  warnings = config.warnings;
  settings = config.services.ai-sysadmin.generatedSettings;
  units = lib'.mapAttrs (name: unit) config.systemd.services;
  firewall = config.networking.firewall.allowedTCPPorts;
  polkit = config.security.polkit.extraConfig;
  users = builtins.attrNames config.users.users;
  etc = lib'.mapAttrs (name: entry: toString entry.source) config.environment.etc;
}
