# The Rust installers' (DeterminateSystems / NixOS nix-installer) account
# actions as the commands they run: the plan's checkmember before the group
# exists, the group, each user created as a bare record and then attribute
# by attribute, membership added twice (dscl -append, then dseditgroup),
# and the uninstall with its tolerated exit codes. Prints one line per
# command whose exit code the installer looks at.
set -e
code() { "$@" > /dev/null 2>&1 && echo 0 || echo $?; }
echo "plan checkmember: $(code dseditgroup -o checkmember -m _nixbld1 nixbld)"
dseditgroup -o create -r "Nix build group for nix-daemon" -i 350 nixbld
for i in 1 2 3; do
  u=_nixbld$i; p=/Users/$u
  dscl . -create $p
  dscl . -create $p UniqueID $((350 + i))
  dscl . -create $p PrimaryGroupID 350
  dscl . -create $p NFSHomeDirectory /var/empty
  dscl . -create $p UserShell /sbin/nologin
  dscl . -create $p RealName $u
  dscl . -create $p IsHidden 1
  echo "$u checkmember before: $(code dseditgroup -o checkmember -m $u nixbld)"
  dscl . -append /Groups/nixbld GroupMembership $u
  dseditgroup -o edit -a $u nixbld
  echo "$u checkmember after: $(code dseditgroup -o checkmember -m $u nixbld)"
done
