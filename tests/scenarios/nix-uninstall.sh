# The `nix` installer docs' uninstall step for the build users and group.
set -e
dscl . -delete /Groups/nixbld
for u in $(dscl . -list /Users | grep _nixbld); do dscl . -delete /Users/$u; done
