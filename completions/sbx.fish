complete -c sbx -l uid -d 'The uid that the caller\'s uid appears as inside (overrides --map-root and --map-current)' -r
complete -c sbx -l gid -d 'The gid that the caller\'s gid appears as inside (overrides --map-root and --map-current)' -r
complete -c sbx -l hostname -d 'The hostname inside the sandbox\'s new UTS namespace [default: sbx]' -r
complete -c sbx -l chdir -d 'Working directory of the command inside (default: the current directory, else /)' -r -F
complete -c sbx -l setenv -d 'Set NAME to VALUE in the command\'s environment (applied in command-line order)' -r
complete -c sbx -l unsetenv -d 'Remove NAME from the command\'s environment (applied in command-line order)' -r
complete -c sbx -l cap-add -d 'Keep capability CAP (CAP_NET_RAW, net_raw or ALL); every other one is dropped, the bounding set included. Repeatable' -r
complete -c sbx -l json-status-fd -d 'Write JSON lines with the sandbox\'s status to FD: {"child-pid": N, "<ns>-namespace": INODE, ...} when the command starts, then {"exit-code": N} when it ends (bwrap\'s keys)' -r
complete -c sbx -l bind -d 'Bind-mount SRC (from the host) on DEST, read-write, recursively, nosuid and nodev' -r -F
complete -c sbx -l bind-try -d 'Like --bind, but a missing SRC is skipped' -r -F
complete -c sbx -l ro-bind -d 'Bind-mount SRC on DEST read-only, in every submount too' -r -F
complete -c sbx -l ro-bind-try -d 'Like --ro-bind, but a missing SRC is skipped' -r -F
complete -c sbx -l dev-bind -d 'Bind-mount SRC on DEST read-write with device nodes usable (no nodev)' -r -F
complete -c sbx -l dev-bind-try -d 'Like --dev-bind, but a missing SRC is skipped' -r -F
complete -c sbx -l tmpfs -d 'Mount a new tmpfs on DEST (see --size and --perms)' -r -F
complete -c sbx -l size -d 'The size limit of the next --tmpfs, in bytes (suffixes k, m, g allowed)' -r
complete -c sbx -l perms -d 'The octal permissions of the next --tmpfs or --dir (default 0755)' -r
complete -c sbx -l dir -d 'Create the directory DEST (and its parents)' -r -F
complete -c sbx -l symlink -d 'Create a symbolic link DEST pointing to TARGET' -r -F
complete -c sbx -l remount-ro -d 'Make the mount at DEST read-only, with all its submounts' -r -F
complete -c sbx -l proc -d 'Mount a fresh procfs for the sandbox\'s PID namespace on DEST; /proc/sys, /proc/sysrq-trigger, /proc/irq and /proc/bus are read-only' -r -F
complete -c sbx -l dev -d 'Mount a minimal /dev on DEST: null, zero, full, random, urandom and tty from the host, the stdin, stdout, stderr, fd and core links, ptmx on a new devpts instance, shm as tmpfs' -r -F
complete -c sbx -l mqueue -d 'Mount a POSIX message queue filesystem on DEST (needs the sandbox\'s own IPC namespace)' -r -F
complete -c sbx -l overlay-src -d 'Add SRC as a lower layer of the next overlay (later ones are higher)' -r -F
complete -c sbx -l tmp-overlay -d 'Mount an overlay of the --overlay-src layers on DEST, with writes going to an invisible tmpfs that disappears with the sandbox' -r -F
complete -c sbx -l overlay -d 'Mount an overlay of the --overlay-src layers on DEST, with writes going to RWSRC (WORKDIR is overlayfs\' empty work directory on the same filesystem)' -r -F
complete -c sbx -l mask -d 'Put an empty, unreadable mount over PATH (skipped when PATH does not exist inside)' -r -F
complete -c sbx -l root -d 'Start the view from the root tree DIR (e.g. a debootstrap\'d system) instead of an empty tmpfs; without other filesystem options, /dev, /proc and /tmp are mounted where DIR has them' -r -F
complete -c sbx -l propagation -d 'Mount propagation of the sandbox\'s tree, as unshare(1) means it. The default, private, keeps every mount made inside from reaching the host' -r -f -a "private\t'Nothing propagates in either direction'
slave\t'Mounts from the host propagate in; nothing propagates out'
shared\t'Mounts from the host propagate in, and mounts inside propagate between the sandbox\'s own peers (nested mount namespaces); the host\'s tree is detached, so none reaches it'
unchanged\t'Keep what the new mount namespace inherited (rootless, the kernel has already made the host\'s shared mounts slaves; real root needs slave, as pivot_root refuses shared mounts)'"
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
