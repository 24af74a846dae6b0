# The NixOS/nix shell installer's create_build_group /
# create_build_user_for_core sequence (scripts/install-darwin-multi-user.sh,
# 2.34), with its checks. POSIX sh: run by busybox (fixture) and by
# Darling's bash (live).
set -e
NIX_BUILD_GROUP_NAME=nixbld; NIX_BUILD_GROUP_ID=350; NIX_USER_COUNT=3; NIX_FIRST_BUILD_UID=351
dscl_create() {
  # retry while eNotYetImplemented, as the installer does
  while ! out=$(dscl . -create "$@" 2>&1); do
    case "$out" in *"-14988 (eNotYetImplemented)"*) continue;; esac
    echo "$out" >&2; return 1
  done
}
if dscl . -read /Groups/$NIX_BUILD_GROUP_NAME > /dev/null 2>&1; then
  gid=$(dscl . -read /Groups/$NIX_BUILD_GROUP_NAME | awk '/PrimaryGroupID/ {print $2}')
  [ "$gid" -ne "$NIX_BUILD_GROUP_ID" ] && { echo "gid mismatch $gid" >&2; exit 1; }
  echo "group exists"
else
  dseditgroup -o create -r "Nix build group for nix-daemon" -i "$NIX_BUILD_GROUP_ID" "$NIX_BUILD_GROUP_NAME" >&2
  echo "group created"
fi
i=1
while [ $i -le $NIX_USER_COUNT ]; do
  username=_nixbld$i; uid=$((NIX_FIRST_BUILD_UID + i - 1)); dsclpath=/Users/$username
  if ! dscl . -read "$dsclpath" > /dev/null 2>&1; then
    dscl . create "$dsclpath" UniqueID "$uid"
  fi
  actual=$(dscl . -read "$dsclpath" | awk '/UniqueID/ {print $2}')
  [ "$actual" = "$uid" ] || { echo "uid mismatch for $username: $actual" >&2; exit 1; }
  [ "$(dscl . -read "$dsclpath" | awk '/IsHidden/ {print $2}')" = "1" ] || dscl_create "$dsclpath" IsHidden 1
  [ "$(dscl . -read "$dsclpath" | awk '/NFSHomeDirectory/ {print $2}')" = "/var/empty" ] || dscl_create "$dsclpath" NFSHomeDirectory /var/empty
  dscl . -read "$dsclpath" | awk '/RealName/ {print $2}' | grep -q "Nix build user $i" || dscl_create "$dsclpath" RealName "Nix build user $i"
  [ "$(dscl . -read "$dsclpath" | awk '/UserShell/ {print $2}')" = "/sbin/nologin" ] || dscl_create "$dsclpath" UserShell /sbin/nologin
  if dseditgroup -o checkmember -m "$username" "$NIX_BUILD_GROUP_NAME" > /dev/null 2>&1; then :; else
    dseditgroup -o edit -t user -a "$username" "$NIX_BUILD_GROUP_NAME"
  fi
  [ "$(dscl . -read "$dsclpath" | awk '/PrimaryGroupID/ {print $2}')" = "$NIX_BUILD_GROUP_ID" ] || dscl . -create "$dsclpath" PrimaryGroupID "$NIX_BUILD_GROUP_ID"
  i=$((i + 1))
done
