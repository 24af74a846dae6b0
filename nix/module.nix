# services.darling-builder: this machine builds x86_64-darwin derivations in
# Darling, for itself and (optionally) as an ssh-ng remote builder for
# other machines. Needs the darling-nix overlay (the flake's
# nixosModules.darling-builder adds it) and a Darling package.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.darling-builder;
  inherit (lib) mkOption mkEnableOption mkIf types literalExpression;
  darling = "${config.security.wrapperDir}/darling";
  # What `build-hook --nix-conf` (route auto) picks: a build-hook line where
  # this Nix keeps one from nix.conf (Nix 2.25 to 2.33 replace it at
  # start-up; Lix 2.94 changed the hook protocol), else an ssh://localhost
  # builder whose remote program is `build-hook --serve`. Like the hook, it
  # compares major.minor only (a pre-release 2.25pre… is 2.25), and an
  # unknown version gets the builder, which every Nix from 2.8 honours.
  nixVersion = config.nix.package.version or "";
  majorMinor = lib.versions.majorMinor nixVersion;
  isLix = (config.nix.package.pname or "nix") == "lix";
  hookLine =
    nixVersion != "" && (
      if isLix then lib.versionOlder majorMinor "2.94"
      else lib.versionOlder majorMinor "2.25" || lib.versionAtLeast majorMinor "2.34");
  hookSettings = {
    runner = "darling";
    prefix = cfg.prefix;
    inherit darling;
    systems = [ "x86_64-darwin" ];
    supported-features = cfg.supportedFeatures;
    max-jobs = cfg.maxJobs;
    queue = cfg.queue;
    state-dir = "/var/lib/darling-nix/build-hook";
    build-dir = "/var/tmp/darling-nix";
    forward = if cfg.forwardToBuildRemote then [ "${config.nix.package}/bin/nix" "__build-remote" ] else null;
  } // cfg.extraHookSettings;
in
{
  options.services.darling-builder = {
    enable = mkEnableOption "building x86_64-darwin derivations in a Darling prefix through darling-nix's build hook";

    package = mkOption {
      type = types.package;
      default = pkgs.darling-nix.all;
      defaultText = literalExpression "pkgs.darling-nix.all";
      description = "The darling-nix tools (build-hook, nix-verify, the in-prefix tools, ...).";
    };

    prefixTree = mkOption {
      type = types.package;
      default = pkgs.darling-nix.prefix-tree;
      defaultText = literalExpression "pkgs.darling-nix.prefix-tree";
      description = "The in-prefix tools (a tree of usr/bin/dscl, usr/sbin/dseditgroup, ...) that the darling-prefix service installs into the prefix; from the same darling-nix as `package`.";
    };

    darlingPackage = mkOption {
      type = types.nullOr types.package;
      default = null;
      example = literalExpression "inputs.darling.packages.x86_64-linux.default";
      description = ''
        The Darling package. nixpkgs dropped Darling in 2025 (PR #405727), so it
        must come from elsewhere, for example an older nixpkgs or an overlay.
      '';
    };

    prefix = mkOption {
      type = types.path;
      default = "/var/lib/darling-nix/prefix";
      description = "The Darling prefix that builds run in (DPREFIX).";
    };

    maxJobs = mkOption {
      type = types.ints.between 1 4096;
      default = 1;
      description = "Darwin builds running at once (build-hook slots).";
    };

    queue = mkOption {
      type = types.nullOr (types.ints.between 0 4096);
      default = null;
      description = "Builds accepted to wait for a slot before Nix is told to postpone; null means build-hook's default (8 per slot, at least 32).";
    };

    supportedFeatures = mkOption {
      type = types.listOf types.str;
      default = [ "big-parallel" ];
      description = "requiredSystemFeatures the Darling builder accepts.";
    };

    forwardToBuildRemote = mkOption {
      type = types.bool;
      default = true;
      description = "Where the module sets `nix.settings.build-hook` (Nix before 2.25, or 2.34 and later): hand the requests the hook declines to Nix's own build-remote, so ordinary remote builders (nix.buildMachines) keep working. With other Nix versions darwin builds go through `nix.buildMachines` and Nix's build-remote serves every builder itself.";
    };

    extraHookSettings = mkOption {
      type = types.attrsOf (types.oneOf [ types.str types.int types.bool (types.listOf types.str) ]);
      default = { };
      example = { register = "import"; };
      description = "More keys for /etc/darling-nix/build-hook.toml (see docs/tools/build-hook.md).";
    };

    shareStore = mkOption {
      type = types.bool;
      default = true;
      description = "Bind-mount the host /nix into the prefix inside darlingserver's mount namespace, which direct mode needs.";
    };

    sshServe = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "Let other machines use this one as an ssh-ng remote builder (x86_64-darwin through Darling, and this machine's own systems).";
      };
      keys = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "SSH public keys of the machines allowed to build here.";
      };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      { assertion = cfg.darlingPackage != null; message = "services.darling-builder.darlingPackage must be set (nixpkgs no longer ships Darling)."; }
      { assertion = pkgs.stdenv.hostPlatform.system == "x86_64-linux"; message = "Darling runs on x86_64-linux only."; }
    ];

    security.wrappers.darling = {
      source = "${cfg.darlingPackage}/bin/darling";
      owner = "root";
      group = "root";
      setuid = true;
    };

    environment.systemPackages = [ cfg.package ];
    environment.etc."darling-nix/build-hook.toml".text = import ./hook-config.nix hookSettings;

    # The same route `build-hook --nix-conf` picks for this Nix. NixOS 25.05
    # and 25.11 ship a Nix that drops a build-hook setting: there
    # darwin builds reach build-hook through Nix's own build hook and an
    # ssh://localhost builder (Nix runs the program directly, no SSH).
    nix.settings.build-hook = mkIf hookLine "${cfg.package}/bin/build-hook";
    nix.distributedBuilds = mkIf (!hookLine) true;
    nix.buildMachines = mkIf (!hookLine) [{
      hostName = "localhost?remote-program=${cfg.package}/bin/build-hook";
      protocol = "ssh";
      systems = [ "x86_64-darwin" ];
      maxJobs = cfg.maxJobs;
      speedFactor = 1;
      supportedFeatures = cfg.supportedFeatures;
    }];

    systemd.tmpfiles.rules = [
      "d /var/lib/darling-nix 0755 root root -"
      "d /var/lib/darling-nix/build-hook 0700 root root -"
      "d /var/tmp/darling-nix 0755 root root -"
    ];

    # Keeps the prefix initialised and running, with our tools in it and the
    # host store visible at /nix inside. The steps are nix/darling-prefix.sh,
    # which the live tests run too.
    systemd.services.darling-prefix = {
      description = "Darling prefix for darling-nix builds";
      wantedBy = [ "multi-user.target" ];
      before = [ "nix-daemon.service" ];
      path = [ pkgs.util-linux pkgs.coreutils ];
      environment = {
        DPREFIX = cfg.prefix;
        DARLING = darling;
        TOOLS_TREE = "${cfg.prefixTree}";
        SHARE_STORE = if cfg.shareStore then "1" else "0";
      };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${pkgs.runtimeShell} ${./darling-prefix.sh} start";
        ExecStop = "${pkgs.runtimeShell} ${./darling-prefix.sh} stop";
      };
    };

    nix.sshServe = mkIf cfg.sshServe.enable {
      enable = true;
      protocol = "ssh-ng";
      write = true;
      keys = cfg.sshServe.keys;
    };
    nix.settings.trusted-users = mkIf cfg.sshServe.enable [ "nix-ssh" ];
  };
}
