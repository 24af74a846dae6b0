# All darling-nix binaries from the workspace.
{ lib, rustPlatform }:

rustPlatform.buildRustPackage {
  pname = "darling-nix";
  version = "0.1.0";
  src = lib.cleanSourceWith {
    src = ../.;
    filter = path: type: !(lib.hasInfix "/target" path);
  };
  cargoLock.lockFile = ../Cargo.lock;
  # The integration tests need root, chroot stores, Debian's nix-bin and a
  # btrfs loop mount: they run in CI through `.ci/run`, not in the sandbox.
  # The unit tests run here.
  cargoTestFlags = [ "--workspace" "--lib" ];
  meta = {
    description = "Build and test x86_64-darwin Nix derivations on Linux through Darling";
    license = with lib.licenses; [ mit asl20 ];
    platforms = [ "x86_64-linux" ];
    mainProgram = "build-hook";
  };
}
