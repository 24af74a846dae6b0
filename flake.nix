{
  description = "darling-nix: build and test x86_64-darwin Nix derivations on Linux through Darling";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system:
        f (import nixpkgs { inherit system; overlays = [ self.overlays.default ]; }));
    in
    {
      overlays.default = import ./nix/overlay.nix;

      packages = forAll (pkgs: {
        default = pkgs.darling-nix.all;
        inherit (pkgs.darling-nix)
          all prefix-tree xnu-fixes
          build-hook nix-install nix-verify syscall-triage
          dscl dseditgroup sysadminctl diskutil sandbox-exec;
      });

      apps = forAll (pkgs: nixpkgs.lib.genAttrs [ "build-hook" "nix-install" "nix-verify" "syscall-triage" ] (name: {
        type = "app";
        program = "${pkgs.darling-nix.all}/bin/${name}";
      }));

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ pkgs.darling-nix.all ];
          packages = with pkgs; [ cargo rustc rustfmt clippy jq busybox btrfs-progs ];
        };
      });

      # The unit tests run in the package build; the root-only integration
      # tests (chroot stores, Landlock children, btrfs) run through .ci/run.
      checks = forAll (pkgs: {
        inherit (pkgs.darling-nix) all prefix-tree;
      });

      nixosModules.darling-builder = { ... }: {
        imports = [ ./nix/module.nix ];
        nixpkgs.overlays = [ self.overlays.default ];
      };
      nixosModules.default = self.nixosModules.darling-builder;

      templates.default = {
        path = ./nix/template;
        description = "A NixOS machine that builds x86_64-darwin derivations through Darling";
      };
    };
}
