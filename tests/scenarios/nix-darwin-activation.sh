# nix-darwin's checks and activation scripts (modules/users, checks.nix).
set -e
# groups
g=$(dscl . -read /Groups/nixbld PrimaryGroupID 2>/dev/null) || true
g=${g#PrimaryGroupID: }
if [ -z "$g" ]; then
  dscl . -create /Groups/nixbld PrimaryGroupID 350
  dscl . -create /Groups/nixbld RealName "Nix build group for nix-daemon"
elif [ "$g" -ne 350 ]; then echo "wrong gid $g" >&2; exit 2; fi
members=$(dscl . -read /Groups/nixbld GroupMembership 2>/dev/null) || true
if [ "$members" != "GroupMembership: _nixbld1 _nixbld2 _nixbld3" ]; then
  dscl . -create /Groups/nixbld GroupMembership _nixbld1 _nixbld2 _nixbld3
fi
# users
for i in 1 2 3; do
  u=_nixbld$i
  if ! id -u $u >/dev/null 2>&1 && ! dscl . -read /Users/$u UniqueID >/dev/null 2>&1; then
    sysadminctl -addUser $u -UID $((350 + i)) -GID 350 -fullName "Nix build user $i" -home /var/empty -shell /usr/bin/false 2>/dev/null
    dscl . -create /Users/$u IsHidden 1
  fi
  dscl . -create /Users/$u PrimaryGroupID 350
  dscl . -create /Users/$u RealName "Nix build user $i"
  dscl . -create /Users/$u UserShell /usr/bin/false
done
# ensurePerms: the nobody probe must succeed
h=$(dscl . -read /Users/nobody NFSHomeDirectory); h=${h#NFSHomeDirectory: }
dscl . -change /Users/nobody NFSHomeDirectory "$h" "$h" >/dev/null 2>&1
# checks
[ "$(dscl . -read /Users/_nixbld1 UniqueID | awk '{print $2}')" = 351 ]
[ "$(dscl . -read /Groups/nixbld PrimaryGroupID | awk '{print $2}')" = 350 ]
if dscl . -list /Users | grep -q '^nixbld'; then echo "old users left" >&2; exit 3; fi
echo activated
