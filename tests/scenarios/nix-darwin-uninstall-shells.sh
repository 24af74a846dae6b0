# nix-darwin's uninstaller: users whose shell lives under /run get /bin/zsh.
for u in $(dscl . -list /Users UserShell | grep "\s/run/" | awk '{print $1}'); do dscl . -create /Users/$u UserShell /bin/zsh; done
