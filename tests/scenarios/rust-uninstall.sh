# The Rust installers' uninstall: delete the users (a second delete is
# "already deleted", exit 185), then the group.
set -e
for i in 1 2 3; do dscl . -delete /Users/_nixbld$i; done
rc=0; err=$(dscl . -delete /Users/_nixbld1 2>&1) || rc=$?
echo "second delete: $rc $err"
members=$(dscl . -read /Groups/nixbld GroupMembership 2>&1) || true
echo "members left: $members"
dscl . -delete /Groups/nixbld
