# NixOS/nix scripts/bigsur-nixbld-user-migration.sh, per user: rename
# nixbldN to _nixbldN and move it to uid 301+.
set -e
for i in 1 2; do
  n=nixbld$i
  dscl . delete /Users/$n dsAttrTypeNative:_writers_passwd 2>/dev/null || true
  dscl . change /Users/$n NFSHomeDirectory "/private/var/empty 1" "/var/empty" 2>/dev/null || true
  dseditgroup -o edit -t user -d $n nixbld
  dscl . change /Users/$n UniqueID $((30000 + i)) $((300 + i))
  dscl . change /Users/$n RecordName $n _$n
  dseditgroup -o edit -t user -a _$n nixbld
done
