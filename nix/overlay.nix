# pkgs.darling-nix.{all, prefix-tree, xnu-fixes, <each tool>}
final: prev:
let
  all = final.callPackage ./package.nix { };
  tool = name: final.runCommand "darling-nix-${name}" { meta.mainProgram = name; } ''
    mkdir -p $out/bin
    ln -s ${all}/bin/${name} $out/bin/${name}
  '';
  inPrefix = {
    "usr/bin/dscl" = "dscl";
    "usr/sbin/dseditgroup" = "dseditgroup";
    "usr/sbin/sysadminctl" = "sysadminctl";
    "usr/sbin/diskutil" = "diskutil";
    "usr/bin/sandbox-exec" = "sandbox-exec";
  };
in
{
  darling-nix = {
    inherit all;
    # The five macOS tools where the installers and Nix call them, to be
    # copied into a prefix (they are Linux ELF programs; Darling runs them
    # natively).
    prefix-tree = final.runCommand "darling-nix-prefix-tree" { } (
      final.lib.concatStrings (final.lib.mapAttrsToList (at: name: ''
        install -D -m 0755 ${all}/bin/${name} $out/${at}
      '') inPrefix)
    );
    # The staticlib with the syscall translations Darling lacks, its header
    # and the routing notes. Built for Linux here; Darling processes need the
    # x86_64-apple-darwin build described in xnu-fixes/integration/README.md.
    xnu-fixes = final.rustPlatform.buildRustPackage {
      pname = "xnu-fixes";
      version = "0.1.0";
      src = all.src;
      cargoLock.lockFile = ../Cargo.lock;
      buildPhase = ''
        runHook preBuild
        CARGO_PROFILE_RELEASE_LTO=fat cargo rustc -p xnu-fixes --release --offline \
          --features staticlib --crate-type staticlib
        runHook postBuild
      '';
      doCheck = false;
      installPhase = ''
        mkdir -p $out/lib $out/include $out/share/xnu-fixes
        cp target/*/release/libxnu_fixes.a $out/lib/ 2>/dev/null || cp target/release/libxnu_fixes.a $out/lib/
        cp xnu-fixes/include/xnu_fixes.h $out/include/
        cp xnu-fixes/integration/* $out/share/xnu-fixes/
      '';
    };
  } // final.lib.genAttrs [ "build-hook" "nix-install" "nix-verify" "syscall-triage" "dscl" "dseditgroup" "sysadminctl" "diskutil" "sandbox-exec" ] tool;
}
