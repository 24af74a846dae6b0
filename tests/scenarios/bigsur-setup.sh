# A pre-Big Sur layout: nixbldN users (no underscore) at uid 30001+ with
# the attributes the Big Sur migration removes.
set -e
dseditgroup -o create -i 30000 nixbld
for i in 1 2; do
  dscl . -create /Users/nixbld$i UniqueID $((30000 + i))
  dscl . -create /Users/nixbld$i PrimaryGroupID 30000
  dscl . -create /Users/nixbld$i dsAttrTypeNative:_writers_passwd nixbld$i
  dscl . -create /Users/nixbld$i NFSHomeDirectory "/private/var/empty 1"
  dseditgroup -o edit -t user -a nixbld$i nixbld
done
