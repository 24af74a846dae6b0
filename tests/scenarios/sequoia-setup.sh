# A pre-Sequoia layout: the gid 350 group with users at uid 301+.
set -e
dseditgroup -o create -r "Nix build group for nix-daemon" -i 350 nixbld
for i in 1 2 3; do
  dscl . -create /Users/_nixbld$i UniqueID $((300 + i))
  dscl . -create /Users/_nixbld$i PrimaryGroupID 350
  dseditgroup -o edit -t user -a _nixbld$i nixbld
done
