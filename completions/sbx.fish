complete -c sbx -l uid -d 'The uid that the caller\'s uid appears as inside (overrides --map-root and --map-current)' -r
complete -c sbx -l gid -d 'The gid that the caller\'s gid appears as inside (overrides --map-root and --map-current)' -r
complete -c sbx -l hostname -d 'The hostname inside the sandbox\'s new UTS namespace [default: sbx]' -r
complete -c sbx -l chdir -d 'Working directory of the command inside (default: the current directory, else /)' -r -F
complete -c sbx -l setenv -d 'Set NAME to VALUE in the command\'s environment (applied in command-line order)' -r
complete -c sbx -l unsetenv -d 'Remove NAME from the command\'s environment (applied in command-line order)' -r
complete -c sbx -l cap-add -d 'Keep capability CAP (CAP_NET_RAW, net_raw or ALL); every other one is dropped, the bounding set included. Repeatable' -r
complete -c sbx -l json-status-fd -d 'Write JSON lines with the sandbox\'s status to FD: {"child-pid": N, "<ns>-namespace": INODE, ...} when the command starts, then {"exit-code": N} when it ends (bwrap\'s keys)' -r
complete -c sbx -s r -l map-root -d 'Map the caller\'s uid and gid to 0 (root) inside the sandbox'
complete -c sbx -l map-current -d 'Map the caller\'s uid and gid to themselves inside the sandbox (the default)'
complete -c sbx -l share-net -d 'Keep the host\'s network namespace (the sandbox sees the host\'s interfaces)'
complete -c sbx -l share-ipc -d 'Keep the host\'s IPC namespace (System V IPC and POSIX message queues)'
complete -c sbx -l share-uts -d 'Keep the host\'s UTS namespace (hostname and domain name); --hostname is then refused'
complete -c sbx -l share-pid -d 'Keep the host\'s PID namespace: the sandbox sees the host\'s processes'
complete -c sbx -l share-cgroup -d 'Keep the host\'s cgroup namespace'
complete -c sbx -l unshare-time -d 'Also create a new time namespace (CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets)'
complete -c sbx -l clearenv -d 'Start the command with an empty environment (--setenv still applies)'
complete -c sbx -l as-pid-1 -d 'Run the command itself as PID 1 of the new PID namespace, without sbx\'s init. The command then has to reap zombies and handle signals itself'
complete -c sbx -l new-session -d 'Call setsid() before executing the command, detaching it from the controlling terminal (which also blocks TIOCSTI input injection into it)'
complete -c sbx -s v -l verbose -d 'Print each setup step on standard error'
complete -c sbx -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sbx -s V -l version -d 'Print version'
