# The NixOS configurations the module tests evaluate, by name. Each is evaluated by NixOS's own systemd machinery
# (../shared/nix/nixos-systemd/eval.nix) with the stand-in packages of ./pkgs.nix; `nixpkgsConfig` is what that
# case's nixpkgs `config` holds (cudaSupport, allowUnfree).
let
  case = services: { module = { pkgs, ... }: { services.ai-sysadmin = { enable = true; } // services pkgs; }; };
  plain = services: case (_: services);
  # nixpkgs' services.postgresql, which this evaluation does not have: the two options the module reads.
  postgresqlStandIn = { lib, pkgs, ... }: {
    options.services.postgresql = {
      enable = lib.mkOption { type = lib.types.bool; default = false; };
      # As in nixpkgs: no default, defined by its module once enabled (here by the case).
      package = lib.mkOption { type = lib.types.package; };
      settings = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
    };
  };
in
{
  default = plain { };
  cuda = plain { llamacpp.acceleration = "cuda"; } // { nixpkgsConfig.allowUnfree = true; };
  cudaWithoutUnfree = plain { llamacpp.acceleration = "cuda"; };
  cpu = plain { llamacpp.acceleration = "cpu"; };
  # A GPU build chosen otherwise than by `acceleration`: a package, or nixpkgs' own config.
  gpuPackage = case (pkgs: { llamacpp.package = pkgs.llama-cpp.override { cudaSupport = true; }; });
  nixpkgsCuda = plain { } // { nixpkgsConfig.cudaSupport = true; };
  modelsByPath = case (pkgs: {
    llamacpp.triggerModel.model = "/srv/models/tiny.gguf";
    llamacpp.reviewModel.model = pkgs.fetchurl { url = "https://example.org/review.gguf"; hash = "sha256-AAAA"; };
    llamacpp.metaModel.model = /srv/models/meta.gguf;
  });
  # The same layer's model given twice: a name in one place, a path in another.
  twoModels = {
    module = {
      imports = [
        { services.ai-sysadmin = { enable = true; llamacpp.metaModel.model = "qwen3:14b"; }; }
        { services.ai-sysadmin.llamacpp.metaModel.model = "/srv/models/meta.gguf"; }
      ];
    };
  };
  named = plain { aiName = "macha"; };
  # A name the catalog does not have: nothing would download it, and its unit would wait for ever.
  unknownModelName = plain { llamacpp.metaModel.model = "qwen3:32b"; };
  exposedModel = plain { llamacpp.metaModel.host = "0.0.0.0"; };
  exposedModelAllowed = plain { llamacpp.metaModel.host = "0.0.0.0"; llamacpp.metaModel.allowNonLoopback = true; };
  samePorts = plain { llamacpp.reviewModel.port = 40080; };
  authWithoutKey = plain { openaiApi.requireAuth = true; };
  authWithKeyFile = plain {
    openaiApi = { requireAuth = true; apiKeyFile = "/run/secrets/api-keys"; host = "0.0.0.0"; openFirewall = true; };
  };
  # A path literal, as people write them: it must stay a path on the host, never be copied into the store.
  keyFileAsPathLiteral = plain { openaiApi.apiKeyFile = /run/secrets/api-keys; logFiles = [ /var/log/app.log ]; };
  operatorKeys = plain { openaiApi.operatorKeyFile = "/run/secrets/operator-keys"; };
  keyInStore = plain { openaiApi.apiKey = "sk-visible"; };
  openOnNetwork = plain { openaiApi.host = "0.0.0.0"; };
  noLlamaUnits = plain { llamacpp.enable = false; llamacpp.acceleration = "cuda"; };
  # Remote model servers: other hosts, the same port on two of them, IPv6.
  remoteModels = plain {
    llamacpp = {
      enable = false;
      triggerModel = { host = "10.0.0.5"; port = 8080; };
      reviewModel = { host = "10.0.0.6"; port = 8080; };
      metaModel = { host = "fd00::7"; port = 8080; };
    };
  };
  ipv6Loopback = plain { llamacpp.metaModel.host = "::1"; llamacpp.reviewModel.host = "127.0.0.2"; };
  noApi = plain { openaiApi.enable = false; llamacpp.reviewModel.enable = false; };
  ollama = plain { ollamaHost = "http://127.0.0.1:11434"; };
  autonomy = plain {
    autonomyLevel = "auto-safe";
    autonomy.protectedUnits = [ "postgresql.service" ];
    reviewInterval = 300;
    logFiles = [ "/var/log/app.log" ];
    notifications.gotify = { url = "https://gotify.example.org"; tokenFile = "/run/secrets/gotify-token"; };
    notifications.webhook.url = "https://hooks.example.org/ai";
  };
  observe = plain { autonomyLevel = "observe"; };
  judgment = plain {
    signatures = { auth-failure.enable = false; time-jump = { severity = "error"; escalate = true; }; };
    errorRate = { windowSeconds = 120; minimumBurst = 20; };
  };
  unknownSignature = plain { signatures.no-such-signature.enable = false; };
  noChat = plain { chat.enable = false; };
  chatRenamed = plain { openaiApi.agentModelId = "sysadmin"; chat.maxToolSteps = 2; };
  fleetHost = plain { store.postgresql = { url = "postgresql://ais_host_web1@db.example:5432/aisysadmin"; passwordFile = "/run/secrets/fleet-password"; shareVerdicts = false; }; };
  fleetWithoutPassword = plain { store.postgresql.url = "postgresql://ais_host_web1@db.example/aisysadmin"; };
  doors = plain { console.enable = true; mcp.enable = true; };
  doorsExposed = plain { console.enable = true; mcp.enable = true; openaiApi.host = "0.0.0.0"; };
  doorsExposedWithKeys = plain {
    console.enable = true; mcp.enable = true;
    openaiApi = { host = "0.0.0.0"; requireAuth = true; apiKeyFile = "/run/secrets/api-keys"; operatorKeyFile = "/run/secrets/operator-keys"; };
  };
  consoleWithoutApi = plain { console.enable = true; openaiApi.enable = false; };
  gotifyWithoutToken = plain { notifications.gotify.url = "https://gotify.example.org"; };
  # README, "Many hosts": a client host keeps its trigger and review models and thinks with the central host's meta
  # model, reached through its gateway with a client key; and the central host itself.
  fleetClient = plain {
    llamacpp.metaModel = { url = "https://gpu.example.org"; apiKeyFile = "/run/secrets/fleet-api-key"; modelId = "ai-sysadmin-meta"; };
    store.postgresql = { url = "postgresql://ais_host_web1@gpu.example.org/aisysadmin"; passwordFile = "/run/secrets/fleet-password"; };
  };
  fleetClientInClear = plain { llamacpp.metaModel.url = "http://10.0.0.7:40083"; };
  # Loopback in every spelling: no warning.
  remoteOnLoopback = plain {
    llamacpp.metaModel.url = "http://[::1]:40090"; llamacpp.reviewModel.url = "http://localhost:40091/v1"; llamacpp.triggerModel.url = "http://127.0.0.1:40092";
  };
  remoteKeyWithoutUrl = plain { llamacpp.metaModel.apiKeyFile = "/run/secrets/fleet-api-key"; };
  fleetCentral = {
    module = { pkgs, ... }: {
      imports = [ postgresqlStandIn ];
      services.postgresql = { enable = true; package = pkgs.postgresql; settings.port = 5433; };
      services.ai-sysadmin = {
        enable = true;
        llamacpp.acceleration = "cuda";
        llamacpp.metaModel = { host = "127.0.0.1"; model = "/srv/models/Qwen3-32B-Q4_K_M.gguf"; extraArgs = [ "--parallel" "4" ]; };
        openaiApi = { host = "0.0.0.0"; openFirewall = true; requireAuth = true; apiKeyFile = "/run/secrets/fleet-api-keys"; };
        fleet.database = { enable = true; hosts = [ "gpu" "web1" "web2" ]; operators = [ "alice" ]; };
        store.postgresql = { url = "postgresql://ais_host_gpu@localhost/aisysadmin?sslmode=disable"; passwordFile = "/run/secrets/fleet-password"; };
      };
    };
    nixpkgsConfig.allowUnfree = true;
  };
  fleetDatabaseWithoutPostgresql = plain { fleet.database.enable = true; };
  fleetOperatorNamedLikeAHost = {
    module = { pkgs, ... }: { imports = [ postgresqlStandIn ]; services.postgresql = { enable = true; package = pkgs.postgresql; };
               services.ai-sysadmin = { enable = true; fleet.database = { enable = true; operators = [ "ais_host_web1" ]; }; }; };
  };
}
