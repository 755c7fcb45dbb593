# NixOS module for ai-sysadmin: services.ai-sysadmin.
#
# Units, as the deployment contract says:
#   ai-sysadmin-keys      oneshot: the per-boot key the model servers require (a 0600 file, root only),
#                         handed to the other units with LoadCredential
#   ai-sysadmin-models    `ai-sysadmin models pull` for every model given by name, in the background (skipped when
#                         none): `nixos-rebuild switch` does not wait for gigabytes of downloads
#   llama-trigger, llama-review, llama-meta
#                         `ai-sysadmin serve-model LAYER --wait-for-model`, which waits for its model file (the
#                         unit's status shows the download's progress) and becomes llama-server with the daemon's
#                         own command line (--host --port --model --ctx-size --n-gpu-layers ...); Restart=always
#   ai-sysadmin-api       the OpenAI-compatible gateway; after and wanting llama-meta
#   ${aiName}-ai          the daemon (Type=notify, WatchdogSec); after and wanting the model units. Wants=, not
#                         Requires=: the daemon restarts a hung model unit over D-Bus, and Requires= would restart
#                         the daemon (and the gateway) with it.
#   ai-sysadmin-fleet-database
#                         on a fleet's central host (fleet.database.enable): applies the fleet's schema and a role per
#                         host and operator to this host's PostgreSQL, idempotently, at every start
#
# A layer with a `url` (or every layer, with llamacpp.enable = false) is served elsewhere: no unit, no download; its
# own key goes to the daemon as a credential of its own.
#
# Every unit reads one generated configuration file, checked at build time with `ai-sysadmin config check`.
{ config, lib, pkgs, ... }:

let
  inherit (lib)
    mkOption mkEnableOption mkIf mkMerge mkRemovedOptionModule types literalExpression
    optional optionals optionalAttrs optionalString filter attrNames concatMap concatStringsSep
    listToAttrs nameValuePair unique length mapAttrs filterAttrs concatMapStrings;

  cfg = config.services.ai-sysadmin;
  llama = cfg.llamacpp;

  # The three layers: their option names under llamacpp and the request's defaults.
  layers = {
    trigger = { option = "triggerModel"; port = 40080; model = "qwen3:1b"; contextSize = 8192; };
    review = { option = "reviewModel"; port = 40081; model = "qwen3:4b"; contextSize = 32768; };
    meta = { option = "metaModel"; port = 40082; model = "qwen3:14b"; contextSize = 131072; };
  };
  # Smallest first: the trigger model is downloaded (and so starts) soonest.
  layerNames = [ "trigger" "review" "meta" ];
  server = name: llama.${layers.${name}.option};
  enabledLayers = filter (name: (server name).enable) layerNames;
  # A layer is served elsewhere when the units are off or it names a `url` (a fleet's client host thinks with the
  # central host's meta model); the others run here, as units.
  isRemote = name: !llama.enable || (server name).url != null;
  localLayers = filter (name: !isRemote name) enabledLayers;
  # Remote layers' keys: a credential each, handed to the daemon with --LAYER-key-file (never the per-boot key).
  remoteKeyLayers = filter (name: isRemote name && (server name).apiKeyFile != null) enabledLayers;
  remoteKeyCredential = name: "${name}-model-key";

  # Whether a llama.cpp build uses a GPU: nixpkgs' llama-cpp says so only in its CMake flags.
  usesGpu = package: lib.any (flag: builtins.elem flag [ "-DGGML_CUDA:BOOL=TRUE" "-DGGML_HIP:BOOL=TRUE" "-DGGML_VULKAN:BOOL=TRUE" ])
    (package.cmakeFlags or [ ]);
  # GPU access (devices, groups, offloaded layers) follows the build that actually runs: `acceleration`, a GPU
  # `llamacpp.package`, or nixpkgs' own config.cudaSupport / config.rocmSupport when neither is given.
  gpu =
    if llama.package != null then usesGpu llama.package
    else if llama.acceleration != null then llama.acceleration == "cuda" || llama.acceleration == "rocm"
    else (pkgs.config.cudaSupport or false) || (pkgs.config.rocmSupport or false);

  # The llama.cpp build that matches `acceleration`; `null` leaves nixpkgs' defaults (config.cudaSupport, ...).
  llamaPackage =
    if llama.package != null then llama.package
    else if llama.acceleration == "cuda" then pkgs.llama-cpp.override { cudaSupport = true; rocmSupport = false; }
    else if llama.acceleration == "rocm" then pkgs.llama-cpp.override { rocmSupport = true; cudaSupport = false; }
    else if llama.acceleration == "cpu" then pkgs.llama-cpp.override { cudaSupport = false; rocmSupport = false; }
    else pkgs.llama-cpp;

  # The daemon's rule (ModelReference.resolve): anything with a "/" — a path, a store path, a fetchurl
  # derivation — is used as it is; a name such as "qwen3:14b" is <modelDirectory>/qwen3-14b.gguf.
  isModelName = model: !(lib.isDerivation model || builtins.isPath model || lib.hasInfix "/" (toString model));
  modelFile = model:
    let text = toString model; in
    if isModelName model
    then "${toString cfg.modelDirectory}/${lib.replaceStrings [ ":" ] [ "-" ] text}${optionalString (!lib.hasSuffix ".gguf" text) ".gguf"}"
    else text;
  namedModels = unique (map (name: toString (server name).model) (filter (name: isModelName (server name).model) localLayers));

  # The daemon's rule (ConfigurationValidator.isLoopback): localhost, ::1, and all of 127.0.0.0/8.
  isLoopback = host: host == "localhost" || host == "::1" || host == "[::1]" || lib.hasPrefix "127." host;
  # An IPv6 address in a URL needs brackets.
  urlHost = host: if lib.hasInfix ":" host && !(lib.hasPrefix "[" host) then "[${host}]" else host;
  # A URL's host, without brackets or port: http://[::1]:8080/v1 → ::1.
  urlHostOf = url:
    let authority = lib.head (lib.splitString "/" (lib.last (lib.splitString "://" url))); in
    if lib.hasPrefix "[" authority then lib.head (lib.splitString "]" (lib.removePrefix "[" authority))
    else lib.head (lib.splitString ":" authority);
  # Where a remote layer is: its `url`, or host:port when the units are off.
  remoteURL = name: let s = server name; in if s.url != null then s.url else "http://${urlHost s.host}:${toString s.port}";

  # The unit policy the executor enforces (compiled into the binary from the same file): services only, never a
  # protected one. The polkit rule below is generated from it with the executor's own template, so polkit allows
  # the daemon's user exactly what the executor may do. The daemon's own unit is protected by name.
  unitPolicy = lib.importJSON ./Sources/Autonomy/Policy/unit-policy.json;
  protectedUnits = unique (unitPolicy.protectedUnits ++ cfg.autonomy.protectedUnits ++ [ "${cfg.aiName}-ai.service" ]);
  polkitRule = lib.replaceStrings [ "@POLICY@" ] [
    (builtins.toJSON {
      user = "ai-sysadmin";
      executor = cfg.autonomyLevel != "observe";
      verbs = unitPolicy.verbs;
      inherit (unitPolicy) actionableUnitTypes modelUnits;
      inherit protectedUnits;
    })
  ] (builtins.readFile ./Sources/Autonomy/Policy/polkit-rule.js);
  # The central host's PostgreSQL (nixpkgs' services.postgresql) runs the fleet's schema.
  # Read only with services.postgresql enabled (an assertion says so otherwise): nixpkgs defines its package then.
  postgresql = config.services.postgresql or { };
  postgresqlPackage = if postgresql.enable or false then postgresql.finalPackage or postgresql.package else pkgs.postgresql;
  gotifyCredential = "/run/credentials/${cfg.aiName}-ai.service/gotify-token";
  fleetCredential = "/run/credentials/${cfg.aiName}-ai.service/fleet-password";

  # A model is one thing: a name, a path, or a derivation. Two definitions (a name here, a path there) get an
  # error that says what to do instead of a type error.
  modelType = lib.mkOptionType {
    name = "ai-sysadmin-model";
    description = "a model name (qwen3:14b), a path to a .gguf file, or a derivation producing one";
    check = value: builtins.isString value || builtins.isPath value || lib.isDerivation value;
    merge = loc: defs:
      let values = lib.unique (map (def: toString def.value) defs); in
      if length values == 1 then (lib.head defs).value
      else throw ''
        The option `${lib.showOption loc}' is set to more than one model: ${concatStringsSep ", " (map (def:
          toString def.value + optionalString (def.file != "<unknown-file>") " (in ${def.file})") defs)}.
        A layer runs one model: keep one definition, a name from `ai-sysadmin models list` (such as "qwen3:14b")
        or a path to a .gguf file, or use lib.mkForce on the one that should win.'';
  };

  modelServerOptions = name: defaults: {
    enable = mkEnableOption "the ${name} model server" // { default = true; };
    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
      description = "Address llama-server listens on. Anything but loopback needs `allowNonLoopback`.";
    };
    port = mkOption { type = types.port; default = defaults.port; description = "Port of the ${name} model server."; };
    model = mkOption {
      type = modelType;
      default = defaults.model;
      example = literalExpression ''pkgs.fetchurl { url = "https://.../model.gguf"; hash = "sha256-..."; }'';
      description = ''
        A GGUF file: a path or a derivation producing one (such as `pkgs.fetchurl`), or a name from
        `ai-sysadmin models list` resolved under `modelDirectory` (`qwen3:14b` → `qwen3-14b.gguf`) and
        downloaded before the model units start.
      '';
    };
    contextSize = mkOption { type = types.ints.positive; default = defaults.contextSize; description = "llama-server --ctx-size."; };
    gpuLayers = mkOption {
      type = types.ints.unsigned;
      default = if gpu then 999 else 0;
      defaultText = literalExpression ''if acceleration is "cuda" or "rocm" then 999 else 0'';
      description = "Layers offloaded to the GPU (llama-server --n-gpu-layers).";
    };
    threads = mkOption { type = types.nullOr types.ints.positive; default = null; description = "llama-server --threads; null lets llama.cpp choose."; };
    extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "More llama-server arguments, appended last."; };
    allowNonLoopback = mkOption {
      type = types.bool;
      default = false;
      description = "Allow a non-loopback `host`. The server still requires the per-boot key.";
    };
    url = mkOption {
      type = types.nullOr (types.strMatching "https?://[^[:space:]]+");
      default = null;
      example = "https://gpu.example.org";
      description = ''
        Use the ${name} model served elsewhere (any OpenAI-compatible server; for a fleet, the central host's
        ai-sysadmin-api) instead of a unit here: no llama-${name} unit, no download, and `host`, `port`, `model` and the
        llama-server settings are not used. Its key is `apiKeyFile`; the per-boot key of this host's servers never goes
        to it.
      '';
    };
    apiKeyFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/fleet-api-key";
      description = "The key `url` requires (one line; for a central gateway, one of its client keys); read by systemd (LoadCredential), never copied to the store.";
    };
    modelId = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "ai-sysadmin-meta";
      description = ''
        The model id requests to `url` name (`models.${name}.alias`): for a central ai-sysadmin gateway its
        `openaiApi`'s model id, "ai-sysadmin-meta"; null names the layer ("${name}"), which llama-server accepts.
      '';
    };
  };

  # Paths go in as strings (toString), never copied into the store: a path literal such as /run/secrets/x must
  # stay a path on the host.
  settings = {
    stateDirectory = toString cfg.stateDir;
    modelDirectory = toString cfg.modelDirectory;
    models = listToAttrs (map (name:
      let s = server name; in
      nameValuePair name ({
        enable = s.enable;
        backend = if isRemote name then "remote" else "external";
        host = s.host;
        port = s.port;
        model = modelFile s.model;
        contextSize = s.contextSize;
        gpuLayers = s.gpuLayers;
        extraArgs = s.extraArgs;
        allowNonLoopback = s.allowNonLoopback;
        systemdUnit = "llama-${name}.service";
      }
      // optionalAttrs (s.threads != null) { threads = s.threads; }
      // optionalAttrs (s.modelId != null) { alias = s.modelId; }
      // optionalAttrs (isRemote name) { url = remoteURL name; })
    ) layerNames);
  }
  # The llama.cpp build is referenced only where units run it, so remote models pull no llama.cpp (no CUDA build)
  # into the system closure.
  // optionalAttrs (localLayers != [ ]) {
    llamaServer = "${llamaPackage}/bin/llama-server";
  }
  // {
    api = {
      supervised = false;
      host = cfg.openaiApi.host;
      port = cfg.openaiApi.port;
      requireAuth = cfg.openaiApi.requireAuth;
      agentModelId = if cfg.chat.enable then cfg.openaiApi.agentModelId else null;
    };
    chat = { inherit (cfg.chat) enable maxToolSteps; };
    console = { inherit (cfg.console) enable; };
    mcp = { inherit (cfg.mcp) enable; };
    monitoring = {
      files = map toString cfg.logFiles;
      review.intervalSeconds = cfg.reviewInterval;
      # Only what the operator set: unset fields keep the built-in signature's.
      signatures = mapAttrs (_: filterAttrs (_: value: value != null)) cfg.signatures;
      errorRate = cfg.errorRate;
    };
    autonomyLevel = cfg.autonomyLevel;
    autonomy = {
      inherit (cfg.autonomy) restartsPerUnitPerHour actionsPerHour approvalExpiryHours journalFloorDays journalFloorMegabytes;
      protectedUnits = cfg.autonomy.protectedUnits ++ [ "${cfg.aiName}-ai.service" ];
    };
    store = if cfg.store.postgresql.url == null then { backend = "sqlite"; } else {
      backend = "postgresql";
      postgresql = { url = cfg.store.postgresql.url; passwordFile = fleetCredential; inherit (cfg.store.postgresql) shareVerdicts; };
    };
    notifications =
      optionalAttrs (cfg.notifications.gotify.url != null) {
        gotify = { url = cfg.notifications.gotify.url; tokenFile = gotifyCredential; };
      }
      // optionalAttrs (cfg.notifications.webhook.url != null) { webhook = { url = cfg.notifications.webhook.url; }; };
  };

  settingsJSON = builtins.toJSON settings;
  # What the units read, checked when the system is built, so `nixos-rebuild` refuses a configuration the daemon
  # would refuse, and a model name nothing could download.
  configFile = pkgs.runCommand "ai-sysadmin-config.json" {
    settings = settingsJSON;
    passAsFile = [ "settings" ];
  } ''
    ${optionalString (namedModels != [ ]) "${cfg.package}/bin/ai-sysadmin models check ${lib.escapeShellArgs namedModels}"}
    ${cfg.package}/bin/ai-sysadmin config check --key-files-at-start "$settingsPath"
    cp "$settingsPath" $out
  '';

  # A key file is named by its path as a string: "${path}" would copy the secret into the world-readable store.
  apiKeysFile =
    if cfg.openaiApi.apiKeyFile != null then toString cfg.openaiApi.apiKeyFile
    else if cfg.openaiApi.apiKey != null then pkgs.writeText "ai-sysadmin-api-key" cfg.openaiApi.apiKey
    else null;

  keyCredential = "model-key:/run/ai-sysadmin-keys/model-key";
  keysUnit = "ai-sysadmin-keys.service";
  modelsUnit = optional (namedModels != [ ]) "ai-sysadmin-models.service";
  modelUnits = map (name: "llama-${name}.service") localLayers;
  metaIsLocal = builtins.elem "meta" localLayers;

  hardening = {
    User = "ai-sysadmin";
    Group = "ai-sysadmin";
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    NoNewPrivileges = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service" ];
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
  };

  # llama-server may set priorities, memory policy and locks (@resources): a call the filter refuses fails with EPERM
  # instead of killing the server. GPU servers get their devices (as nixpkgs' ollama module lists them), the
  # render/video groups, all of /proc (the drivers read /proc/driver/...) and executable mappings (CUDA, ROCm).
  modelHardening = hardening // {
    ProtectProc = "invisible";
    ProcSubset = "pid";
    SystemCallFilter = [ "@system-service" "~@privileged" ];
    SystemCallErrorNumber = "EPERM";
    LimitMEMLOCK = "infinity";
  } // optionalAttrs gpu {
    PrivateDevices = false;
    DevicePolicy = "closed";
    DeviceAllow = [ "char-nvidiactl" "char-nvidia-caps" "char-nvidia-frontend" "char-nvidia-uvm" "char-drm" "char-fb" "char-kfd" ];
    SupplementaryGroups = [ "render" "video" ];
    ProcSubset = "all";
    MemoryDenyWriteExecute = false;
  };

  modelUnit = name: nameValuePair "llama-${name}" {
    description = "ai-sysadmin: llama.cpp server for the ${name} model";
    wantedBy = [ "multi-user.target" ];
    requires = [ keysUnit ];
    # The download runs beside it; serve-model waits for the file and says how far it is (NotifyAccess, STATUS=).
    wants = modelsUnit;
    after = [ keysUnit "network.target" ];
    serviceConfig = modelHardening // {
      Type = "simple";
      NotifyAccess = "main";
      ExecStart = "${cfg.package}/bin/ai-sysadmin serve-model ${name} --wait-for-model --config ${configFile} --api-key-file %d/model-key";
      LoadCredential = [ keyCredential ];
      Restart = "always";
      RestartSec = 5;
    };
  };
in
{
  imports = map (name: mkRemovedOptionModule [ "services" "ai-sysadmin" name ] ''
    ai-sysadmin runs its models on llama.cpp now, not Ollama. Use services.ai-sysadmin.llamacpp
    (acceleration, package, and triggerModel / reviewModel / metaModel with host, port, model,
    contextSize, gpuLayers); the Ollama service and its queue worker are gone.
  '') [ "ollamaHost" "ollamaAcceleration" "ollamaPort" "ollama" "ollamaWorker" "ollamaQueue" ];

  options.services.ai-sysadmin = {
    enable = mkEnableOption "ai-sysadmin, the autonomous system administrator";

    package = mkOption {
      type = types.nullOr types.package;
      default = pkgs.ai-sysadmin or null;
      defaultText = literalExpression "pkgs.ai-sysadmin";
      description = "The ai-sysadmin package (both executables). The flake's overlay provides `pkgs.ai-sysadmin`.";
    };

    aiName = mkOption {
      type = types.strMatching "[A-Za-z0-9][A-Za-z0-9_.-]*";
      default = "ai-sysadmin";
      example = "macha";
      description = "The main unit is `\${aiName}-ai.service`.";
    };

    stateDir = mkOption {
      type = types.path;
      default = "/var/lib/ai-sysadmin";
      description = "The daemon's state: control socket, keys of managed servers, models by default.";
    };

    modelDirectory = mkOption {
      type = types.path;
      default = "${toString cfg.stateDir}/models";
      defaultText = literalExpression ''"''${stateDir}/models"'';
      description = "Where models given by name are downloaded to and loaded from.";
    };

    llamacpp = {
      enable = mkEnableOption "the llama.cpp model servers as systemd units" // {
        default = true;
        description = "Run the three model servers as units. When false, the daemon expects them at host:port (run by someone else).";
      };
      acceleration = mkOption {
        type = types.nullOr (types.enum [ "cpu" "cuda" "rocm" ]);
        default = null;
        description = ''
          The llama.cpp build to run: "cuda" or "rocm" build `pkgs.llama-cpp` with that support, offload
          every layer (`gpuLayers` 999) and give the units the GPU devices; "cpu" builds without either;
          null keeps nixpkgs' defaults.
        '';
      };
      package = mkOption {
        type = types.nullOr types.package;
        default = null;
        description = "A llama.cpp package to use instead of the one `acceleration` picks.";
      };
      triggerModel = modelServerOptions "trigger" layers.trigger;
      reviewModel = modelServerOptions "review" layers.review;
      metaModel = modelServerOptions "meta" layers.meta;
    };

    autonomyLevel = mkOption {
      type = types.enum [ "observe" "suggest" "auto-safe" "auto-full" ];
      default = "suggest";
      description = ''
        What the daemon may change without asking. observe: nothing runs, proposals are recorded; suggest: every
        action waits for `ai-sysadmin approvals approve`; auto-safe: low-risk actions run, the rest wait;
        auto-full: low and medium run, high waits. Risk classes are fixed in code (docs/SECURITY.md).
      '';
    };

    autonomy = {
      protectedUnits = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "postgresql.service" "myapp-*.service" ];
        description = ''
          Units automation never touches, with any verb (names, or patterns with `*`), besides the built-in list
          (remote access, networking and firewalls, dbus, every systemd-* unit, logins, this project's units;
          Sources/Autonomy/Policy/unit-policy.json) and the daemon's own unit. The polkit rule refuses them too.
        '';
      };
      journalFloorDays = mkOption { type = types.ints.positive; default = 7; description = "A journal vacuum that keeps fewer days than this is high risk: a person decides."; };
      journalFloorMegabytes = mkOption { type = types.ints.unsigned; default = 500; description = "A journal vacuum that keeps fewer megabytes than this is high risk: a person decides."; };
      restartsPerUnitPerHour = mkOption { type = types.ints.unsigned; default = 3; description = "After this many restarts of one unit in an hour, it is escalated instead of restarted."; };
      actionsPerHour = mkOption { type = types.ints.unsigned; default = 20; description = "Actions automation may run per hour in all."; };
      approvalExpiryHours = mkOption { type = types.numbers.positive; default = 24; description = "A queued approval not decided within this many hours expires."; };
    };

    reviewInterval = mkOption {
      type = types.ints.positive;
      default = 600;
      description = "Seconds between periodic reviews (Layer 3); an escalation brings one sooner.";
    };

    signatures = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          enable = mkOption { type = types.bool; default = true; description = "false switches the signature off."; };
          severity = mkOption {
            type = types.nullOr (types.enum [ "normal" "info" "warning" "error" "critical" ]);
            default = null;
            description = "The minimum severity a matching line gets, instead of the built-in one.";
          };
          escalate = mkOption { type = types.nullOr types.bool; default = null; description = "Whether a matching line escalates, instead of the built-in choice."; };
        };
      });
      default = { };
      example = literalExpression ''{ auth-failure.enable = false; time-jump.severity = "error"; }'';
      description = ''
        Changes to Layer 1's built-in signatures (failures such as the OOM killer, I/O errors or a read-only
        file system, whose floor the trigger model cannot talk a line below), by id; `ai-sysadmin signatures`
        lists them. An unknown id fails the build (the configuration is checked when the system is built).
      '';
    };

    errorRate = {
      enable = mkOption { type = types.bool; default = true; description = "An event for each burst of error lines from a unit or the whole host."; };
      windowSeconds = mkOption { type = types.numbers.positive; default = 60; description = "The sliding window errors are counted over."; };
      minimumBurst = mkOption { type = types.ints.positive; default = 10; description = "Fewer error lines than this within the window are never a burst."; };
      factor = mkOption {
        type = types.numbers.between 1 1000;
        default = 5;
        description = "A burst is also this many times the series' usual errors per window (its baseline over about an hour).";
      };
    };

    logFiles = mkOption {
      type = types.listOf types.path;
      default = [ ];
      example = [ "/var/log/nginx/error.log" ];
      description = "Log files Layer 1 follows (across rotation), besides the host metrics.";
    };

    fleet.database = {
      enable = mkEnableOption ''
        the fleet's database on this host's PostgreSQL (services.postgresql, which you configure: TLS, pg_hba.conf):
        `ai-sysadmin-fleet-database.service` creates the database if it is missing and applies `ai-sysadmin fleet
        schema` and a role per host and operator, idempotently, whenever it starts. Passwords are not declared:
        set each once with psql's `\password ROLE`, which sends only a SCRAM verifier'';
      name = mkOption {
        type = types.strMatching "[a-z_][a-z0-9_]{0,62}";
        default = "aisysadmin";
        description = "The database's name.";
      };
      hosts = mkOption {
        type = types.listOf (types.strMatching "[a-z0-9_]{1,40}");
        default = [ ];
        example = [ "web1" "web2" "db1" ];
        description = "Host ids: each gets the login role `ais_host_<id>`, which may write only that host's rows.";
      };
      operators = mkOption {
        type = types.listOf (types.strMatching "[a-z0-9_]{1,40}");
        default = [ ];
        example = [ "alice" ];
        description = "Operators' login roles (members of `ais_operator`): they read every host's rows and decide proposals.";
      };
    };

    store.postgresql = {
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "postgresql://ais_host_web1@db.example:5432/aisysadmin";
        description = ''
          The fleet's PostgreSQL database, as this host's role (`ais_host_<id>`; no password in the URL): the host keeps
          its SQLite store and publishes it there (README, "Many hosts"). TLS with the certificate and its name checked
          unless `?sslmode=` says otherwise; `?sslrootcert=/path` names a private authority. Null: this host alone.'';
      };
      passwordFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "The role's password, one line; read by systemd (LoadCredential), never copied to the store.";
      };
      shareVerdicts = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Use (and offer) the trigger-model verdicts of the fleet's other hosts with the same model: one model call per
          kind of line for the whole fleet, at the price of trusting the other hosts' models as this host's own
          (signatures stay floors under them).'';
      };
    };

    notifications = {
      gotify = {
        url = mkOption { type = types.nullOr types.str; default = null; example = "https://gotify.example.org"; description = "Gotify server for notifications."; };
        tokenFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "File with the Gotify application token; read by systemd (LoadCredential), never copied to the store.";
        };
      };
      webhook.url = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Receives a JSON POST for each critical trigger, queued approval, executed or failed action.";
      };
    };

    openaiApi = {
      enable = mkEnableOption "the OpenAI-compatible API (ai-sysadmin-api) for Open WebUI, LibreChat, the openai SDKs" // { default = true; };
      host = mkOption {
        type = types.str;
        default = "127.0.0.1";
        description = "Listen address; \"0.0.0.0\" serves the network (the firewall stays closed unless `openFirewall`).";
      };
      port = mkOption { type = types.port; default = 40083; description = "Listen port."; };
      requireAuth = mkOption { type = types.bool; default = false; description = "Require `Authorization: Bearer KEY` (or `x-api-key`) on /v1."; };
      apiKeyFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = "/run/secrets/ai-sysadmin-api-keys";
        description = "Client keys, one per line; read by systemd (LoadCredential), never copied to the store.";
      };
      apiKey = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "A client key. It ends up in the world-readable Nix store; prefer `apiKeyFile`.";
      };
      operatorKeyFile = mkOption {
        type = types.nullOr (types.strMatching "/.+");
        default = null;
        example = "/run/secrets/ai-sysadmin-operator-keys";
        description = ''
          Operator keys, one per line, as an absolute path string (never copied to the store; read by systemd with
          LoadCredential). A chat client presenting one acts as an operator: the changes it asks for run as far as
          `autonomyLevel` allows. Every other client only proposes; its changes wait for approval at every level.
        '';
      };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open `port` in the firewall."; };
      agentModelId = mkOption {
        type = types.str;
        default = "ai-sysadmin";
        description = "The model id that chats with the sysadmin (the daemon's agent, with this host's context and tools) rather than the raw meta model.";
      };
    };

    chat = {
      enable = mkEnableOption "chat with the sysadmin: the agent model id in the API, `ai-sysadmin ask` and `ai-sysadmin chat`" // { default = true; };
      maxToolSteps = mkOption {
        type = types.ints.between 1 16;
        default = 4;
        description = "Tool calls the agent may make for one reply before it must answer.";
      };
    };

    console.enable = mkEnableOption ''
      the operator's console: a web page at the API's `/` (same port, same keys; with requireAuth a login keeps the
      key in an HttpOnly cookie). It shows the model servers, metrics, events, reviews, analyses and the audit trail
      live, and approves or rejects proposals with a key from openaiApi.operatorKeyFile. Never on a non-loopback
      openaiApi.host without requireAuth'';

    mcp.enable = mkEnableOption ''
      the MCP server for the operator's own agents: `ai-sysadmin mcp` over stdio (root or the ai-sysadmin group, e.g.
      `ssh host ai-sysadmin mcp`) and the API's `/mcp` (streamable HTTP) behind its keys. Its look-ups are read-only;
      what it proposes waits for an operator's approval at every autonomy level. Never on a non-loopback
      openaiApi.host without requireAuth'';
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions =
        [
          {
            assertion = cfg.package != null;
            message = "services.ai-sysadmin.package is not set and pkgs.ai-sysadmin does not exist; add the flake's overlay or set the option.";
          }
          {
            assertion = !cfg.openaiApi.requireAuth || cfg.openaiApi.apiKeyFile != null || cfg.openaiApi.apiKey != null
              || cfg.openaiApi.operatorKeyFile != null;
            message = "services.ai-sysadmin.openaiApi.requireAuth needs openaiApi.apiKeyFile, openaiApi.operatorKeyFile (or apiKey).";
          }
          {
            assertion = !cfg.console.enable || cfg.openaiApi.enable;
            message = "services.ai-sysadmin.console is served by the API: it needs openaiApi.enable.";
          }
        ]
        # The console approves changes and MCP proposes them: neither is ever open to a network without keys.
        ++ map (door: {
          assertion = !cfg.${door}.enable || !cfg.openaiApi.enable || isLoopback cfg.openaiApi.host || cfg.openaiApi.requireAuth;
          message = "services.ai-sysadmin.${door}.enable with openaiApi.host = \"${cfg.openaiApi.host}\" needs openaiApi.requireAuth (and a key file): it would be open to anyone who reaches the host.";
        }) [ "console" "mcp" ]
        ++ [
          {
            assertion = !cfg.openaiApi.enable || llama.metaModel.enable;
            message = "services.ai-sysadmin.openaiApi needs llamacpp.metaModel.enable: the API serves the meta model.";
          }
          # Model servers on this host (the units) need ports of their own; remote ones are someone else's, and the
          # daemon does not check them either.
          (let ports = map (name: (server name).port) localLayers ++ optional cfg.openaiApi.enable cfg.openaiApi.port; in {
            assertion = length ports == length (unique ports);
            message = "services.ai-sysadmin: the enabled model servers and the API need distinct ports, got ${concatStringsSep ", " (map toString ports)}.";
          })
          {
            assertion = !(llama.enable && llama.package == null && llama.acceleration == "cuda")
              || (pkgs.config.allowUnfree or false) || pkgs.config ? allowUnfreePredicate;
            message = ''
              services.ai-sysadmin.llamacpp.acceleration = "cuda" builds llama.cpp with CUDA, which is unfree: nixpkgs
              refuses it unless you set nixpkgs.config.allowUnfree = true (or an allowUnfreePredicate that allows the
              CUDA packages).'';
          }
        ]
        ++ [
          {
            assertion = (cfg.store.postgresql.url == null) == (cfg.store.postgresql.passwordFile == null);
            message = "services.ai-sysadmin.store.postgresql needs both url and passwordFile.";
          }
          {
            assertion = !cfg.fleet.database.enable || config.services.postgresql.enable or false;
            message = "services.ai-sysadmin.fleet.database needs services.postgresql.enable on this host (with TLS and pg_hba.conf lines for the hosts: README, \"Many hosts\").";
          }
        ]
        # The daemon's rule (FleetSchema.isValidOperatorName): never a fleet role or one of PostgreSQL's.
        ++ map (name: {
          assertion = !(lib.hasPrefix "ais_" name || lib.hasPrefix "pg_" name || name == "postgres");
          message = "services.ai-sysadmin.fleet.database.operators: \"${name}\" is not usable as an operator's role (ais_…, pg_… and postgres are taken).";
        }) cfg.fleet.database.operators
        ++ [
          {
            assertion = (cfg.notifications.gotify.url == null) == (cfg.notifications.gotify.tokenFile == null);
            message = "services.ai-sysadmin.notifications.gotify needs both url and tokenFile.";
          }
        ]
        # Only for servers this host runs: a remote model is wherever it is.
        ++ map (name: {
          assertion = isLoopback (server name).host || (server name).allowNonLoopback;
          message = "services.ai-sysadmin.llamacpp.${layers.${name}.option}.host = \"${(server name).host}\" is not loopback; set allowNonLoopback = true to serve the model there.";
        }) localLayers
        ++ map (name: {
          assertion = (server name).apiKeyFile == null || isRemote name;
          message = "services.ai-sysadmin.llamacpp.${layers.${name}.option}.apiKeyFile is the key of a model served elsewhere: it needs `url` (or llamacpp.enable = false); this host's own servers use the per-boot key.";
        }) layerNames;

      warnings =
        optional (cfg.openaiApi.apiKey != null)
          "services.ai-sysadmin.openaiApi.apiKey is copied into the world-readable Nix store; use openaiApi.apiKeyFile."
        ++ optional (cfg.openaiApi.enable && !isLoopback cfg.openaiApi.host && !cfg.openaiApi.requireAuth)
          "services.ai-sysadmin.openaiApi listens on ${cfg.openaiApi.host} without requireAuth: anyone who reaches it can use the model."
        # Prompts carry the host's log lines, and the request its key.
        ++ map (name: "services.ai-sysadmin.llamacpp.${layers.${name}.option} is reached by plain http on another host (${remoteURL name}): its key and this host's log lines cross the network unencrypted; use https (a TLS proxy in front of the central gateway) or a private network.")
          (filter (name: lib.hasPrefix "http://" (remoteURL name) && !isLoopback (urlHostOf (remoteURL name))) (filter isRemote enabledLayers));

      users.users.ai-sysadmin = {
        isSystemUser = true;
        group = "ai-sysadmin";
        home = toString cfg.stateDir;
        description = "ai-sysadmin daemon and model servers";
      };
      users.groups.ai-sysadmin = { };

      environment.systemPackages = [ cfg.package ];
      # Where the CLI looks by default (`ai-sysadmin approvals`, `audit`, `events`, ...), as on other distributions:
      # the same text as the checked file the units read.
      environment.etc."ai-sysadmin/config.json".text = settingsJSON;

      systemd.tmpfiles.rules = [
        "d ${toString cfg.stateDir} 0750 ai-sysadmin ai-sysadmin - -"
        "d ${toString cfg.modelDirectory} 0755 ai-sysadmin ai-sysadmin - -"
      ];

      # What the daemon may ask systemd over D-Bus: restart its own model units (after sustained /health
      # failure) and, unless the level is observe, the executor's unit actions on units that are not protected.
      # Protected units are refused here too, whatever the daemon asks.
      security.polkit.enable = true;
      security.polkit.extraConfig = polkitRule;

      systemd.services = {
        ai-sysadmin-keys = {
          description = "ai-sysadmin: per-boot API key for the model servers";
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
            RuntimeDirectory = "ai-sysadmin-keys";
            RuntimeDirectoryMode = "0700";
            UMask = "0077";
            ExecStart = "${cfg.package}/bin/ai-sysadmin model-key /run/ai-sysadmin-keys/model-key";
            # It writes one file as root: nothing else.
            PrivateNetwork = true;
            RestrictAddressFamilies = [ "AF_UNIX" ];
            IPAddressDeny = "any";
            ProtectSystem = "strict";
            ProtectHome = true;
            PrivateTmp = true;
            PrivateDevices = true;
            PrivateUsers = false;
            NoNewPrivileges = true;
            CapabilityBoundingSet = [ "CAP_CHOWN" "CAP_FOWNER" "CAP_DAC_OVERRIDE" ];
            ProtectKernelTunables = true;
            ProtectKernelModules = true;
            ProtectKernelLogs = true;
            ProtectControlGroups = true;
            ProtectClock = true;
            ProtectHostname = true;
            ProtectProc = "invisible";
            ProcSubset = "pid";
            RestrictNamespaces = true;
            RestrictRealtime = true;
            RestrictSUIDSGID = true;
            LockPersonality = true;
            MemoryDenyWriteExecute = true;
            RemoveIPC = true;
            SystemCallArchitectures = "native";
            SystemCallFilter = [ "@system-service" "~@privileged @resources" ];
            SystemCallErrorNumber = "EPERM";
          };
        };

        "${cfg.aiName}-ai" = {
          description = "ai-sysadmin: the autonomous system administrator";
          wantedBy = [ "multi-user.target" ];
          requires = [ keysUnit ];
          wants = modelUnits;
          after = [ keysUnit "network.target" ] ++ modelUnits;
          serviceConfig = hardening // {
            # READY=1 as soon as it watches the model units (it does not wait for a model to load).
            Type = "notify";
            NotifyAccess = "main";
            WatchdogSec = 60;
            ExecStart = "${cfg.package}/bin/ai-sysadmin run --config ${configFile} --model-key-file %d/model-key"
              + concatMapStrings (name: " --${name}-key-file %d/${remoteKeyCredential name}") remoteKeyLayers;
            LoadCredential = [ keyCredential ]
              ++ map (name: "${remoteKeyCredential name}:${toString (server name).apiKeyFile}") remoteKeyLayers
              ++ optional (cfg.notifications.gotify.tokenFile != null) "gotify-token:${toString cfg.notifications.gotify.tokenFile}"
              ++ optional (cfg.store.postgresql.passwordFile != null) "fleet-password:${toString cfg.store.postgresql.passwordFile}";
            Restart = "always";
            RestartSec = 5;
            SupplementaryGroups = [ "systemd-journal" ];
            ProtectHome = "read-only";
            ReadWritePaths = [ (toString cfg.stateDir) ];
          };
        };
      };
    }

    {
      systemd.services = listToAttrs (map modelUnit localLayers);
    }

    (mkIf (namedModels != [ ]) {
      # In the background: `nixos-rebuild switch` returns at once; the model units wait for their files and show the
      # progress. A failed download is resumed after a minute.
      systemd.services.ai-sysadmin-models = {
        description = "ai-sysadmin: download the models given by name";
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        serviceConfig = hardening // {
          Type = "exec";
          ExecStart = "${cfg.package}/bin/ai-sysadmin models pull ${concatStringsSep " " namedModels} --config ${configFile}";
          Restart = "on-failure";
          RestartSec = 60;
          ReadWritePaths = [ (toString cfg.modelDirectory) ];
        };
      };
    })

    (mkIf cfg.fleet.database.enable {
      systemd.services.ai-sysadmin-fleet-database = let db = cfg.fleet.database; in {
        description = "ai-sysadmin: the fleet's database, its schema and roles";
        wantedBy = [ "multi-user.target" ];
        requires = [ "postgresql.service" ];
        # postgresql-setup.service: where newer nixpkgs runs ensureDatabases/ensureUsers.
        after = [ "postgresql.service" "postgresql-setup.service" ];
        path = [ postgresqlPackage cfg.package ];
        # The server's socket is named after its port.
        environment.PGPORT = toString (postgresql.settings.port or 5432);
        serviceConfig = hardening // {
          Type = "oneshot";
          RemainAfterExit = true;
          # Peer authentication on the local socket, as the cluster's administrator.
          User = "postgres";
          Group = "postgres";
          RestrictAddressFamilies = [ "AF_UNIX" ];
          IPAddressDeny = "any";
          ExecStart = "${pkgs.writeShellScript "ai-sysadmin-fleet-database" (builtins.readFile ./nix/fleet-database.sh)} ${db.name}"
            + concatMapStrings (host: " host:${host}") db.hosts + concatMapStrings (name: " operator:${name}") db.operators;
        };
      };
    })

    (mkIf cfg.openaiApi.enable {
      networking.firewall.allowedTCPPorts = optional cfg.openaiApi.openFirewall cfg.openaiApi.port;
      systemd.services.ai-sysadmin-api = {
        description = "ai-sysadmin: OpenAI-compatible API gateway";
        wantedBy = [ "multi-user.target" ];
        requires = optional metaIsLocal keysUnit;
        wants = optional metaIsLocal "llama-meta.service";
        after = [ "network.target" ] ++ optionals metaIsLocal [ keysUnit "llama-meta.service" ];
        serviceConfig = hardening // {
          Type = "simple";
          # The meta model's key: this host's per-boot key, or a remote meta model's own (none when it has none).
          ExecStart = "${cfg.package}/bin/ai-sysadmin-api --config ${configFile}"
            + optionalString metaIsLocal " --model-key-file %d/model-key"
            + optionalString (builtins.elem "meta" remoteKeyLayers) " --meta-key-file %d/${remoteKeyCredential "meta"}"
            + optionalString (apiKeysFile != null) " --api-key-file %d/api-keys"
            + optionalString (cfg.openaiApi.operatorKeyFile != null) " --operator-key-file %d/operator-keys";
          LoadCredential = optional metaIsLocal keyCredential
            ++ optional (builtins.elem "meta" remoteKeyLayers) "${remoteKeyCredential "meta"}:${toString llama.metaModel.apiKeyFile}"
            ++ optional (apiKeysFile != null) "api-keys:${apiKeysFile}"
            ++ optional (cfg.openaiApi.operatorKeyFile != null) "operator-keys:${cfg.openaiApi.operatorKeyFile}";
          Restart = "always";
          RestartSec = 2;
        };
      };
    })
  ]);
}
