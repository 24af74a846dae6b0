{
  description = "A NixOS machine that builds x86_64-darwin derivations through Darling";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    darling-nix.url = "github:darling-nix/darling-nix";
    darling-nix.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { nixpkgs, darling-nix, ... }: {
    nixosConfigurations.builder = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [
        darling-nix.nixosModules.darling-builder
        ./configuration.nix
        ({ ... }: {
          services.darling-builder = {
            enable = true;
            # nixpkgs no longer ships Darling: bring your own package.
            # darlingPackage = ...;
            maxJobs = 2;
            sshServe.enable = false;
          };
        })
      ];
    };
  };
}
