# The stock macOS records a fresh Darling prefix lacks (it has only root)
# and that clients read: nix-darwin's ensurePerms probe needs `nobody` with
# a home. Made with our tools, the way a prefix setup would.
set -e
dseditgroup -o create -r "Unprivileged Users" -i -2 nobody
dseditgroup -o create -r "Unprivileged Users" -i -1 nogroup
dseditgroup -o create -r "System Services" -i 1 daemon
dseditgroup -o create -r "Staff" -i 20 staff
dseditgroup -o create -r "Administrators" -i 80 admin
for u in "nobody -2 Unprivileged User" "daemon 1 System Services"; do
  set -- $u; name=$1; id=$2; shift 2
  dscl . -create /Users/$name UniqueID $id
  dscl . -create /Users/$name PrimaryGroupID $id
  dscl . -create /Users/$name NFSHomeDirectory /var/empty
  dscl . -create /Users/$name UserShell /usr/bin/false
  dscl . -create /Users/$name RealName "$*"
done
