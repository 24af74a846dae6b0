# diskutil as the installers call it, in order: the shell installer's
# ownership query, then the Rust installer's volume lifecycle (plan, create
# with -nomount, poll, mount by UUID at /nix, enableOwnership, uninstall).
# Prints the values the installers extract.
set -e
key() { # key NAME: the value after <key>NAME</key> in a plist on stdin
  awk -v k="<key>$1</key>" 'f { gsub(/^[ \t]*<[a-z]+>|<\/[a-z]+>$/, ""); sub(/^[ \t]*</, "<"); print; exit } index($0, k) { f = 1 }'
}
echo "root GlobalPermissionsEnabled: $(diskutil info -plist / | key GlobalPermissionsEnabled)"
disk=$(diskutil info -plist / | key ParentWholeDisk)
echo "root ParentWholeDisk: $disk"
rc=0; diskutil info -plist "Nix Store" > /dev/null || rc=$?
echo "Nix Store before: $rc"
dev=$(diskutil apfs addVolume "$disk" APFS "Nix Store" -nomount | awk '/Created new APFS Volume/ {print $5}')
echo "created: $dev"
uuid=$(diskutil info -plist "Nix Store" | key VolumeUUID)
diskutil mount -mountPoint /nix "$uuid"
echo "mounted at: $(diskutil info -plist /nix | key MountPoint)"
echo "ownership before: $(diskutil info -plist /nix | key GlobalPermissionsEnabled)"
diskutil enableOwnership /nix
echo "ownership after: $(diskutil info -plist /nix | key GlobalPermissionsEnabled)"
diskutil unmount force "Nix Store"
diskutil apfs deleteVolume "Nix Store" > /dev/null
rc=0; diskutil info -plist "Nix Store" > /dev/null || rc=$?
echo "Nix Store after: $rc"
