# The loop of NixOS/nix scripts/sequoia-nixbld-user-migration.sh: move the
# build users from uid 301+ to 351+.
set -e
old=301; new=351
while [ $old -le 303 ]; do
  dscl . list /Users UniqueID | grep -E "\b$old\b" | grep _nixbld | sort -n -k2 | while read -r name uid; do
    dscl . read /Users/$name > /dev/null
    gid=$(dscl . read /Groups/nixbld PrimaryGroupID | awk '{print $2}')
    dscl . -create /Users/$name UniqueID $new
    dscl . -create /Users/$name IsHidden 1
    dscl . -create /Users/$name NFSHomeDirectory /var/empty
    dscl . -create /Users/$name RealName "Nix build user $name"
    dscl . -create /Users/$name UserShell /sbin/nologin
    dscl . -create /Users/$name PrimaryGroupID $gid
    echo "$name $uid -> $new"
  done
  old=$((old + 1)); new=$((new + 1))
done
